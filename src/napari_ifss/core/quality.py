"""JFS quality scores ("Judging From Support-set", Moon, Kong, Khan) and mask arbitration.

The few-shot model is run in reverse: a result slice (image + predicted mask) becomes the
*support*, and every slice the user annotated becomes a *query*. The IoU of each
back-prediction (probability > 0.5) against the user's own mask is the evidence
(``back_iou``): the mean of those IoUs weighted ``1 / (1 + |dz|)`` by the z distance between
the result slice and each user slice (uniform when positions are unknown). IoU, not Dice, as
in the paper and DESIGN.md. A result that is good segments the user's slices the way the user
did.

Two more factors turn the evidence into the score
``back_iou * distance_factor(d) * size_factor(size_ratio)``:

* Evidence fades with distance: ``1 / (1 + d / DISTANCE_SCALE)`` with ``d`` the distance to
  the nearest user slice. Back-prediction alone ranks slices within an object well but puts
  objects on different scales; ``DISTANCE_SCALE = 3`` was picked by leave-one-volume-out on
  the step-1200 encoder's calibration run (held-out Spearman 0.60, AUROC 0.76).
* Size consistency: ``sqrt(min(a, u) / max(a, u))`` with ``a`` the result mask's area and ``u``
  the user masks' area, weighted like the evidence. Propagation fails most where the mask
  shrinks to nothing or leaks into its surroundings, and a small result mask also gives
  back-prediction little to go on. The factor and its exponent 0.5 were chosen on per-slice
  records of the step-4000 models (pooled Spearman 0.58 -> 0.65, AUROC 0.82 -> 0.86).

With the shipped step-12000 models, measured after these choices were fixed
(``docs/benchmarks/quality.md``, 818 scored slices): back IoU alone Spearman 0.55 / AUROC 0.83;
times the distance factor 0.61 / 0.87; the full score **0.66 / 0.91** (per-object median
Spearman 0.75). The step-7500 models gave 0.52 / 0.80, 0.60 / 0.85 and 0.64 / 0.88, the
step-6000 ones 0.56 / 0.78, 0.59 / 0.81 and 0.63 / 0.83. No setting is a sharp optimum: on the
step-7500 run every exponent from 0.25 to 1 with a distance scale from 3 to 6 gave Spearman
0.62-0.67 and AUROC 0.87-0.89.

Arbitration between two masks of the same slice uses both directions
(:attr:`QualityScore.agreement`): the back-prediction evidence and the *forward* one (each
user slice, as support, predicts the slice; IoU with the candidate). Back-prediction alone
picked the true mask over a degraded one in 87.9% of 562 pairs, both directions in 91.1%
(step-1200 encoder); with the shipped models both directions pick it in 93.1% of 580 pairs.

Slices are ``(H, W)`` grey or ``(H, W, 3|4)`` RGB, masks ``(H, W)`` (nonzero = object),
coordinates (row, col); volumes are (z, row, col).

Badges (:data:`GOOD_THRESHOLD`, :data:`REVIEW_THRESHOLD`) come from the calibration benchmark
``ifss bench quality`` (``docs/benchmarks/quality.md``; 13 objects of ``../shared/data``,
K = 1, 2, 3, 818 scored slices, shipped models): "review" below 0.10, the threshold
maximising Youden's J (0.64) for flagging slices with true Dice < 0.5 (56% of the slices below
it are bad, against 20% overall); "good" from 0.25, where the share of slices with true
Dice >= 0.7 peaks (87%, against 60% overall, keeping at least a quarter of the slices). The
step-7500 run suggested the same two thresholds; with the step-6000 models the run suggested
review < 0.15 (35% bad below it); runs without the size factor suggested 0.15 too; "good"
from 0.25 every time. Treat badges as a triage aid, not a guarantee.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .encoding import EncodedSlice, slices_window
from .errors import InvalidInputError
from .fewshot import FewShotSegmenter
from .normalize import IntensityWindow

Badge = Literal["good", "check", "review"]

# From docs/benchmarks/quality.md (pooled over objects and K, see the module docstring):
# slices scoring below REVIEW_THRESHOLD are "review"; at or above GOOD_THRESHOLD "good".
REVIEW_THRESHOLD = 0.10
GOOD_THRESHOLD = 0.25
PROB_THRESHOLD = 0.5
# Evidence from user slices fades with z distance: score = back_iou / (1 + d / DISTANCE_SCALE).
DISTANCE_SCALE = 3.0


@dataclass(frozen=True)
class SupportEvidence:
    """The back-prediction onto one user slice: its position (None if unknown), the IoU of the
    back-predicted mask against the user's mask, and its weight in the score (weights sum to 1)."""

    index: int
    position: float | None
    iou: float
    weight: float


