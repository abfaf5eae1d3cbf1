"""Instances from a foreground map: split it by a watershed and filter the parts by size.

Generic (no model involved), all on one 2D slice, coordinates (row, col):

* :func:`split_instances`: ``(H, W)`` bool foreground -> ``(H, W)`` int32 instance ids 1..n,
  a watershed of the distance transform seeded by its deep, well separated peaks.
* :func:`area_filter` / :func:`find_instances`: drop the instances whose area lies outside
  ``[min_area_ratio, max_area_ratio]`` x a reference area (in exemplar mode, the exemplar's).
* :class:`ObjectShape`: a reference object's area, equivalent and inscribed radius (``_depth``).
* :func:`working_scale` / :func:`resized`: the resize factor that gives the reference object
  a chosen diameter, and resizing ``(H, W)`` / ``(H, W, C)`` arrays to another ``(H, W)``.

The parameters come as an :class:`InstanceSettings` (e.g. :class:`~.exemplar.ExemplarSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.segmentation import watershed
from skimage.transform import resize


class InstanceSettings(Protocol):
    """The splitting and size-filter parameters (:class:`~.exemplar.ExemplarSettings` has
    them), as multiples of the reference object's size.

    Attributes:
        min_area_ratio, max_area_ratio: kept instances have an area within these multiples
            of the reference area.
        peak_distance_ratio: instance seeds lie at least this many equivalent radii apart.
        min_depth_ratio: instance seeds lie at least this many inscribed radii deep inside
            the foreground.
    """

    @property
    def min_area_ratio(self) -> float: ...

    @property
    def max_area_ratio(self) -> float: ...

    @property
    def peak_distance_ratio(self) -> float: ...

    @property
    def min_depth_ratio(self) -> float: ...


# -------------------------------------------------------------------------- geometry
def _depth(mask: np.ndarray) -> np.ndarray:
    """Distance of each pixel of ``mask`` to the nearest outside pixel (image border = outside)."""
    return ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


@dataclass(frozen=True)
class ObjectShape:
    """The exemplar's size at the working scale: area (px), equivalent and inscribed radius."""

    area: float
    radius: float
    depth: float

    @classmethod
    def of(cls, mask: np.ndarray) -> ObjectShape:
        area = float(np.count_nonzero(mask))
        return cls(area, float(np.sqrt(area / np.pi)), float(_depth(mask).max()))


def working_scale(shape: tuple[int, int], radius: float, diameter: float, min_side: int,
                  max_side: int) -> float:
    """Resize factor for a slice of ``shape`` whose exemplar has equivalent ``radius`` (px):
    the exemplar's diameter becomes ``diameter`` px, with the long side kept within
    ``[min_side, max_side]`` (at most ``max_side`` wins)."""
    long = max(shape)
    native = min(max(long, min_side), max_side) / long
    return float(min(max(diameter / (2.0 * radius), native), max_side / long))


def resized(arr: np.ndarray, shape: tuple[int, int], order: int) -> np.ndarray:
    out_shape = tuple(shape) + tuple(arr.shape[2:])
    if tuple(arr.shape) == out_shape:
        return arr
    anti = order > 0 and shape[0] < arr.shape[0]
    return resize(arr, out_shape, order=order, preserve_range=True, anti_aliasing=anti,
                  mode="edge")


def to_working_size(image: np.ndarray, exemplar: np.ndarray, blocked: np.ndarray,
                    scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, ObjectShape]:
    """The slice ``(H, W[, 3|4])``, the exemplar and the blocked pixels (``(H, W)`` bool)
    resized by ``scale``: ``(image float32, exemplar, blocked minus exemplar, the exemplar's
    shape)``; an exemplar that would vanish keeps every pixel it touches."""
    h, w = exemplar.shape
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    img = resized(image.astype(np.float32, copy=False), size, 1).astype(np.float32)
    ex = resized(exemplar.astype(np.float32), size, 1) >= 0.5
    if not ex.any():
        ex = resized(exemplar.astype(np.float32), size, 1) > 0
    blk = (resized(blocked.astype(np.float32), size, 1) > 0) & ~ex
    return img, ex, blk, ObjectShape.of(ex)


def to_slice_size(inst: np.ndarray, prob: np.ndarray, support: np.ndarray,
                  shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Instances (int32), probability (float32 in [0, 1]) and support mask (bool) of the
    working size resized back to the slice's ``shape`` ``(H, W)``."""
    prob = np.clip(resized(prob, shape, 1), 0, 1).astype(np.float32)
    inst = resized(inst, shape, 0).astype(np.int32)
    support = resized(support.astype(np.float32), shape, 1) >= 0.5
    return inst, prob, support


# -------------------------------------------------------------------------- instances
def split_instances(foreground: np.ndarray, min_distance: float, min_depth: float) -> np.ndarray:
    """Split a ``(H, W)`` bool foreground into instances: ``(H, W)`` int32 ids 1..n, 0 elsewhere.

    Watershed of the distance transform, seeded by its peaks that lie at least
    ``min_distance`` px apart and ``min_depth`` px deep; foreground parts without a seed
    (thinner than ``min_depth``) stay 0.
    """
    fg = np.asarray(foreground, dtype=bool)
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    depth = _depth(fg)
    components, _ = ndi.label(fg)
    peaks = peak_local_max(depth, min_distance=max(1, int(round(min_distance))),
                           threshold_abs=max(1.0, float(min_depth)), labels=components,
                           exclude_border=False)
    markers = np.zeros(fg.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    return watershed(-depth, markers, mask=fg).astype(np.int32)


def area_filter(instances: np.ndarray, area: float, settings: InstanceSettings
                 ) -> tuple[np.ndarray, int, int]:
    """Zero the instances whose area is outside the bounds; returns (kept, #small, #large)."""
    areas = np.bincount(instances.ravel())
    ids = np.flatnonzero(areas)
    ids = ids[ids > 0]
    small = areas[ids] < settings.min_area_ratio * area
    large = areas[ids] > settings.max_area_ratio * area
    keep = np.zeros(areas.size, bool)
    keep[ids[~small & ~large]] = True
    return np.where(keep[instances], instances, 0), int(small.sum()), int(large.sum())


def find_instances(foreground: np.ndarray, blocked: np.ndarray, shape: ObjectShape,
               settings: InstanceSettings) -> tuple[np.ndarray, int, int, int]:
    """Split ``foreground`` minus ``blocked`` into instances and apply the area filter;
    returns (instances, #candidates, #too small, #too large)."""
    inst = split_instances(foreground & ~blocked, settings.peak_distance_ratio * shape.radius,
                           settings.min_depth_ratio * shape.depth)
    n = int(inst.max())
    inst, small, large = area_filter(inst, shape.area, settings)
    return inst, n, small, large
