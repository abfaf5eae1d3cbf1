"""Clicks on large images: the click model's self-sizing focus windows (the default) against
one downsample of the whole canvas, on the same objects (issue #20, item 1).

    python benchmarks/mosaic_clicks.py [--md docs/benchmarks/mosaic_clicks.md]

Small objects: a 512 x 512 synthetic cell image (``make_synthetic_cells``, 30 cells, seed 11,
pixel size ``--cell-spacing`` um, ~40 px cells at 0.35) tiled to 512, 1024, 2048 and 4096 px a
side; 20 cells of the centre tile get one robot click each (the deepest point of the cell,
``eval.clicker.first_click``) and then 2 more (the benchmark robot, rule largest_region).
The window rule was chosen on other images (seeds 3 and 7, disk slices 0, 5, 20, 35, 40, 50,
65, 80, 95); this table's are not those.
Large objects, the same run: those cells magnified 4x (2048 px canvas) and 8x (4096 px), and
the large-volume benchmark's disk (~300-540 px across on 1448 px slices, 6 slices). Reported:
mean IoU after 1 and 3 clicks with 95 % bootstrap intervals, the first click's ms (its windows
encoded and compared) and the median ms of later clicks, one torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.interactive.predictor import ClickPredictor
from napari_ifss.eval.interactive_protocol import ObjectResult, run_object
from napari_ifss.eval.large_volume_bench import image_slice, tube_mask
from napari_ifss.eval.objects import EvalObject
from napari_ifss.eval.paired import interval_text
from napari_ifss.eval.report import benchmark_parser, emit, script_header

SIZES = (1, 2, 4, 8)


def click_objects(pred: ClickPredictor, image: np.ndarray, masks) -> list[ObjectResult]:
    """The benchmark robot (:func:`run_object`, rule largest_region) makes 3 clicks on each
    ground-truth mask of ``masks`` (an iterable of ``(H, W)`` bool) on ``image``."""
    return [run_object(pred, EvalObject.of_mask(image, gt), max_clicks=3, stop_iou=None)
            for gt in masks]


def summary(results: list[ObjectResult], side: int) -> dict:
    """IoU after 1 and 3 clicks (means, 95 % intervals), first / median later click ms."""
    iou1, iou3 = [r.ious[0] for r in results], [r.ious[-1] for r in results]
    later = [1000 * t for r in results for t in r.predict_s[1:]]
    return {"side": side, "n": len(results), "iou1": float(np.mean(iou1)),
            "iou1_text": interval_text(iou1), "iou3": float(np.mean(iou3)),
            "iou3_text": interval_text(iou3),
            "first_ms": float(np.median([1000 * r.predict_s[0] for r in results])),
            "later_ms": float(np.median(later)) if later else float("nan")}


def mosaic(image: np.ndarray, labels: np.ndarray, ids: list[int], reps: int):
    """``image`` tiled ``reps`` x ``reps`` and the masks of ``ids`` in its centre tile."""
    big = np.tile(image, (reps, reps))
    off, n = (reps // 2) * image.shape[0], image.shape[0]

    def masks():
        for i in ids:
            gt = np.zeros(big.shape, bool)
            gt[off:off + n, off:off + n] = labels == i
            yield gt
    return big, masks()


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--cell-spacing", type=float, default=0.35,
                        help="pixel size in um of the cell image (0.35: ~40 px cells)")
    parser.add_argument("--seed", type=int, default=11, help="cell image seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    image, labels = make_synthetic_cells((512, 512), n_cells=30, seed=args.seed,
                                         spacing=(args.cell_spacing, args.cell_spacing))
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    ids = [int(i) for i in np.random.default_rng(0).choice(ids[counts > 200], 20, replace=False)]
    diameter = 2 * np.sqrt(np.median(counts[np.isin(np.unique(labels[labels > 0]), ids)]) / np.pi)
    models = {"focus windows, self-sizing (default)": ClickPredictor.default(device="cpu"),
              "whole canvas downsampled (focus_above=None)":
                  ClickPredictor.default(device="cpu", focus_above=None)}
    t0 = time.perf_counter()
    rows = []
    for reps in SIZES:
        for name, pred in models.items():
            big, masks = mosaic(image, labels, ids, reps)
            rows.append((f"{diameter:.0f} px cells", name,
                         summary(click_objects(pred, big, masks), big.shape[0])))
            print(rows[-1], flush=True)
    for f in (4, 8):
        up, lab = (np.kron(a, np.ones((f, f), a.dtype)) for a in (image, labels))
        for name, pred in models.items():
            results = click_objects(pred, up, (lab == i for i in ids[:8]))
            rows.append((f"cells x{f} ({f * diameter:.0f} px)", name,
                         summary(results, up.shape[0])))
            print(rows[-1], flush=True)
    side, depth = 1448, 100
    for name, pred in models.items():
        results = [r for z in (12, 28, 44, 58, 72, 88)
                   for r in click_objects(pred, image_slice(z, depth, side),
                                          [tube_mask(z, depth, side)])]
        rows.append(("disk 300-540 px", name, summary(results, side)))
        print(rows[-1], flush=True)
    lines = script_header(
        "Clicks on large images (issue #20, item 1)",
        "python benchmarks/mosaic_clicks.py --md docs/benchmarks/mosaic_clicks.md",
        time.perf_counter() - t0) + [
        f"Small objects: 20 cells (median equivalent diameter {diameter:.0f} px) in the centre "
        "tile of a 512 x 512 synthetic cell image tiled to each canvas size. Large objects: 8 of "
        "those cells magnified 4x and 8x, and a bright disk on a textured background (6 slices "
        "of the large-volume benchmark). Robot clicks (first: the object's deepest point; then "
        "the largest error region); IoU with 95 % bootstrap intervals over the objects. ms: the "
        "first click (its candidate windows encoded and compared) and the median of later ones.",
        "", "| objects | canvas | predictor | n | IoU@1 | IoU@3 | first click ms | later clicks ms |",
        "|---|---|---|---|---|---|---|---|"]
    for what, name, r in rows:
        lines.append(f"| {what} | {r['side']} | {name} | {r['n']} | {r['iou1_text']} | "
                     f"{r['iou3_text']} | {r['first_ms']:.0f} | {r['later_ms']:.0f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