@dataclass(frozen=True)
class QualityScore:
    """JFS verdict on one result mask.

    Attributes:
        score: the trust in [0, 1]:
            ``back_iou * distance_factor(distance) * size_factor(size_ratio)`` (0 for an
            unusable mask).
        badge: "good", "check" or "review" (see :func:`badge_for`).
        evidence: one :class:`SupportEvidence` per user slice (empty when not scored).
        reason: why the score is what it is, for a person.
        position: z of the scored slice, if given.
        back_iou: the JFS evidence alone: weighted mean back-prediction IoU in [0, 1].
        distance: z distance to the nearest user slice (None when positions are unknown).
        size_ratio: ``min(a, u) / max(a, u)`` in (0, 1], with ``a`` the result mask's area
            and ``u`` the user masks' area (weighted like the evidence); 1 when not scored.
        forward_iou: the other direction, computed on request (``forward=True``): each user
            slice predicts the result slice, weighted IoU of those predictions with the result
            mask. None when not computed.
    """

    score: float
    badge: Badge
    evidence: tuple[SupportEvidence, ...]
    reason: str
    position: float | None = None
    back_iou: float = 0.0
    distance: float | None = None
    forward_iou: float | None = None
    size_ratio: float = 1.0

    @property
    def agreement(self) -> float:
        """Both directions of evidence: mean of ``back_iou`` and ``forward_iou`` (``back_iou``
        alone when the forward direction was not computed)."""
        if self.forward_iou is None:
            return self.back_iou
        return 0.5 * (self.back_iou + self.forward_iou)


@dataclass(frozen=True)
class Arbitration:
    """Which of two candidate masks JFS trusts more: ``choice`` "a" or "b" (ties go to "a"),
    both scores (with ``forward_iou``) and ``margin``, the difference of their
    :attr:`QualityScore.agreement`."""

    choice: Literal["a", "b"]
    score_a: QualityScore
    score_b: QualityScore
    margin: float


def distance_factor(distance: float | None) -> float:
    """How much evidence carries over ``distance`` slices: ``1 / (1 + distance / DISTANCE_SCALE)``
    (1 when the distance is unknown)."""
    if distance is None:
        return 1.0
    return 1.0 / (1.0 + max(0.0, float(distance)) / DISTANCE_SCALE)


def size_factor(ratio: float) -> float:
    """How much a change of area costs: ``sqrt(ratio)`` for an area ratio in [0, 1]
    (see :attr:`QualityScore.size_ratio`; 1 for the user's own size, 0.5 at a 4x change)."""
    return float(np.sqrt(np.clip(ratio, 0.0, 1.0)))


def _size_ratio(area: float, user: float) -> float:
    if area <= 0 or user <= 0:
        return 0.0
    return min(area, user) / max(area, user)


def format_score(score: float) -> str:
    """Two decimals, rounded *down*, so a shown score never reaches a badge threshold its badge
    does not (0.099 shows as 0.09, "review", not as 0.10)."""
    return f"{np.floor(float(score) * 100.0 + 1e-9) / 100.0:.2f}"


def badge_for(score: float) -> Badge:
    """The badge of a score: "good" >= GOOD_THRESHOLD > "check" >= REVIEW_THRESHOLD > "review"."""
    if score >= GOOD_THRESHOLD:
        return "good"
    return "check" if score >= REVIEW_THRESHOLD else "review"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def _check_support(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                   positions: Sequence[float] | None, shape: tuple[int, int]
                   ) -> list[np.ndarray]:
    if len(images) == 0:
        raise InvalidInputError("no user-annotated slices to judge the result against")
    if len(images) != len(masks):
        raise InvalidInputError(f"{len(images)} support images but {len(masks)} masks")
    if positions is not None and len(positions) != len(images):
        raise InvalidInputError(f"{len(images)} support images but {len(positions)} positions")
    out = []
    for i, (im, m) in enumerate(zip(images, masks, strict=True)):
        m = np.asarray(m)
        if m.shape != np.shape(im)[:2]:
            raise InvalidInputError(
                f"support mask {i} has shape {m.shape}, image {i} has shape {np.shape(im)[:2]}")
        if np.shape(im)[:2] != shape:
            raise InvalidInputError(
                f"support image {i} has shape {np.shape(im)[:2]}, the result has shape {shape}")
        out.append(m != 0)
    return out


def _weights(positions: Sequence[float] | None, position: float | None, k: int) -> np.ndarray:
    if positions is None or position is None:
        return np.full(k, 1.0 / k)
    w = 1.0 / (1.0 + np.abs(np.asarray(positions, float) - float(position)))
    return w / w.sum()


def _back_predict(seg: FewShotSegmenter, support: EncodedSlice, mask: np.ndarray,
                  query: EncodedSlice) -> np.ndarray:
    """Predict ``query`` from the single support (``support``, ``mask``); bool ``(H, W)``."""
    summary = seg.summarize(support, mask)
    return seg.predict_encoded(query, [summary], torch.ones(1)) > PROB_THRESHOLD


