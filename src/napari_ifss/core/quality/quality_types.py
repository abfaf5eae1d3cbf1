"""What a JFS verdict is made of, without the model: scores, badges and their words.

The thresholds and factors are calibrated in ``docs/benchmarks/quality.md``; how and why is in
the docstring of :mod:`napari_ifss.core.quality.quality` (which re-exports everything here). Nothing
here imports torch, so tables, CSV files and the next-slice rule stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Badge = Literal["good", "check", "review", "empty"]
EMPTY_BADGE: Badge = "empty"  # nothing found on a slice inside the object's range (score 0)
# What a person reads for each badge (tables, overlays, command-line summaries).
BADGE_LABELS: dict[str, str] = {"good": "good", "check": "check", "review": "review",
                                "empty": "nothing found"}

# From docs/benchmarks/quality.md (pooled over objects and K, see the module docstring):
# slices scoring below REVIEW_THRESHOLD are "review"; at or above GOOD_THRESHOLD "good".
REVIEW_THRESHOLD = 0.10
GOOD_THRESHOLD = 0.45
PROB_THRESHOLD = 0.5
# Evidence from user slices fades with the z distance measured in object widths (issue #20):
# score = back_iou / (1 + w / DISTANCE_SCALE), w = physical z distance / the user's object width.
DISTANCE_SCALE = 1.0


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
            ``back_iou * distance_factor(widths) * size_factor(size_ratio)`` (0 for an
            unusable mask).
        badge: "good", "check" or "review" (see :func:`badge_for`); "empty" for a
            slice where nothing was found inside the object's range.
        evidence: one :class:`SupportEvidence` per user slice (empty when not scored).
        reason: why the score is what it is, for a person.
        position: z of the scored slice, if given.
        back_iou: the JFS evidence alone: weighted mean back-prediction IoU in [0, 1].
        distance: z distance to the nearest user slice, in slices (None when positions are
            unknown).
        widths: the same distance in object widths (:func:`object_widths`: physical z
            distance over the user's object width in the plane); the distance factor uses it.
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
    widths: float | None = None

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


def distance_factor(widths: float | None) -> float:
    """How much evidence carries over a z distance of ``widths`` object widths
    (:func:`object_widths`): ``1 / (1 + widths / DISTANCE_SCALE)``; 1 when unknown."""
    if widths is None:
        return 1.0
    return 1.0 / (1.0 + max(0.0, float(widths)) / DISTANCE_SCALE)


def object_widths(slices: float, user_area: float,
                  spacing: tuple[float, float, float] | None = None) -> float:
    """A z distance of ``slices`` slices in object widths.

    The width is the equivalent diameter ``2 sqrt(area / pi)`` of the user's mask (``user_area``
    pixels), in the plane's pixel size ``sqrt(dy dx)``; the distance is ``slices * dz``, with
    ``spacing = (dz, dy, dx)`` (1, 1, 1 when None). An object changes over a scale of its own
    size: 50 slices are far for a 10-pixel nucleus and near for a 300-pixel organ, and thick
    slices are farther apart than thin ones. An empty user mask counts as one pixel wide.
    """
    dz, dy, dx = (1.0, 1.0, 1.0) if spacing is None else (float(s) for s in spacing)
    width = 2.0 * np.sqrt(max(float(user_area), 1.0) / np.pi) * np.sqrt(dy * dx)
    return max(0.0, float(slices)) * dz / width


def size_factor(ratio: float) -> float:
    """How much a change of area costs: ``sqrt(ratio)`` for an area ratio in [0, 1]
    (see :attr:`QualityScore.size_ratio`; 1 for the user's own size, 0.5 at a 4x change)."""
    return float(np.sqrt(np.clip(ratio, 0.0, 1.0)))


def area_ratio(area: float, user: float) -> float:
    """``min(area, user) / max(area, user)`` in (0, 1]; 0 when either area is 0."""
    if area <= 0 or user <= 0:
        return 0.0
    return min(area, user) / max(area, user)


def format_score(score: float) -> str:
    """Two decimals, rounded *down*, so a shown score never reaches a badge threshold its badge
    does not (0.099 shows as 0.09, "review", not as 0.10)."""
    return f"{np.floor(float(score) * 100.0 + 1e-9) / 100.0:.2f}"


def badge_label(badge: str) -> str:
    """The words shown for a badge ("nothing found" for "empty")."""
    return BADGE_LABELS.get(badge, badge)


def badge_for(score: float) -> Badge:
    """The badge of a score: "good" >= GOOD_THRESHOLD > "check" >= REVIEW_THRESHOLD > "review"."""
    if score >= GOOD_THRESHOLD:
        return "good"
    return "check" if score >= REVIEW_THRESHOLD else "review"
