"""The robot user of interactive-segmentation benchmarks (RITM protocol, our own code).

Given the ground-truth mask and the current prediction, the next click goes to the error
region that should be fixed first, at the point farthest from that region's border:

* false negatives (object pixels predicted as background) give a **positive** click,
* false positives (background predicted as object) give a **negative** click.

Two rules choose between the error regions:

* ``"largest_region"`` (default): the largest connected error region by area wins (FN or FP);
  the click goes to its interior point.
* ``"ritm"``: RITM's ``Clicker`` rule: whichever of the whole FN and FP masks has the larger
  distance-transform maximum wins (i.e. the "thickest" error).

Distances are computed on the error mask padded with one background pixel on each side, so
that the image border counts as a region border (a region touching the border is not
considered endlessly deep there). Pixels already clicked are never clicked again. Among equally deep points the one nearest
to their mean is taken (the middle of a ridge).

The first click, on an empty prediction, is the interior point of the ground-truth object.

An optional ``ignore`` mask ``(H, W)`` marks pixels that are neither object nor background
(a benchmark's ignore band): they are never part of an error region, so they are never clicked
and count as a region border for the interior point.

All coordinates are ``(row, col)``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from ..core.errors import InvalidInputError
from ..core.interactive.prompts import Box, Click

ClickRule = Literal["largest_region", "ritm"]


@dataclass(frozen=True)
class ErrorRegion:
    """An error region the robot may click into.

    Attributes:
        positive: True for a false-negative region (a positive click fixes it).
        area: number of pixels of the region.
        depth: distance (pixels) of ``point`` from the region border.
        point: the ``(row, col)`` interior point, farthest from the border.
    """

    positive: bool
    area: int
    depth: float
    point: tuple[int, int]


def interior_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of each ``True`` pixel of ``mask`` ``(H, W)`` to the nearest
    ``False`` pixel, with the image border counted as ``False`` (padding of one pixel)."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1, mode="constant", constant_values=False)
    return ndi.distance_transform_edt(padded)[1:-1, 1:-1]


def _deepest_point(dist: np.ndarray, allowed: np.ndarray) -> tuple[tuple[int, int], float]:
    """Arg-max of ``dist`` over ``allowed``; among tied maxima, the one nearest to their mean
    (the middle of a ridge rather than its first pixel in raster order)."""
    masked = np.where(allowed, dist, -1.0)
    best = float(masked.max())
    ties = np.argwhere(masked == best)
    if len(ties) > 1:
        centre = ties.mean(axis=0)
        ties = ties[[int(np.argmin(((ties - centre) ** 2).sum(axis=1)))]]
    r, c = (int(v) for v in ties[0])
    return (r, c), best


def _regions(error: np.ndarray, positive: bool, not_clicked: np.ndarray,
             top: int | None = None) -> list[ErrorRegion]:
    """Connected components of ``error`` (8-connectivity) as :class:`ErrorRegion` objects, the
    ``top`` largest only (all when None); regions with every pixel clicked are skipped."""
    labels, n = ndi.label(error, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    dist = interior_distance(error)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    slices = ndi.find_objects(labels)
    out: list[ErrorRegion] = []
    for idx in np.argsort(-areas[1:], kind="stable") + 1:
        if top is not None and len(out) >= top:
            break
        sl = slices[idx - 1]
        allowed = (labels[sl] == idx) & not_clicked[sl]
        if not allowed.any():
            continue
        (r, c), depth = _deepest_point(dist[sl], allowed)
        out.append(ErrorRegion(positive, int(areas[idx]), depth,
                               (r + sl[0].start, c + sl[1].start)))
    return out


def error_regions(
    gt: np.ndarray, pred: np.ndarray, clicks: Sequence[Click] = (), top: int | None = None,
    ignore: np.ndarray | None = None,
) -> list[ErrorRegion]:
    """FN and FP connected regions of ``pred`` against ``gt`` (both ``(H, W)``), sorted by
    area (largest first; ``top`` largest of each kind when given); pixels of earlier
    ``clicks`` are excluded as click points, pixels of ``ignore`` ``(H, W)`` from the regions."""
    gt_b, pred_b = _check_pair(gt, pred, ignore)
    not_clicked = _not_clicked_map(gt_b.shape, clicks)
    regions = _regions(gt_b & ~pred_b, True, not_clicked, top)
    regions += _regions(~gt_b & pred_b, False, not_clicked, top)
    return sorted(regions, key=lambda r: (-r.area, -r.depth))


def next_click(
    gt: np.ndarray,
    pred: np.ndarray | None,
    clicks: Sequence[Click] = (),
    rule: ClickRule = "largest_region",
    ignore: np.ndarray | None = None,
) -> Click | None:
    """The robot's next click, or None when the prediction has no error left.

    Args:
        gt: ground-truth object mask ``(H, W)`` (anything non-zero is object).
        pred: current binary prediction ``(H, W)``; None means nothing predicted yet.
        clicks: clicks made so far (their pixels are not clicked again).
        rule: how to choose among error regions (see the module docstring).
        ignore: ``(H, W)`` pixels that are neither object nor background (never clicked).
    """
    gt_b = np.asarray(gt).astype(bool)
    pred_b = np.zeros_like(gt_b) if pred is None else np.asarray(pred).astype(bool)
    gt_b, pred_b = _check_pair(gt_b, pred_b, ignore)
    if rule == "largest_region":
        regions = error_regions(gt_b, pred_b, clicks, top=1)
        if not regions:
            return None
        best = regions[0]
        return Click(float(best.point[0]), float(best.point[1]), best.positive)
    if rule == "ritm":
        return _ritm_click(gt_b, pred_b, clicks)
    raise InvalidInputError(f"unknown click rule {rule!r}; use 'largest_region' or 'ritm'")


def first_click(gt: np.ndarray) -> Click:
    """The first click: a positive click at the interior point of the object ``gt`` ``(H, W)``.

    Raises:
        InvalidInputError: if ``gt`` is empty.
    """
    gt_b = np.asarray(gt).astype(bool)
    if gt_b.ndim != 2 or not gt_b.any():
        raise InvalidInputError("the ground-truth mask must be a non-empty 2D (H, W) mask")
    (r, c), _ = _deepest_point(interior_distance(gt_b), gt_b)
    return Click(float(r), float(c), True)


def _ritm_click(gt: np.ndarray, pred: np.ndarray, clicks: Sequence[Click]) -> Click | None:
    not_clicked = _not_clicked_map(gt.shape, clicks)
    fn_dist = interior_distance(gt & ~pred) * not_clicked
    fp_dist = interior_distance(~gt & pred) * not_clicked
    fn_max, fp_max = float(fn_dist.max()), float(fp_dist.max())
    if fn_max == 0.0 and fp_max == 0.0:
        return None
    positive = fn_max > fp_max
    dist = fn_dist if positive else fp_dist
    (r, c), _ = _deepest_point(dist, dist > 0)
    return Click(float(r), float(c), positive)


def _not_clicked_map(shape: tuple[int, ...], clicks: Sequence[Click]) -> np.ndarray:
    not_clicked = np.ones(shape[:2], dtype=bool)
    for click in clicks:
        if click.inside(shape):
            not_clicked[click.pixel] = False
    return not_clicked


def _check_pair(gt: np.ndarray, pred: np.ndarray, ignore: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``(gt, pred)``; ignored pixels are set to background in both (never an error)."""
    gt_b = np.asarray(gt).astype(bool)
    pred_b = np.asarray(pred).astype(bool)
    if gt_b.ndim != 2 or gt_b.shape != pred_b.shape:
        raise InvalidInputError(
            f"gt and prediction must be 2D masks of the same shape; got {gt_b.shape} "
            f"and {pred_b.shape}"
        )
    if ignore is not None:
        keep = ~_check_ignore(ignore, gt_b.shape)
        gt_b, pred_b = gt_b & keep, pred_b & keep
    return gt_b, pred_b


