"""Quality badges on 3D movies ``(T, Z, Y, X)``: does the JFS score of a propagated plane
follow its true Dice, for runs through z and through time? (issue #20, items 4 and 9)

    python benchmarks/movie_badges.py [--md docs/benchmarks/movie_badges.md]

The movies of ``benchmarks/movie_tracking.py`` (synthetic cells drifting ``--drift`` px per
time point; nothing here was trained on them, but the few-shot head's training pool holds
other seeds of the same cell generator, so this is not a held-out score). Per cell: its
largest z plane drawn on the middle time point; ``along="z"`` fills that time point, whose
planes are scored (:mod:`napari_ifss.core.quality.quality_movie`, against the drawn plane);
then ``along="t"`` follows the 3D object through time, and those planes are scored against
the planes of the middle time point. Reported per direction, over the scored planes that hold
the cell: Spearman of score and Dice (pooled), AUROC of flagging Dice < 0.5, the badges, and
the share of planes with Dice >= 0.9 badged "review". One torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from movie_tracking import N_MOVIES, T, movie

import napari_ifss as ifss
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.planes import PlaneStack
from napari_ifss.core.provenance import record_states, user_labels
from napari_ifss.core.quality.quality_movie import plan_movie, score_movie
from napari_ifss.eval.metrics import dice
from napari_ifss.eval.quality_bench import auroc_flag, spearman
from napari_ifss.eval.report import benchmark_parser, emit, script_header


def scored(images: np.ndarray, before: np.ndarray, after: np.ndarray, along: str,
           truth: np.ndarray, seg: FewShotSegmenter) -> list[tuple[float, str, float]]:
    """``(score, badge, true Dice)`` of each plane the run ``before -> after`` filled."""
    planes, old = PlaneStack(after), PlaneStack(before)
    filled = [p for p in range(len(planes)) if not np.array_equal(planes[p], old[p])]
    user, _ = user_labels(record_states({}, planes, filled), planes)
    plan = plan_movie(images, after, user, along, [1])
    gt = PlaneStack(truth)
    return [(e.score.score, e.score.badge, dice(planes[e.z] == 1, gt[e.z]))
            for e in score_movie(images, after, user, plan, seg) if e.score.badge != "empty"]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--drift", type=int, default=3, help="px per time point along x")
    parser.add_argument("--per-movie", type=int, default=3, help="cells per movie")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seg = FewShotSegmenter.default(device="cpu")
    t0 = time.perf_counter()
    mid = T // 2
    rows: dict[str, list[tuple[float, str, float]]] = {"z": [], "t": []}
    cells = 0
    for i in range(N_MOVIES):
        images, truth = movie(i, args.drift)
        sizes = np.bincount(truth[mid].ravel())[1:]
        for cell in (np.argsort(sizes)[::-1][:args.per_movie] + 1):
            gt = truth == cell
            z0 = int(np.argmax(gt[mid].sum(axis=(1, 2))))
            drawn = np.zeros(truth.shape, np.uint8)
            drawn[mid, z0][gt[mid, z0]] = 1
            within = ifss.propagate(images, drawn, along="z")
            rows["z"] += scored(images, drawn, within, "z", gt, seg)
            through = ifss.propagate(images, within, along="t")
            rows["t"] += scored(images, within, through, "t", gt, seg)
            cells += 1
        print(i, {k: len(v) for k, v in rows.items()}, flush=True)
    lines = script_header("Quality badges on 3D movies (issue #20)",
                          "python benchmarks/movie_badges.py --md "
                          "docs/benchmarks/movie_badges.md", time.perf_counter() - t0) + [
        f"{cells} cells of {N_MOVIES} synthetic movies ({T} time points, drift "
        f"{args.drift} px per time point; see the script's docstring). Per scored plane "
        "holding the cell: JFS score against true Dice.", "",
        "| run | planes | Spearman | AUROC (Dice < 0.5) | good / check / review | mean Dice "
        "| Dice >= 0.9 badged review |", "|---|---|---|---|---|---|---|"]
    for along, v in rows.items():
        s, b, d = [r[0] for r in v], [r[1] for r in v], np.array([r[2] for r in v])
        counts = " / ".join(str(b.count(x)) for x in ("good", "check", "review"))
        high = [bb for bb, dd in zip(b, d, strict=True) if dd >= 0.9]
        share = f"{sum(x == 'review' for x in high)} of {len(high)}"
        lines.append(f"| along {along} | {len(v)} | {spearman(s, list(d)):.3f} | "
                     f"{auroc_flag(s, list(d)):.3f} | {counts} | {d.mean():.3f} | {share} |")
    lines += ["", "Along z the evidence is the one drawn plane; along t, every plane of the "
              "middle time point (filled through z first). AUROC is NaN when no plane has "
              "Dice < 0.5."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
