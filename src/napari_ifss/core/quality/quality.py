"""JFS quality scores ("Judging From Support-set", Moon, Kong, Khan) and mask arbitration.

The few-shot model is run in reverse: a result slice (image + predicted mask) becomes the
*support*, and every slice the user annotated becomes a *query*. The IoU of each
back-prediction (probability > 0.5) against the user's own mask is the evidence
(``back_iou``): the mean of those IoUs weighted ``1 / (1 + |dz|)`` by the z distance between
the result slice and each user slice (uniform when positions are unknown). IoU, not Dice, as
in the paper and DESIGN.md. A result that is good segments the user's slices the way the user
did.

Two more factors turn the evidence into the score
``back_iou * distance_factor(w) * size_factor(size_ratio)``:

* Evidence fades with distance: ``1 / (1 + w / DISTANCE_SCALE)`` with ``w`` the distance to
  the nearest user slice **in object widths** (:func:`object_widths`: slices times the slice
  thickness, over the equivalent diameter of the user's mask times the pixel size; issue
  #20). Back-prediction alone ranks slices within an object well but puts objects on
  different scales. Until #20 the distance was counted in slices (scale 3): on long volumes
  that sent correct slices far from the user's to "review" (57% of a 300-slice tube), and it
  ignored the voxel spacing. ``DISTANCE_SCALE = 1`` (one object width halves the evidence) was
  chosen on the per-slice records of the previous calibration run
  (``benchmarks/quality_distance_scale.py``: pooled Spearman / AUROC 0.543 / 0.780 against
  0.531 / 0.767 in slices; 0.559 / 0.788 with the scale chosen leave-one-volume-out; a scale
  of 10 slices ranks about as well, 0.545 / 0.773, but knows neither thickness nor size).
* Size consistency: ``sqrt(min(a, u) / max(a, u))`` with ``a`` the result mask's area and ``u``
  the user masks' area, weighted like the evidence. Propagation fails most where the mask
  shrinks to nothing or leaks into its surroundings, and a small result mask also gives
  back-prediction little to go on. The factor and its exponent 0.5 were chosen on per-slice
  records of the step-4000 models (pooled Spearman 0.58 -> 0.65, AUROC 0.82 -> 0.86).

Arbitration between two masks of the same slice uses both directions
(:attr:`QualityScore.agreement`): the back-prediction evidence and the *forward* one (each
user slice, as support, predicts the slice; IoU with the candidate). Back-prediction alone
picked the true mask over a degraded one in 87.9% of 562 pairs, both directions in 91.1%
(step-1200 encoder); with the shipped models (EfficientNet-Lite0 trunk) both directions pick it
in 89.0% of 583 pairs.

Slices are ``(H, W)`` grey or ``(H, W, 3|4)`` RGB, masks ``(H, W)`` (nonzero = object),
coordinates (row, col); volumes are (z, row, col).

Badges (:data:`GOOD_THRESHOLD`, :data:`REVIEW_THRESHOLD`) come from the calibration benchmark
``ifss bench quality`` (``docs/benchmarks/quality.md``; 13 objects of ``../shared/data``,
K = 1, 2, 3, propagated with the default learner, 780 scored slices, shipped models on the
EfficientNet-Lite0 trunk, 2026-12-07): pooled Spearman 0.51, AUROC 0.86 (0.45 / 0.80 for the
same slices with the distance in slices); "review" below 0.10, the threshold maximising
Youden's J (0.62) for flagging slices with true Dice < 0.5 (20% of the slices below it are
bad, against 6% overall); "good" from 0.45, where the share of slices with true Dice >= 0.7
peaks (99%, against 85% overall, keeping at least a quarter of the slices). Treat badges as
a triage aid, not a guarantee. A fourth badge, "empty" (shown as "nothing found"), marks a slice inside an
object's range where the result holds nothing (volume scoring, see
:mod:`~napari_ifss.core.quality.quality_volume`); it scores 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import torch

from ..encoding import EncodedSlice, slices_window
from ..errors import InvalidInputError
from ..fewshot.fewshot import FewShotSegmenter
from ..normalize import IntensityWindow
from .quality_types import (
    BADGE_LABELS,
    DISTANCE_SCALE,
    EMPTY_BADGE,
    GOOD_THRESHOLD,
    PROB_THRESHOLD,
    REVIEW_THRESHOLD,
    Arbitration,
    Badge,
    QualityScore,
    SupportEvidence,
    area_ratio,
    badge_for,
    badge_label,
    distance_factor,
    format_score,
    object_widths,
    size_factor,
)

__all__ = [
    "BADGE_LABELS", "DISTANCE_SCALE", "EMPTY_BADGE", "GOOD_THRESHOLD", "PROB_THRESHOLD",
    "REVIEW_THRESHOLD", "Arbitration", "Badge", "QualityScore", "SupportEvidence", "arbitrate",
    "badge_for", "badge_label", "distance_factor", "format_score", "jfs_score", "object_widths",
    "score_encoded", "size_factor", "unusable_score",
]


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


def unusable_score(mask: np.ndarray, position: float | None = None) -> QualityScore | None:
    """The 0 score of a bool ``(H, W)`` result mask the model cannot judge (empty, or the
    whole slice), or None when the mask can be scored."""
    if not mask.any():
        return QualityScore(0.0, badge_for(0.0), (), "the result mask is empty", position)
    if mask.all():
        return QualityScore(0.0, badge_for(0.0), (), "the result mask covers the whole slice",
                            position)
    return None


def jfs_score(segmenter: FewShotSegmenter, result_image: np.ndarray, result_mask: np.ndarray,
              support_images: Sequence[np.ndarray], support_masks: Sequence[np.ndarray],
              result_position: float | None = None,
              support_positions: Sequence[float] | None = None, *,
              window: IntensityWindow | None = None, result_key: Hashable | None = None,
              support_keys: Sequence[Hashable] | None = None, forward: bool = False,
              spacing: tuple[float, float, float] | None = None) -> QualityScore:
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
        spacing: ``(z, y, x)`` voxel size; the distance to the user slices counts in object
            widths (:func:`object_widths`), so thick slices are farther apart (default 1, 1, 1).

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
    unusable = unusable_score(res, result_position)
    if unusable is not None:
        return unusable
    window = window if window is not None else slices_window(list(support_images))
    result = segmenter.encode(result_image, result_key, window=window)
    queries = [segmenter.encode(im, None if support_keys is None else support_keys[i],
                                window=window) for i, im in enumerate(support_images)]
    return score_encoded(segmenter, result, res, queries, masks, result_position,
                         support_positions, forward=forward, spacing=spacing)


def score_encoded(segmenter: FewShotSegmenter, result: EncodedSlice, mask: np.ndarray,
                  queries: Sequence[EncodedSlice], query_masks: Sequence[np.ndarray],
                  position: float | None = None, query_positions: Sequence[float] | None = None,
                  *, forward: bool = False,
                  spacing: tuple[float, float, float] | None = None) -> QualityScore:
    """JFS score of a usable bool ``(H, W)`` ``mask`` (see :func:`unusable_score`) on the
    encoded result slice, against the encoded user slices ``queries`` and their bool masks.

    The result slice is summarised once for its ``K`` back-predictions (one head pass each);
    :func:`jfs_score` checks its inputs and encodes, then calls this."""
    weights = _weights(query_positions, position, len(query_masks))
    summary = segmenter.summarize(result, mask)
    one = torch.ones(1)
    evidence, forward_iou = [], 0.0 if forward else None
    for i, (query, m) in enumerate(zip(queries, query_masks, strict=True)):
        back = segmenter.predict_encoded(query, [summary], one) > PROB_THRESHOLD
        pos = None if query_positions is None else float(query_positions[i])
        evidence.append(SupportEvidence(i, pos, _iou(back, m), float(weights[i])))
        if forward:
            ahead = _back_predict(segmenter, query, m, result)
            forward_iou += float(weights[i]) * _iou(ahead, mask)
    back_iou = float(np.clip(sum(e.iou * e.weight for e in evidence), 0.0, 1.0))
    distance = None
    if query_positions is not None and position is not None:
        distance = float(min(abs(float(p) - float(position)) for p in query_positions))
    area = float(np.count_nonzero(mask))
    user_area = float(np.dot(weights, [float(np.count_nonzero(m)) for m in query_masks]))
    size_ratio = area_ratio(area, user_area)
    widths = None if distance is None else object_widths(distance, user_area, spacing)
    score = back_iou * distance_factor(widths) * size_factor(size_ratio)
    worst = min(evidence, key=lambda e: e.iou)
    where = f"slice {worst.position:g}" if worst.position is not None else f"#{worst.index}"
    reason = (f"back-prediction IoU {back_iou:.2f} over {len(evidence)} user slice(s), "
              f"lowest {worst.iou:.2f} on user {where}")
    if distance is not None:
        reason += (f"; {distance:g} slice(s) ({widths:.1f} object widths) from the nearest "
                   "user slice")
    if size_ratio < 0.5:
        reason += (f"; area {area / user_area:.0%} of the user's" if area < user_area
                   else f"; area {area / max(user_area, 1.0):.1f}x the user's")
    return QualityScore(score, badge_for(score), tuple(evidence), reason, position,
                        back_iou, distance, forward_iou, size_ratio, widths)


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