def _check_ignore(ignore: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    ign = np.asarray(ignore).astype(bool)
    if ign.shape != shape:
        raise InvalidInputError(f"ignore mask shape {ign.shape} differs from the mask shape "
                                f"{shape}")
    return ign


def jittered_box(mask: np.ndarray, rng: np.random.Generator,
                 jitter: float = 0.1) -> tuple[float, float, float, float]:
    """The bounding box ``(row0, col0, row1, col1)`` (end exclusive) of the non-empty bool
    ``mask`` ``(H, W)``, each side moved by up to ``jitter`` x the box's size, as a user drags
    a box loosely around an object; clipped to the image. Training draws its boxes with it too.

    Raises:
        ValueError: an empty mask.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("cannot draw a box around an empty mask")
    h, w = mask.shape
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    dr, dc = jitter * (r1 - r0), jitter * (c1 - c0)
    move = rng.uniform(-1.0, 1.0, 4) * np.array([dr, dc, dr, dc])
    box = np.array([r0, c0, r1, c1], dtype=float) + move
    box[[0, 2]] = np.clip(box[[0, 2]], 0, h)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, w)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:  # jitter collapsed it: the tight box
        box = np.array([r0, c0, r1, c1], dtype=float)
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def robot_box(gt: np.ndarray, seed: int, uid: str = "",
              jitter: float = 0.1) -> Box:
    """The box the robot drags around the object ``gt`` ``(H, W)`` as its first prompt: the
    object's bounding box with each side moved by up to ``jitter`` x the box's size, as in
    training (:func:`jittered_box`); the jitter is fixed by ``seed`` and the object's ``uid``
    (the same box for every method and run).

    Raises:
        InvalidInputError: if ``gt`` is not a non-empty 2D mask.
    """
    gt_b = np.asarray(gt).astype(bool)
    if gt_b.ndim != 2 or not gt_b.any():
        raise InvalidInputError("the ground-truth mask must be a non-empty 2D (H, W) mask")
    rng = np.random.default_rng([seed, zlib.crc32(uid.encode("utf-8"))])
    return Box(*jittered_box(gt_b, rng, jitter))


class Clicker:
    """A robot user bound to one ground-truth mask ``gt`` ``(H, W)``, remembering its clicks.

    ``clicker.click(pred)`` returns the next click (the first one ignores ``pred``) and
    appends it to ``clicker.clicks``; it returns None once ``pred`` equals the ground truth
    outside ``ignore`` (``(H, W)`` pixels that are never clicked, see the module docstring).

    Raises:
        InvalidInputError: if ``gt`` is not a non-empty 2D mask (outside ``ignore``).
    """

    def __init__(self, gt: np.ndarray, rule: ClickRule = "largest_region",
                 ignore: np.ndarray | None = None) -> None:
        self.gt = np.asarray(gt).astype(bool)
        self.ignore = None if ignore is None else _check_ignore(ignore, self.gt.shape)
        if self.ignore is not None:
            self.gt = self.gt & ~self.ignore
        self.rule: ClickRule = rule
        self.clicks: list[Click] = []
        self._first = first_click(self.gt)  # also validates the mask

    def click(self, pred: np.ndarray | None = None, after_box: bool = False) -> Click | None:
        """Make (and remember) the next click given the current binary prediction.

        ``after_box``: a box was the object's first prompt, so even the first click corrects
        ``pred`` (into its largest error region) instead of going to the object's centre.
        """
        first = not self.clicks and not after_box
        new = self._first if first else next_click(
            self.gt, pred, self.clicks, self.rule, self.ignore)
        if new is not None:
            self.clicks.append(new)
        return new
