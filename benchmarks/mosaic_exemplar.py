"""Exemplar mode ("segment all like this") on large images: tiles at the objects' own scale
(the default) against the whole slice shrunk to the network's size (issue #20, item 1).

    python benchmarks/mosaic_exemplar.py [--md docs/benchmarks/mosaic_exemplar.md]

A 512 x 512 synthetic cell image (``make_synthetic_cells``, 30 cells, ~40 px at a pixel size
of 0.35 um) of each seed in ``--seeds`` is tiled to 512, 1024, 2048 and 4096 px a side; the
exemplar is the cell of the centre tile whose area is closest to the median
(``eval.exemplar_protocol.choose_exemplar``), drawn exactly. ``segment_all_like`` finds the
others. Reported per canvas size: objects found, recall and precision over the whole canvas
(one-to-one matches at IoU >= 0.5, ``match_instances``; the exemplar itself not counted), the
matches' mean IoU, and seconds per run; one torch thread. Not held out: other seeds of the
same generator are in the few-shot head's training pool (``train/fewshot_pool.py``), so this
compares the two ways of covering a large image on in-distribution cells. Nothing was tuned on
it (the tile size is the network's long side, the halo an eighth of it, the switch at half
the free scale: fixed before this benchmark was run).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.exemplar.exemplar import (
    ExemplarSettings,
    default_exemplar_segmenter,
    segment_all_like,
)
from napari_ifss.eval.exemplar_protocol import choose_exemplar, match_instances
from napari_ifss.eval.report import benchmark_parser, emit, script_header

REPS = (1, 2, 4, 8)
MODES = {"tiles at the objects' scale (default)": ExemplarSettings(),
         "whole slice shrunk (tiles=False)": ExemplarSettings(tiles=False)}


def mosaic(image: np.ndarray, labels: np.ndarray, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` tiled ``reps`` x ``reps`` and its labels with ids unique per tile."""
    big = np.tile(image, (reps, reps))
    step = int(labels.max()) + 1
    lab = np.zeros(big.shape, np.int32)
    n = image.shape[0]
    for k in range(reps * reps):
        r, c = divmod(k, reps)
        lab[r * n:(r + 1) * n, c * n:(c + 1) * n] = np.where(labels > 0, labels + k * step, 0)
    return big, lab


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    args = parser.parse_args()
    torch.set_num_threads(1)
    seg = default_exemplar_segmenter()
    t0 = time.perf_counter()
    rows: dict[tuple[str, int], list[dict]] = {}
    for seed in args.seeds:
        image, labels = make_synthetic_cells((512, 512), n_cells=30, seed=seed,
                                             spacing=(0.35, 0.35))
        for reps in REPS:
            big, truth = mosaic(image, labels, reps)
            centre = (reps // 2) * 512
            tile = truth[centre:centre + 512, centre:centre + 512]
            ex_id = choose_exemplar(tile)
            drawn = np.where(truth == ex_id, ex_id, 0).astype(np.int32)
            others = np.where(truth == ex_id, 0, truth)
            for name, settings in MODES.items():
                t = time.perf_counter()
                res = segment_all_like(big, drawn, ex_id, segmenter=seg, settings=settings)
                secs = time.perf_counter() - t
                matches = match_instances(others, res.labels)
                n_truth = len(np.unique(others[others > 0]))
                rows.setdefault((name, reps * 512), []).append({
                    "found": res.count, "recall": len(matches) / n_truth,
                    "precision": len(matches) / max(res.count, 1),
                    "iou": float(np.mean([m[2] for m in matches])) if matches else 0.0,
                    "secs": secs, "scale": res.scale})
                print(seed, reps * 512, name, rows[name, reps * 512][-1], flush=True)
    lines = script_header("Exemplar mode on large images (issue #20, item 1)",
                          "python benchmarks/mosaic_exemplar.py --md "
                          "docs/benchmarks/mosaic_exemplar.md", time.perf_counter() - t0)
    lines += [f"Synthetic cell images of seeds {args.seeds} (~40 px cells) tiled to "
              f"{', '.join(str(512 * r) for r in REPS)} px; one exemplar on the centre tile; "
              "means over the seeds (see the script's docstring).", "",
              "| method | canvas px | working scale | found | recall | precision | "
              "IoU of matches | s per run |", "|---|---|---|---|---|---|---|---|"]
    for (name, side), rs in rows.items():
        def mean(key: str, rs: list[dict] = rs) -> float:
            return float(np.mean([r[key] for r in rs]))
        lines.append(f"| {name} | {side} | {mean('scale'):.2f} | {mean('found'):.0f} | "
                     f"{mean('recall'):.3f} | {mean('precision'):.3f} | {mean('iou'):.3f} | "
                     f"{mean('secs'):.1f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
