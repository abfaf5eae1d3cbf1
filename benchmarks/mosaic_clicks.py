"""Clicks on a large mosaic: the click model with focus windows against one downsample of the
whole canvas, on the same cells (issue #20, item 1).

    python benchmarks/mosaic_clicks.py [--md docs/benchmarks/mosaic_clicks.md]

A 512 x 512 synthetic cell image (``make_synthetic_cells``, 60 cells, seed 3, ~28 px cells) is
tiled to 512, 1024, 2048 and 4096 px a side; 20 cells of the centre tile (area > 200 px, seeded
sample) get one robot click each (the deepest point of the cell, ``eval.clicker.first_click``)
and then 2 more (the benchmark robot, rule largest_region). Reported: mean IoU after 1 and 3
clicks with 95 % bootstrap intervals, ms of the first click (window encoding included) and the
median ms of later clicks, for the shipped predictor with ``focus_above=1024`` (focus windows on
slices above 1024 px) and as shipped (the whole canvas downsampled to 512), in the same run, one
torch thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.interactive.predictor import ClickPredictor
from napari_ifss.eval.clicker import Clicker
from napari_ifss.eval.metrics import iou
from napari_ifss.eval.paired import mean_interval
from napari_ifss.eval.report import emit, script_header

SIZES = (1, 2, 4, 8)


def run_size(pred: ClickPredictor, image: np.ndarray, labels: np.ndarray, reps: int,
             ids: list[int], clicks: int = 3) -> dict:
    big = np.tile(image, (reps, reps))
    off = (reps // 2) * image.shape[0]
    pred.set_image(big)
    iou1, iou3, first_ms, later_ms = [], [], [], []
    for i in ids:
        gt = np.zeros(big.shape, bool)
        gt[off:off + image.shape[0], off:off + image.shape[1]] = labels == i
        robot, prob, pred_mask, ious = Clicker(gt), None, np.zeros_like(gt), []
        for k in range(clicks):
            click = robot.click(pred_mask)
            if click is None:
                ious.append(ious[-1])
                continue
            t0 = time.perf_counter()
            prob = pred.predict(list(robot.clicks), prob)
            (first_ms if k == 0 else later_ms).append(1000 * (time.perf_counter() - t0))
            pred_mask = prob > 0.5
            ious.append(iou(pred_mask, gt))
        iou1.append(ious[0])
        iou3.append(ious[-1])
    return {"side": big.shape[0], "iou1": float(np.mean(iou1)), "iou1_ci": mean_interval(iou1, 2000),
            "iou3": float(np.mean(iou3)), "iou3_ci": mean_interval(iou3, 2000),
            "first_ms": float(np.median(first_ms)),
            "later_ms": float(np.median(later_ms)) if later_ms else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--md", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    image, labels = make_synthetic_cells((512, 512), n_cells=60, seed=3)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    ids = [int(i) for i in np.random.default_rng(0).choice(ids[counts > 200], 20, replace=False)]
    diameter = 2 * np.sqrt(np.median(counts[np.isin(np.unique(labels[labels > 0]), ids)]) / np.pi)
    models = {"focus windows (focus_above=1024)":
              ClickPredictor.default(device="cpu", focus_above=1024),
              "whole canvas downsampled (default)": ClickPredictor.default(device="cpu")}
    t0 = time.perf_counter()
    rows = []
    for reps in SIZES:
        for name, pred in models.items():
            r = run_size(pred, image, labels, reps, ids)
            rows.append((name, r))
            print(name, r, flush=True)
    lines = script_header("Clicks on a large mosaic (issue #20, item 1)",
                          "python benchmarks/mosaic_clicks.py --md docs/benchmarks/mosaic_clicks.md",
                          time.perf_counter() - t0) + [
        f"The same 20 cells (median equivalent diameter {diameter:.0f} px) in the centre tile of a "
        "512 x 512 synthetic cell image tiled to each size; robot clicks (first: the cell's "
        "deepest point; then the largest error region); IoU with 95 % bootstrap intervals over "
        "the cells. ms: the first click (its window encoded) and the median of the later ones.",
        "", "| canvas | predictor | IoU@1 | IoU@3 | first click ms | later clicks ms |",
        "|---|---|---|---|---|---|"]
    for name, r in rows:
        lo1, hi1 = r["iou1_ci"]
        lo3, hi3 = r["iou3_ci"]
        lines.append(f"| {r['side']} | {name} | {r['iou1']:.3f} [{lo1:.3f}, {hi1:.3f}] | "
                     f"{r['iou3']:.3f} [{lo3:.3f}, {hi3:.3f}] | {r['first_ms']:.0f} | "
                     f"{r['later_ms']:.0f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