def jfs_score(segmenter: FewShotSegmenter, result_image: np.ndarray, result_mask: np.ndarray,
              support_images: Sequence[np.ndarray], support_masks: Sequence[np.ndarray],
              result_position: float | None = None,
              support_positions: Sequence[float] | None = None, *,
              window: IntensityWindow | None = None, result_key: Hashable | None = None,
              support_keys: Sequence[Hashable] | None = None, forward: bool = False
              ) -> QualityScore:
    """JFS score of ``result_mask`` ``(H, W)`` on ``result_image`` against the user's slices.

    Args:
        segmenter: the few-shot model (its support set and window are left untouched).
        result_image, result_mask: the propagated slice and its predicted mask.
        support_images, support_masks: the ``K >= 1`` user-annotated slices and masks.
        result_position, support_positions: z positions; nearer user slices weigh more.
        window: intensity window for all slices (default: from the user slices).
        result_key, support_keys: cache keys for :meth:`FewShotSegmenter.encode`, e.g.
            ``(prefix, z)``, so each slice is encoded once across many calls.
        forward: also predict the result slice from each user slice (``K`` more head passes)
            and fill :attr:`QualityScore.forward_iou`.

    Raises:
        InvalidInputError: no user slices, count or shape mismatches.
    """
    res = np.asarray(result_mask)
    shape = tuple(np.shape(result_image)[:2])
    if res.shape != shape:
        raise InvalidInputError(
            f"result mask has shape {res.shape}, the result image has shape {shape}")
    masks = _check_support(support_images, support_masks, support_positions, shape)  # type: ignore[arg-type]
    if support_keys is not None and len(support_keys) != len(masks):
        raise InvalidInputError(f"{len(masks)} support images but {len(support_keys)} keys")
    res = res != 0
    if not res.any():
        return QualityScore(0.0, badge_for(0.0), (), "the result mask is empty",
                            result_position)
    if res.all():
        return QualityScore(0.0, badge_for(0.0), (),
                            "the result mask covers the whole slice", result_position)
    window = window if window is not None else slices_window(list(support_images))
    support = segmenter.encode(result_image, result_key, window=window)
    weights = _weights(support_positions, result_position, len(masks))
    evidence, forward_iou = [], 0.0 if forward else None
    for i, (im, m) in enumerate(zip(support_images, masks, strict=True)):
        key = None if support_keys is None else support_keys[i]
        query = segmenter.encode(im, key, window=window)
        back = _back_predict(segmenter, support, res, query)
        pos = None if support_positions is None else float(support_positions[i])
        evidence.append(SupportEvidence(i, pos, _iou(back, m), float(weights[i])))
        if forward:
            ahead = _back_predict(segmenter, query, m, support)
            forward_iou += float(weights[i]) * _iou(ahead, res)
    back_iou = float(np.clip(sum(e.iou * e.weight for e in evidence), 0.0, 1.0))
    distance = None
    if support_positions is not None and result_position is not None:
        distance = float(min(abs(float(p) - float(result_position)) for p in support_positions))
    area = float(np.count_nonzero(res))
    user_area = float(np.dot(weights, [float(np.count_nonzero(m)) for m in masks]))
    size_ratio = _size_ratio(area, user_area)
    score = back_iou * distance_factor(distance) * size_factor(size_ratio)
    worst = min(evidence, key=lambda e: e.iou)
    where = f"slice {worst.position:g}" if worst.position is not None else f"#{worst.index}"
    reason = (f"back-prediction IoU {back_iou:.2f} over {len(evidence)} user slice(s), "
              f"lowest {worst.iou:.2f} on user {where}")
    if distance is not None:
        reason += f"; {distance:g} slice(s) from the nearest user slice"
    if size_ratio < 0.5:
        reason += (f"; area {area / user_area:.0%} of the user's" if area < user_area
                   else f"; area {area / max(user_area, 1.0):.1f}x the user's")
    return QualityScore(score, badge_for(score), tuple(evidence), reason, result_position,
                        back_iou, distance, forward_iou, size_ratio)


def arbitrate(segmenter: FewShotSegmenter, image: np.ndarray, candidate_a: np.ndarray,
              candidate_b: np.ndarray, support_images: Sequence[np.ndarray],
              support_masks: Sequence[np.ndarray], position: float | None = None,
              support_positions: Sequence[float] | None = None, *,
              window: IntensityWindow | None = None, image_key: Hashable | None = None,
              support_keys: Sequence[Hashable] | None = None) -> Arbitration:
    """Keep whichever of two ``(H, W)`` candidate masks of ``image`` JFS trusts more.

    Both directions count (:attr:`QualityScore.agreement`): how well each candidate, as
    support, predicts the user's slices, and how well the user's slices, as support, predict
    that candidate. The distance to the user slices is the same for both, so it does not
    decide. Both candidates share the encoding of ``image`` (cached under ``image_key``, or once
    for this call when None) and of the user slices. Ties go to ``candidate_a``."""
    key = image_key if image_key is not None else ("arbitrate", object())
    kw = dict(window=window, result_key=key, support_keys=support_keys, forward=True)
    a = jfs_score(segmenter, image, candidate_a, support_images, support_masks, position,
                  support_positions, **kw)  # type: ignore[arg-type]
    b = jfs_score(segmenter, image, candidate_b, support_images, support_masks, position,
                  support_positions, **kw)  # type: ignore[arg-type]
    choice: Literal["a", "b"] = "a" if a.agreement >= b.agreement else "b"
    return Arbitration(choice, a, b, abs(a.agreement - b.agreement))
