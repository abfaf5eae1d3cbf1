"""Propagation through two-channel stacks: the per-volume learner on both channels together
against the one channel that shows the object (issue #20, item 3).

    python benchmarks/channel_propagation.py [--md docs/benchmarks/channel_propagation.md]

Each stack is two ``(16, 128, 128)`` uint16 channels of synthetic cells
(``make_synthetic_cells``; the learner is fitted per object on the stack itself, so nothing
here was trained on): channel 0 bright with 12 cells of seed ``30 + i``, channel 1 dim (~8 %
of that, on an offset of 50) with 8 *other* cells of seed ``40 + i``. For each of up to
``--per-stack`` cells of each channel (those spanning >= 5 slices), the user's annotation is
the cell on its middle slice; ``ifss.propagate`` fills the other slices. Compared in the same
run:

* *channel alone*: the channel that shows the cell (the reference);
* *both channels (default for several)*: ``ifss.propagate([bright, dim], labels)``, each
  channel's features under its own window, side by side;
* *channel alone + a noise channel* (a control): the channel that shows the cell with a
  second channel of Gaussian noise (mean 1000, sd 200): what a second channel adds without
  any information about the cells;
* *one window as RGB*: the two channels as red and green of one ``(Z, Y, X, 3)`` stack;
* *copy*: the annotated slice copied to every slice (a floor).

Reported: mean IoU of the cell over the slices the user did not draw (the object's own
z-range and beyond: every slice but the annotated one), 95 % bootstrap intervals, the paired
difference to the channel alone, and seconds per propagation. One torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import napari_ifss as ifss
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.eval.metrics import iou
from napari_ifss.eval.paired import interval_text
from napari_ifss.eval.report import benchmark_parser, emit, script_header

N_STACKS, SHAPE = 4, (16, 128, 128)


def stack(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(bright, dim, bright cells, dim cells)`` of stack ``i``."""
    a, la = make_synthetic_cells(SHAPE, n_cells=12, seed=30 + i)
    b, lb = make_synthetic_cells(SHAPE, n_cells=8, seed=40 + i)
    return a, (b.astype(np.float32) * 0.08 + 50).astype(np.uint16), la, lb


def cells(labels: np.ndarray, n: int) -> list[tuple[np.ndarray, int]]:
    """Up to ``n`` cells spanning >= 5 slices: ``(bool (Z, Y, X) mask, middle slice)``."""
    out = []
    for k in range(1, int(labels.max()) + 1):
        zs = np.flatnonzero((labels == k).any(axis=(1, 2)))
        if len(zs) >= 5:
            out.append((labels == k, int(zs[len(zs) // 2])))
    return out[:n]


def score(result: np.ndarray, gt: np.ndarray, z: int) -> float:
    """IoU of ``result > 0`` with ``gt`` over every slice but the annotated ``z``."""
    keep = np.ones(gt.shape[0], bool)
    keep[z] = False
    return iou(result[keep] > 0, gt[keep])


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--per-stack", type=int, default=6, help="cells per channel and stack")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    methods = ("channel alone", "both channels (default for several)",
               "channel alone + a noise channel", "one window as RGB", "copy")
    res: dict[str, dict[str, list[tuple[float, float]]]] = {"dim": {}, "bright": {}}
    for i in range(N_STACKS):
        bright, dim, lab_b, lab_d = stack(i)
        rgb = np.stack([bright, dim, np.zeros_like(dim)], -1)
        noise = np.random.default_rng(i).normal(1000, 200, SHAPE).astype(np.uint16)
        for which, alone, lab in (("dim", dim, lab_d), ("bright", bright, lab_b)):
            for gt, z in cells(lab, args.per_stack):
                labels = np.zeros(SHAPE, np.uint8)
                labels[z][gt[z]] = 1
                for name in methods:
                    t = time.perf_counter()
                    if name == "copy":
                        result = np.broadcast_to(labels[z], SHAPE)
                    else:
                        image = {"channel alone": alone, "one window as RGB": rgb,
                                 "channel alone + a noise channel": [alone, noise]}.get(
                            name, [bright, dim])
                        result = ifss.propagate(image, labels)
                    res[which].setdefault(name, []).append(
                        (score(result, gt, z), time.perf_counter() - t))
        print(i, {w: {n: round(float(np.mean([v[0] for v in r])), 3) for n, r in d.items()}
                  for w, d in res.items()}, flush=True)
    lines = script_header("Propagation through two-channel stacks (issue #20, item 3)",
                          "python benchmarks/channel_propagation.py --md "
                          "docs/benchmarks/channel_propagation.md", time.perf_counter() - t0) + [
        f"{N_STACKS} synthetic two-channel stacks of {SHAPE} (see the script's docstring): "
        "cells seen only in the dim channel 1 and cells of the bright channel 0, each "
        "annotated on its middle slice and propagated by the per-volume learner (the "
        "default); IoU over every slice but the annotated one, mean with 95 % bootstrap "
        "intervals; paired differences to the channel alone.", ""]
    for which, title in (("dim", "Cells seen only in the dim channel"),
                         ("bright", "Cells of the bright channel")):
        base = np.array([v[0] for v in res[which]["channel alone"]])
        lines += [f"## {title} ({len(base)} cells)", "",
                  "| input | IoU | IoU - channel alone | s per propagation |",
                  "|---|---|---|---|"]
        for name in methods:
            a = np.array([v[0] for v in res[which][name]])
            diff = "" if name == "channel alone" else interval_text(a - base, signed=True)
            secs = float(np.median([v[1] for v in res[which][name]]))
            lines.append(f"| {name} | {interval_text(a)} | {diff} | "
                         f"{secs:.2f} |")
        lines.append("")
    lines += ["The noise control shows how much of the gain of *both channels* comes from the "
              "learner seeing a second channel's features at all (more, partly random "
              "features for its pixel classifier fitted on one slice) rather than from what "
              "the other channel shows."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
