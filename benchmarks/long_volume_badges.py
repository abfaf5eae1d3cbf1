"""Quality badges on long volumes: do correct slices far from the user's slices stay out of
"review"? (issue #20, item 9)

    python benchmarks/long_volume_badges.py [--md docs/benchmarks/long_volume_badges.md]

Synthetic volumes with known truth, 3 annotated slices evenly spaced over the object
(``evenly_spaced_slices``), propagated with the default method (the per-volume learner, with
the volume's spacing), then scored over the object's range with the shipped JFS score
(``score_volume(..., in_range=True, spacing=...)``):

* ``tube``: 300 slices of 128 x 128, a bright disk whose radius swells from 15 to 26 px and
  back (``eval.large_volume_bench`` geometry) on a textured, noisy background;
* ``tube, thick slices``: the same object sampled every 3rd slice (100 slices, spacing 3, 1, 1);
* ``drifting cell``: 300 slices, a 24 px ellipse that drifts 40 px sideways and turns.

Reported per volume: slices with true Dice >= 0.9 and the share of those badged "review",
mean Dice, and, from the same run's back-predictions, what the score before issue #20 gave
(distance counted in slices with scale 3, badges review < 0.10 and good >= 0.20): the number
a user saw then. One torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from napari_ifss.core.fewshot.propagation import propagate
from napari_ifss.core.fewshot.support import evenly_spaced_slices, object_slices
from napari_ifss.core.quality.quality import (
    GOOD_THRESHOLD,
    REVIEW_THRESHOLD,
    QualityScore,
)
from napari_ifss.core.quality.quality_volume import score_volume
from napari_ifss.eval.large_volume_bench import tube_radius
from napari_ifss.eval.metrics import dice
from napari_ifss.eval.quality_bench import SLICES_SCALE, score_with_distance
from napari_ifss.eval.report import benchmark_parser, emit, script_header

OLD_REVIEW, OLD_GOOD = 0.10, 0.20  # the badges before issue #20
OLD_DISTANCE_SCALE = SLICES_SCALE
SIDE = 128


def _textured(mask: np.ndarray, z: int) -> np.ndarray:
    """A uint16 slice: the object bright on a textured background with noise."""
    rng = np.random.default_rng(z)
    rr, cc = np.ogrid[0:SIDE, 0:SIDE]
    texture = 300 * np.sin(rr / 23.0 + z / 7.0) * np.cos(cc / 31.0)
    img = 1000 + texture + 1500 * mask + rng.normal(0, 150, (SIDE, SIDE))
    return np.clip(img, 0, 65535).astype(np.uint16)


def tube(depth: int = 300, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)`` ``(depth // step, SIDE, SIDE)``: every ``step``-th slice of the
    ``depth``-slice tube."""
    rr, cc = np.ogrid[0:SIDE, 0:SIDE]
    zs = range(0, depth, step)
    masks = [np.hypot(rr - SIDE / 2, cc - SIDE / 2) < tube_radius(z, depth, SIDE) for z in zs]
    image = np.stack([_textured(m, z) for z, m in zip(zs, masks, strict=True)])
    return image, np.stack(masks).astype(np.int32)


def drifting_cell(depth: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)``: an ellipse (semi-axes 12 and 8 px) drifting 40 px and turning."""
    rr, cc = np.mgrid[0:SIDE, 0:SIDE].astype(float)
    masks = []
    for z in range(depth):
        t = z / (depth - 1)
        r0, c0, angle = SIDE / 2 + 10 * np.sin(2 * np.pi * t), 44 + 40 * t, np.pi * t
        dr, dc = rr - r0, cc - c0
        u = dr * np.cos(angle) + dc * np.sin(angle)
        v = -dr * np.sin(angle) + dc * np.cos(angle)
        masks.append((u / 12.0) ** 2 + (v / 8.0) ** 2 < 1.0)
    image = np.stack([_textured(m, z) for z, m in enumerate(masks)])
    return image, np.stack(masks).astype(np.int32)


def old_score(s: QualityScore) -> float:
    """The score before issue #20 from the same back-prediction: distance in slices."""
    if s.distance is None or not s.evidence:
        return float(s.score)
    return score_with_distance(s.back_iou, s.size_ratio, s.distance, OLD_DISTANCE_SCALE)


