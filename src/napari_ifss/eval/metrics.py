"""Segmentation and interactive-segmentation metrics.

Mask metrics take two binary masks of equal shape ``(H, W)`` (or any equal shape for IoU and
Dice). Click-curve metrics take ``ious``: the IoU after click 1, 2, ..., i.e. ``ious[k - 1]``
is the IoU after ``k`` clicks.

Conventions:

* IoU and Dice of two empty masks are 1.0 (perfect agreement).
* NoC@t is the 1-based number of the first click whose IoU is >= t, or ``max_clicks`` if no
  click reaches it (RITM's convention).
* NoF@t counts objects whose IoU never reaches t within ``max_clicks`` clicks. (RITM counts
  ``NoC == max_clicks``, which also includes objects first reaching t at the last click.)
* Boundary IoU (Cheng et al., CVPR 2021): IoU of the two masks' boundary bands, a band being
  the pixels of the mask within ``d`` pixels (chessboard distance) of its border, image border
  included, with ``d = max(1, round(dilation_ratio * image diagonal))``.
* ``ignore`` (optional, same shape): pixels that are neither object nor background (a
  benchmark's ignore band, e.g. value 255 in SBD/DAVIS-style masks). They are removed from both
  masks before anything is counted, so they are in neither the intersection nor the union, and
  the boundary bands are those of the masks outside ``ignore``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..core.errors import InvalidInputError

BOUNDARY_DILATION_RATIO = 0.02


def _pair(a: np.ndarray, b: np.ndarray, ignore: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as booleans, with the ``ignore`` pixels (if any) set to False in both."""
    a_b = np.asarray(a).astype(bool)
    b_b = np.asarray(b).astype(bool)
    if a_b.shape != b_b.shape:
        raise InvalidInputError(f"masks differ in shape: {a_b.shape} vs {b_b.shape}")
    if ignore is not None:
        ign = np.asarray(ignore).astype(bool)
        if ign.shape != a_b.shape:
            raise InvalidInputError(f"ignore mask shape {ign.shape} differs from the masks' "
                                    f"{a_b.shape}")
        a_b, b_b = a_b & ~ign, b_b & ~ign
    return a_b, b_b


def iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two binary masks of equal shape, ``ignore`` pixels left out."""
    p, g = _pair(pred, gt, ignore)
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


def dice(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Dice coefficient ``2|P & G| / (|P| + |G|)`` of two binary masks of equal shape,
    ``ignore`` pixels left out."""
    p, g = _pair(pred, gt, ignore)
    total = np.count_nonzero(p) + np.count_nonzero(g)
    return 1.0 if total == 0 else 2.0 * np.count_nonzero(p & g) / total


def boundary_band(mask: np.ndarray, dilation: int) -> np.ndarray:
    """Pixels of ``mask`` ``(H, W)`` within ``dilation`` pixels of its border: the mask minus
    its erosion by a ``(2d+1)`` square, the image outside counted as background."""
    m = np.asarray(mask).astype(bool)
    if dilation < 1:
        raise InvalidInputError(f"boundary dilation must be >= 1 pixel, got {dilation}")
    eroded = ndi.binary_erosion(m, structure=np.ones((3, 3), dtype=bool),
                                iterations=dilation, border_value=0)
    return m & ~eroded


def boundary_dilation(shape: Sequence[int], ratio: float = BOUNDARY_DILATION_RATIO) -> int:
    """Band width in pixels for an image of ``shape`` ``(H, W)``: ``ratio`` of its diagonal."""
    diag = float(np.hypot(shape[0], shape[1]))
    return max(1, int(round(ratio * diag)))


def boundary_iou(
    pred: np.ndarray, gt: np.ndarray, dilation_ratio: float = BOUNDARY_DILATION_RATIO,
    ignore: np.ndarray | None = None,
) -> float:
    """Boundary IoU of two binary masks ``(H, W)`` (Cheng et al. 2021); with ``ignore``, the
    bands of the masks outside ``ignore``."""
    p, g = _pair(pred, gt, ignore)
    if p.ndim != 2:
        raise InvalidInputError(f"boundary IoU needs 2D masks, got shape {p.shape}")
    d = boundary_dilation(p.shape, dilation_ratio)
    return iou(boundary_band(p, d), boundary_band(g, d))


def noc(ious: Sequence[float], threshold: float, max_clicks: int = 20) -> int:
    """Number of clicks to reach ``threshold`` IoU (``max_clicks`` if never reached).

    Only the first ``max_clicks`` entries of ``ious`` count.
    """
    arr = np.asarray(ious, dtype=float)[:max_clicks]
    hits = np.flatnonzero(arr >= threshold)
    return int(hits[0]) + 1 if hits.size else int(max_clicks)


def reached(ious: Sequence[float], threshold: float, max_clicks: int = 20) -> bool:
    """True if any of the first ``max_clicks`` IoUs is >= ``threshold``."""
    return bool(np.any(np.asarray(ious, dtype=float)[:max_clicks] >= threshold))


def nof(curves: Sequence[Sequence[float]], threshold: float, max_clicks: int = 20) -> int:
    """Number of objects (one IoU curve each) never reaching ``threshold`` in ``max_clicks``."""
    return sum(not reached(c, threshold, max_clicks) for c in curves)


def iou_at(ious: Sequence[float], k: int) -> float:
    """IoU after ``k`` clicks (1-based); if the curve is shorter, its last value (the robot
    stopped and the mask stays as it was)."""
    if k < 1:
        raise InvalidInputError(f"click count must be >= 1, got {k}")
    if len(ious) == 0:
        raise InvalidInputError("empty IoU curve")
    return float(ious[min(k, len(ious)) - 1])
