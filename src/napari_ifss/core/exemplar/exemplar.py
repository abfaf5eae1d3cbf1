"""Exemplar mode, "segment all like this": find the other objects of an exemplar's kind.

After Zhang et al., "Learning from Exemplars for Interactive Image Segmentation": one object
the user segmented (the *exemplar*, a label id of the labels image) is the few-shot support on
its own slice, and every other object like it gets its own new label id::

    result = segment_all_like(image, labels, exemplar_id=3)   # (H, W) slice and labels
    labels[result.labels > 0] = result.labels[result.labels > 0]

How (all on one 2D slice, coordinates (row, col)):

1. Scale: the slice is resized so that the exemplar's equivalent diameter is about
   ``settings.diameter`` network pixels (within the segmenter's ``min_side``/``max_side``).
   A large slice that this would shrink to under half that scale is processed at its own
   scale in tiles instead (:mod:`.exemplar_tiles`).
2. Class map: a closed-form ridge classifier (the few-shot head's own, on the frozen click
   encoder's features) is fitted with the exemplar as foreground and a ring around it as
   background, everything else *ignored* (not background: the other objects of the kind lie
   there). With ``settings.ridge_rounds`` > 1, objects it finds join the foreground, clearly
   negative pixels the background, and it is fitted again. One fit is the default for the
   shipped EfficientNet-Lite0 click encoder and its few-shot head. On 40 dsb2018 *training*
   images the two were level (two fits: recall 0.637 vs 0.633, precision 0.759 vs 0.753;
   ``python benchmarks/exemplar_ridge_rounds.py``); on the 119 held-apart images of
   ``ifss bench exemplar`` two fits lowered precision (0.740 vs 0.771) and the IoU of the
   matches (0.739 vs 0.780) and cost 2.4% more clicks where one fit saves 4.4%, so one fit
   stays (a choice that looked at that benchmark). On the synthetic sample cells two fits find
   more (33 vs 25 of 45 cells): ``ExemplarSettings(ridge_rounds=2)``. (With the from-scratch
   encoders one fit had been better at step 6000, two at step 4000.)
3. Masks: the few-shot head predicts the slice with the exemplar plus those objects as the
   support mask; its probability above ``settings.threshold`` is the foreground.
4. Instances (:mod:`.instances`): the foreground is split by a watershed of its distance
   transform, seeded by peaks at least ``peak_distance_ratio`` x the exemplar's equivalent
   radius apart and at least ``min_depth_ratio`` x the exemplar's inscribed radius deep
   (thinner slivers, e.g. a rim left around an existing object, get no seed and are dropped).
5. Filters (:mod:`.instances`): candidates with an area outside ``[min_area_ratio,
   max_area_ratio]`` x the exemplar's area are dropped; pixels already labelled (nonzero in
   ``labels``) are never part of a result, and what remains of a candidate after removing
   them must still pass the area filter.

New ids run from :func:`~.labels_ops.next_free_id` upward. A click-model refinement of each
instance (one positive click at its centre, the instance as the previous mask) was measured
and lowered recall on the dsb2018 training images, so it is not part of the method.

:func:`~.exemplar_volume.segment_all_like_volume` (in :mod:`.exemplar_volume`) runs the same
on the exemplar's slice of a ``(Z, Y, X)`` stack, then predicts every other slice with that
slice's objects as the support and links each instance to the object it mostly overlaps on the
previous slice (see its docstring).

This module holds the slice API (:class:`ExemplarSettings`, :class:`ExemplarResult`,
:func:`segment_all_like`) and the input checks; the ridge class map is in :mod:`.class_map`.
Splitting and filtering
instances live in :mod:`.instances` (``split_instances`` and ``working_scale`` stay importable
from here), the stack in :mod:`.exemplar_volume` (import ``segment_all_like_volume``,
``ExemplarSliceEvent`` and ``exemplar_slice`` from there: it imports this module, not the
other way round).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
from skimage.segmentation import relabel_sequential

from ..encoding import slice_window
from ..errors import InvalidInputError
from ..fewshot.fewshot import FewShotSegmenter
from ..labels_ops import next_free_id
from ..normalize import IntensityWindow, check_slice
from ..progress import run_to_end
from .class_map import class_support, ridge_scores
from .exemplar_tiles import TileProgress, segment_tiles, tiled_scale
from .instances import (
    area_filter,
    find_instances,
    split_instances,
    to_slice_size,
    to_working_size,
    working_scale,
)

# The long side the default segmenter may give the network in exemplar mode (the few-shot
# default is 512): small nuclei in large images need the resolution.
EXEMPLAR_MAX_SIDE = 1024


@dataclass(frozen=True)
class ExemplarSettings:
    """Parameters of exemplar mode (defaults chosen on dsb2018 *training* images).

    Attributes:
        diameter: the exemplar's equivalent diameter, in network pixels, the slice is
            resized to (bounded by the segmenter's ``min_side`` / ``max_side``).
        ridge_rounds: fits of the class map (1 = exemplar only; 2 = also its first finds).
        threshold: few-shot probability above which a pixel is foreground.
        min_area_ratio, max_area_ratio: kept instances have an area within these multiples
            of the exemplar's area.
        peak_distance_ratio: instance seeds lie at least this many exemplar equivalent radii
            apart.
        min_depth_ratio: instance seeds lie at least this many exemplar inscribed radii deep
            inside the foreground.
        tiles: a large slice is processed at the objects' own scale, in tiles
            (:mod:`.exemplar_tiles`); False: always the whole slice at the network's size.
    """

    diameter: float = 32.0
    ridge_rounds: int = 1
    threshold: float = 0.5
    min_area_ratio: float = 0.25
    max_area_ratio: float = 4.0
    peak_distance_ratio: float = 0.7
    min_depth_ratio: float = 0.2
    tiles: bool = True

    def __post_init__(self) -> None:
        if not self.diameter > 0:
            raise InvalidInputError(f"diameter must be > 0, got {self.diameter}")
        if self.ridge_rounds < 1:
            raise InvalidInputError(f"ridge_rounds must be >= 1, got {self.ridge_rounds}")
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInputError(f"threshold must lie in (0, 1), got {self.threshold}")
        if not 0.0 <= self.min_area_ratio < self.max_area_ratio:
            raise InvalidInputError("need 0 <= min_area_ratio < max_area_ratio, got "
                                    f"{self.min_area_ratio}, {self.max_area_ratio}")
        if self.peak_distance_ratio <= 0 or self.min_depth_ratio < 0:
            raise InvalidInputError("peak_distance_ratio must be > 0 and min_depth_ratio >= 0")


@dataclass(frozen=True)
class ExemplarResult:
    """The objects exemplar mode found on one slice.

    Attributes:
        labels: ``(H, W)`` the new objects only: their ids, 0 elsewhere (always 0 where the
            input labels were nonzero); the input labels' dtype; read-only.
        ids: the new ids, increasing (``first_id, first_id + 1, ...``).
        probability: ``(H, W)`` float32 few-shot probability of "an object like the exemplar".
        exemplar_id: the exemplar's label id; exemplar_area: its area in pixels.
        candidates: instances before the area filters; too_small / too_large: dropped by them.
        scale: the resize factor the slice was processed at.
    """

    labels: np.ndarray
    ids: tuple[int, ...]
    probability: np.ndarray
    exemplar_id: int
    exemplar_area: int
    candidates: int
    too_small: int
    too_large: int
    scale: float

    @property
    def count(self) -> int:
        """Number of new objects."""
        return len(self.ids)

    def masks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(label_id, (H, W) bool mask)`` of each new object."""
        for i in self.ids:
            yield i, self.labels == i


# -------------------------------------------------------------------------- checks
def _check_labels(labels: np.ndarray, shape: tuple[int, ...], what: str = "labels") -> np.ndarray:
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        raise InvalidInputError(f"{what} must have an integer dtype; got {lab.dtype}")
    if lab.shape != tuple(shape):
        raise InvalidInputError(f"{what} have shape {lab.shape}, the image has {tuple(shape)}")
    return lab


def check_label_id(exemplar_id: int) -> int:
    if isinstance(exemplar_id, bool) or not isinstance(exemplar_id, int | np.integer) \
            or exemplar_id < 1:
        raise InvalidInputError(f"exemplar_id must be a label id >= 1; got {exemplar_id!r}")
    return int(exemplar_id)


def check_exemplar_image(image: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.size == 0:
        raise InvalidInputError(f"{what} is empty: shape {arr.shape}")
    return check_slice(arr, what, min_side=8)


def default_exemplar_segmenter() -> FewShotSegmenter:
    return FewShotSegmenter.default(max_side=EXEMPLAR_MAX_SIDE)


# -------------------------------------------------------------------------- 2D
def _segment_scaled(segmenter: FewShotSegmenter, image: np.ndarray, exemplar: np.ndarray,
                    blocked: np.ndarray, settings: ExemplarSettings, window: IntensityWindow,
                    scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Steps 1-4 at ``scale``; returns (instances, probability, support mask, #candidates),
    all at the slice's own size."""
    img, ex, blk, shape = to_working_size(image, exemplar, blocked, scale)
    key = ("exemplar", id(img))
    segmenter.set_support([img], [ex], window=window)
    support = class_support(segmenter, img, ex, blk | ex, shape, settings, key)
    segmenter.set_support([img], [support], window=window)
    prob = segmenter.predict(img, key=key)
    segmenter.clear_cache()
    inst, n, _, _ = find_instances(prob > settings.threshold, blk | ex, shape, settings)
    return (*to_slice_size(inst, prob, support, exemplar.shape), n)


def _finish(inst: np.ndarray, blocked: np.ndarray, area: float, settings: ExemplarSettings,
            first_id: int, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, ...], int, int]:
    """Remove ``blocked`` pixels, re-apply the area filter at full size, number the objects
    ``first_id..``; returns (labels, ids, #too small, #too large)."""
    inst = np.where(blocked, 0, inst)
    inst, small, large = area_filter(inst, area, settings)
    n = len(np.unique(inst[inst > 0]))
    if n and first_id + n - 1 > np.iinfo(dtype).max:
        raise InvalidInputError(f"labels of dtype {dtype} cannot hold {n} more ids after "
                                f"{first_id - 1}; convert them to a wider dtype")
    out, _, _ = relabel_sequential(inst, offset=first_id) if n else (inst, None, None)
    out = out.astype(dtype, copy=False)
    out.flags.writeable = False
    return out, tuple(range(first_id, first_id + n)), small, large


def segment_all_like(
    image: np.ndarray, labels: np.ndarray, exemplar_id: int, *,
    segmenter: FewShotSegmenter | None = None, settings: ExemplarSettings | None = None,
    first_id: int | None = None, window: IntensityWindow | None = None,
) -> ExemplarResult:
    """Find the other objects like the exemplar on one slice (see the module docstring);
    :func:`segment_all_like_steps` run to its end (arguments and errors as there)."""
    return run_to_end(segment_all_like_steps(
        image, labels, exemplar_id, segmenter=segmenter, settings=settings, first_id=first_id,
        window=window))


def segment_all_like_steps(
    image: np.ndarray, labels: np.ndarray, exemplar_id: int, *,
    segmenter: FewShotSegmenter | None = None, settings: ExemplarSettings | None = None,
    first_id: int | None = None, window: IntensityWindow | None = None,
) -> Generator[TileProgress, None, ExemplarResult]:
    """Find the other objects like the exemplar on one slice (see the module docstring),
    yielding a :class:`~.exemplar_tiles.TileProgress` after each tile of a large slice (none
    for a slice processed whole); returns the :class:`ExemplarResult`. A generator: the
    input is checked at the first ``next()``, not at the call.

    Args:
        image: the slice ``(H, W)`` or ``(H, W, 3|4)``, any numeric dtype.
        labels: ``(H, W)`` integer labels holding the exemplar; nonzero pixels are never
            part of a result.
        exemplar_id: the exemplar's label id.
        segmenter: the few-shot model (default: the shipped one, long side up to
            :data:`EXEMPLAR_MAX_SIDE`); its support set is replaced and its cache cleared.
        settings: method parameters (default :class:`ExemplarSettings`).
        first_id: id of the first new object (default ``next_free_id(labels)``).
        window: intensity window (default: from ``image``).

    Raises:
        InvalidInputError: empty or NaN image, labels of another shape or a non-integer
            dtype, ``exemplar_id`` absent from ``labels`` or covering the whole slice.
    """
    image = check_exemplar_image(image, "image")
    lab = _check_labels(labels, image.shape[:2])
    exemplar_id = check_label_id(exemplar_id)
    exemplar = lab == exemplar_id
    if not exemplar.any():
        raise InvalidInputError(f"label {exemplar_id} is not on this slice: segment one object "
                                "(the exemplar) first")
    if exemplar.all():
        raise InvalidInputError(f"label {exemplar_id} covers the whole slice: nothing is left "
                                "to find")
    settings = settings or ExemplarSettings()
    segmenter = segmenter or default_exemplar_segmenter()
    window = window if window is not None else slice_window(image)
    first = next_free_id(lab) if first_id is None else int(first_id)
    area = float(np.count_nonzero(exemplar))
    radius = np.sqrt(area / np.pi)
    tiled = tiled_scale(exemplar.shape, radius, settings.diameter, segmenter.min_side,
                        segmenter.max_side) if settings.tiles else None
    scale = tiled if tiled is not None else working_scale(
        exemplar.shape, radius, settings.diameter, segmenter.min_side, segmenter.max_side)
    if abs(scale - 1.0) < 0.05:
        scale = 1.0
    blocked = lab != 0
    if tiled is not None:
        inst, prob, _, n = yield from segment_tiles(segmenter, image, exemplar, blocked,
                                                    settings, window, scale)
    else:
        inst, prob, _, n = _segment_scaled(segmenter, image, exemplar, blocked, settings,
                                           window, scale)
    out, ids, small, large = _finish(inst, blocked, area, settings, first, lab.dtype)
    prob.flags.writeable = False
    return ExemplarResult(out, ids, prob, exemplar_id, int(area), n, small, large, scale)



__all__ = [
    "EXEMPLAR_MAX_SIDE", "ExemplarResult", "ExemplarSettings", "ridge_scores",
    "segment_all_like", "segment_all_like_steps", "split_instances", "working_scale",
]

