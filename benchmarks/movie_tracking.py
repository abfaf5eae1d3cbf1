"""Following cells through a 3D movie ``(T, Z, Y, X)``: ``ifss.propagate(..., along="t")``
from one annotated time point against copying that time point's labels to the others
(issue #20, item 4).

    python benchmarks/movie_tracking.py [--md docs/benchmarks/movie_tracking.md]

Each movie is ``T = 8`` time points of one synthetic ``(12, 96, 96)`` cell volume
(``make_synthetic_cells``, seed ``70 + i``; the learner is fitted per cell on the movie
itself) whose cells drift ``--drift`` px per time point along x (np.roll) with fresh camera
noise per frame. A cell's labels are drawn in 3D on the middle time point (every z plane it
covers, from the truth); ``along="t"`` fills the other time points, plane by plane. Reported:
mean IoU over the other time points (3D, per cell), with 95 % bootstrap intervals; the
paired difference to *copy* (the annotated time point's labels repeated, what a user gets
without tracking); IoU at the farthest time point; seconds per cell. One torch thread.
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

N_MOVIES, T, SHAPE = 3, 8, (12, 96, 96)


def movie(i: int, drift: int) -> tuple[np.ndarray, np.ndarray]:
    """``(movie uint16 (T, Z, Y, X), labels int (T, Z, Y, X))`` of movie ``i``."""
    vol, truth = make_synthetic_cells(SHAPE, n_cells=10, seed=70 + i)
    rng = np.random.default_rng(i)
    frames = [np.clip(np.roll(vol, drift * t, axis=2).astype(np.float32)
                      + rng.normal(0, 20, SHAPE), 0, 65535).astype(np.uint16) for t in range(T)]
    return np.stack(frames), np.stack([np.roll(truth, drift * t, axis=2) for t in range(T)])


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--drift", type=int, default=3, help="px per time point along x")
    parser.add_argument("--per-movie", type=int, default=5, help="cells per movie")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    mid = T // 2
    rows: dict[str, list[tuple[float, float, float]]] = {"along t": [], "copy": []}
    for i in range(N_MOVIES):
        images, truth = movie(i, args.drift)
        sizes = np.bincount(truth[mid].ravel())[1:]
        for cell in (np.argsort(sizes)[::-1][:args.per_movie] + 1):
            gt = truth == cell
            labels = np.zeros(truth.shape, np.uint8)
            labels[mid][gt[mid]] = 1
            others = [t for t in range(T) if t != mid]
            far = max(others, key=lambda t: abs(t - mid))
            start = time.perf_counter()
            tracked = ifss.propagate(images, labels, along="t")
            secs = time.perf_counter() - start
            copied = np.broadcast_to(labels[mid], labels.shape)
            for name, result, s in (("along t", tracked, secs), ("copy", copied, 0.0)):
                per = [iou(result[t] == 1, gt[t]) for t in others]
                rows[name].append((float(np.mean(per)), iou(result[far] == 1, gt[far]), s))
        print(i, {n: round(float(np.mean([r[0] for r in v])), 3) for n, v in rows.items()},
              flush=True)
    lines = script_header("Following cells through a 3D movie (issue #20, item 4)",
                          "python benchmarks/movie_tracking.py --md "
                          "docs/benchmarks/movie_tracking.md", time.perf_counter() - t0) + [
        f"{N_MOVIES} synthetic movies of {T} time points x {SHAPE} (cells drifting "
        f"{args.drift} px per time point; see the script's docstring); each cell drawn in 3D "
        f"on time point {mid}, the others filled; mean IoU over the other time points with "
        "95 % bootstrap intervals.", "",
        "| method | mean IoU, other time points | - copy | IoU at the farthest time point "
        "| s per cell |", "|---|---|---|---|---|"]
    base = np.array([r[0] for r in rows["copy"]])
    for name, v in rows.items():
        a = np.array([r[0] for r in v])
        diff = "" if name == "copy" else interval_text(a - base, signed=True)
        far = np.array([r[1] for r in v])
        lines.append(f"| {name} | {interval_text(a)} | {diff} | "
                     f"{far.mean():.3f} | {np.median([r[2] for r in v]):.1f} |")
    lines += ["", f"{len(base)} cells. *copy*: the annotated time point's labels repeated on "
              "every time point (no tracking)."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
