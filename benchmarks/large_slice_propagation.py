"""Few-shot propagation through stacks of large slices: time, peak memory and IoU of the
default per-volume learner as the slices grow (issue #20, item 1). Slices longer than 1024 px
get the learner's focus box around the object (``core.fewshot.learner_segmenter``).

    python benchmarks/large_slice_propagation.py [--md docs/benchmarks/large_slice_propagation.md]

An ``(8, 512, 512)`` synthetic cell stack (``make_synthetic_cells``, 30 cells, seed 3, ~40 px
cells) tiled in y and x to 512, 1024, 2048 and 4096 px slices; one cell of the centre tile drawn on
slice 3 and propagated with ``ifss.propagate`` (the learner). Each size runs in a fresh
process (peak RSS, ``VmHWM``, is its own); one torch thread. Reported: seconds, peak MB, the
object's voxels found and their IoU with the cell over the stack.
"""

from __future__ import annotations

import time

from napari_ifss.eval.fewshot_resources import in_fresh_process, peak_rss_mb
from napari_ifss.eval.report import benchmark_parser, emit, script_header

SIDES = (512, 1024, 2048, 4096)


def _job(side: int, queue) -> None:
    import numpy as np
    import torch

    import napari_ifss as ifss
    from napari_ifss.core.data.sample import make_synthetic_cells

    torch.set_num_threads(1)
    vol, truth = make_synthetic_cells((8, 512, 512), n_cells=30, seed=3)
    reps = side // 512
    big = np.tile(vol, (1, reps, reps))
    cell = int(np.bincount(truth[3].ravel())[1:].argmax() + 1)
    labels = np.zeros(big.shape, np.uint8)
    off = (reps // 2) * 512
    labels[3, off:off + 512, off:off + 512][truth[3] == cell] = 1
    before = peak_rss_mb()
    t = time.perf_counter()
    out = ifss.propagate(big, labels, label_ids=1)
    secs, peak = time.perf_counter() - t, peak_rss_mb()
    gt = np.zeros(big.shape, bool)
    gt[:, off:off + 512, off:off + 512] = truth == cell
    queue.put({"side": side, "s": secs, "before_mb": before, "peak_mb": peak,
               "found": int((out == 1).sum()), "cell": int(gt.sum()),
               "iou": float(((out == 1) & gt).sum() / ((out == 1) | gt).sum())})


def main() -> None:
    parser = benchmark_parser(__doc__)
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    for side in SIDES:
        rows.append(in_fresh_process(_job, (side,), timeout=3600))
        print(rows[-1], flush=True)
    lines = script_header("Propagation through stacks of large slices (issue #20, item 1)",
                          "python benchmarks/large_slice_propagation.py --md "
                          "docs/benchmarks/large_slice_propagation.md", time.perf_counter() - t0)
    lines += [f"8 slices of synthetic ~40 px cells tiled to each side; one cell drawn on one "
              f"slice (it has {rows[0]['cell']} voxels); the per-volume learner (the default). "
              "Peak RSS in MB.", "",
              "| slice px | s | MB before | peak MB | voxels found | IoU with the cell |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['side']} | {r['s']:.1f} | {r['before_mb']:.0f} | "
                     f"{r['peak_mb']:.0f} | {r['found']} | {r['iou']:.3f} |")
    lines += ["", "Up to 1024 px the learner's features cover whole slices (its network "
              "features at 512 px); longer slices get a focus box around the object (its "
              "support's bounding box grown by its extent, at least 256 px, on each side), "
              "at the slice's own resolution. Before the focus box, 2048 px slices took "
              "28.7 s, 4116 MB peak, IoU 0.514 here (commit 47fd881)."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