def run_volume(name: str, image: np.ndarray, gt: np.ndarray,
               spacing: tuple[float, float, float]) -> dict:
    """Propagate from 3 evenly spaced slices, score the range, compare badges with truth."""
    present = object_slices(gt)
    support = evenly_spaced_slices(present, 3)
    labels = np.zeros_like(gt)
    labels[support] = gt[support]
    out = labels.copy()
    t0 = time.perf_counter()
    for _ in propagate(image, labels, 1, out=out, spacing=spacing):
        pass
    t_prop = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = {e.z: e.score for e in score_volume(image, out, labels, 1, in_range=True,
                                                  spacing=spacing)}
    t_score = time.perf_counter() - t0
    dices = {z: dice(out[z] == 1, gt[z] == 1) for z in scores}
    good = [z for z in scores if dices[z] >= 0.9]
    new_review = [z for z in good if scores[z].badge in ("review", "empty")]
    old_review = [z for z in good if old_score(scores[z]) < OLD_REVIEW]
    return {"volume": name, "slices": int(gt.shape[0]), "spacing": spacing, "support": support,
            "scored": len(scores), "mean_dice": float(np.mean(list(dices.values()))),
            "dice_ge_0.9": len(good),
            "review_share": len(new_review) / max(len(good), 1),
            "good_share": float(np.mean([scores[z].badge == "good" for z in good])) if good
            else float("nan"),
            "old_review_share": len(old_review) / max(len(good), 1),
            "old_good_share": float(np.mean([old_score(scores[z]) >= OLD_GOOD for z in good]))
            if good else float("nan"),
            "widths_max": max((s.widths or 0.0) for s in scores.values()),
            "propagation_s": t_prop, "scoring_s": t_score}


def main() -> None:
    parser = benchmark_parser(__doc__)
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cases = [("tube", *tube(), (1.0, 1.0, 1.0)),
             ("tube, thick slices", *tube(step=3), (3.0, 1.0, 1.0)),
             ("drifting cell", *drifting_cell(), (1.0, 1.0, 1.0))]
    rows = []
    for name, image, gt, spacing in cases:
        rows.append(run_volume(name, image, gt, spacing))
        print(rows[-1], flush=True)
    lines = script_header("Quality badges on long volumes (issue #20, item 9)",
                          "python benchmarks/long_volume_badges.py --md "
                          "docs/benchmarks/long_volume_badges.md", time.perf_counter() - t0) + [
        "3 annotated slices evenly spaced over the object; propagation: the default learner with "
        "the volume's spacing; every slice of the object's range scored (JFS, shipped model). "
        f"Badges now: review < {REVIEW_THRESHOLD:.2f}, good >= {GOOD_THRESHOLD:.2f}, distance "
        "in object widths. *Before #20*: the same back-predictions scored with the distance in "
        f"slices (scale {OLD_DISTANCE_SCALE:g}), review < {OLD_REVIEW:.2f}, good >= "
        f"{OLD_GOOD:.2f}. Target: at most 20 % of the slices with Dice >= 0.9 badged review.",
        "", "| volume | slices | spacing (z, y, x) | support z | mean Dice | slices Dice >= 0.9 "
        "| review among them | good among them | review before #20 | good before #20 "
        "| farthest (object widths) | propagation s | scoring s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['volume']} | {r['slices']} | {', '.join(f'{s:g}' for s in r['spacing'])} | "
            f"{' '.join(map(str, r['support']))} | {r['mean_dice']:.3f} | {r['dice_ge_0.9']} | "
            f"{r['review_share']:.0%} | {r['good_share']:.0%} | {r['old_review_share']:.0%} | "
            f"{r['old_good_share']:.0%} | {r['widths_max']:.2f} | {r['propagation_s']:.0f} | "
            f"{r['scoring_s']:.0f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
