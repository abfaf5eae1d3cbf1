"""How the JFS distance scale was chosen (issue #20, item 9): distance in object widths
against distance in slices, on the per-slice records of a saved ``ifss bench quality`` run.

    git show 3d0dcd5~1:docs/benchmarks/quality.json > /tmp/quality_head.json
    python benchmarks/quality_distance_scale.py /tmp/quality_head.json

The records hold each slice's back-prediction IoU, distance to the nearest user slice (in
slices), area ratio and true Dice; the user's object width (equivalent diameter of its mask on
the support slices) and the voxel spacing are read from ``../shared/data``. Printed: pooled
Spearman / AUROC of ``back_iou * sqrt(size_ratio) / (1 + d / c)`` for the distance ``d`` in
slices and in object widths over a grid of scales ``c``, and a leave-one-volume-out choice of
the width scale (chosen on the other volumes by Spearman, scored on the held-out one).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from napari_ifss.core.data.datasets import default_data_dir, iter_3d
from napari_ifss.eval.fewshot_protocol import bench_objects
from napari_ifss.eval.quality_bench import auroc_flag, score_with_distance, spearman

GRID = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def records(report: dict, data: str) -> list[dict]:
    """One dict per scored slice with its distance in slices and in object widths."""
    info = {}
    for vol in iter_3d(data):
        _, labels, spacing = vol.load()
        for obj, gt in bench_objects(vol.dataset, labels):
            info[(vol.dataset, obj)] = (gt.reshape(gt.shape[0], -1).sum(1), spacing)
    out = []
    for case in report["objects"]:
        areas, (dz, dy, dx) = info[(case["dataset"], case["object"])]
        width = 2 * np.sqrt(np.mean([areas[z] for z in case["support"]]) / np.pi)
        for s in case["slices"]:
            out.append({"volume": case["dataset"], "back": s["back_iou"], "dice": s["dice"],
                        "size_ratio": s["size_ratio"], "slices": s["distance"],
                        "widths": s["distance"] * dz / (width * np.sqrt(dy * dx))})
    return out


def evaluate(recs: list[dict], key: str, scale: float) -> tuple[float, float]:
    scores = [score_with_distance(r["back"], r["size_ratio"], r[key], scale) for r in recs]
    dices = [r["dice"] for r in recs]
    return spearman(scores, dices), auroc_flag(scores, dices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a JSON report of ifss bench quality")
    parser.add_argument("--data", default=None, help="data folder (default ../shared/data)")
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as fh:
        recs = records(json.load(fh), args.data or str(default_data_dir()))
    print(f"{len(recs)} scored slices")
    for c in (1.0, 2.0, 3.0, 5.0, 10.0):
        rho, auc = evaluate(recs, "slices", c)
        print(f"distance in slices, scale {c:g}: Spearman {rho:.3f}, AUROC {auc:.3f}")
    for c in GRID:
        rho, auc = evaluate(recs, "widths", c)
        print(f"distance in object widths, scale {c:g}: Spearman {rho:.3f}, AUROC {auc:.3f}")
    held_scores, held_dice = [], []
    for vol in sorted({r["volume"] for r in recs}):
        train = [r for r in recs if r["volume"] != vol]
        test = [r for r in recs if r["volume"] == vol]
        best = max(GRID, key=lambda c: evaluate(train, "widths", c)[0])
        held_scores += [score_with_distance(r["back"], r["size_ratio"], r["widths"], best)
                        for r in test]
        held_dice += [r["dice"] for r in test]
        print(f"{vol}: scale {best:g} chosen on the other volumes")
    rho, auc = spearman(held_scores, held_dice), auroc_flag(held_scores, held_dice)
    print(f"leave one volume out, pooled: Spearman {rho:.3f}, AUROC {auc:.3f}")


if __name__ == "__main__":
    main()
