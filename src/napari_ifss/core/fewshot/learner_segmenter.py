"""The per-volume learner behind the slice interface of the propagation engine.

:func:`~napari_ifss.core.fewshot.propagation.propagate` (and :func:`~napari_ifss.core.fewshot.transfer.transfer`)
drive a *slice model*: ``set_support(images, masks, positions, window)`` once per object, then
``predict(image, position, neighbour, key)`` per slice, nearest slices first, with the mask just
found on the adjacent slice as ``neighbour``. :class:`~napari_ifss.core.fewshot.fewshot.FewShotSegmenter`
(the meta-learned head, method ``"head"``) is one; :class:`LearnerSegmenter` (method
``"learner"``, the default) is the other: it fits a
:class:`~napari_ifss.core.fewshot.volume_learner.VolumeLearner` on the support slices and answers each
query with :meth:`~napari_ifss.core.fewshot.volume_learner.VolumeLearner.segment_slice`, so the
neighbour prior, the end of an object (an empty neighbour gives an empty slice) and the
spacing-dependent prior margin are the learner's own.

On slices longer than :data:`FOCUS_ABOVE` px the learner of one object works in a *focus box*
around its support (:func:`focus_box`): its features cover that box, at the slice's own
resolution, and the slice outside it is "not the object". On stacks of 2048 px slices this
kept one 40 px cell's IoU and memory at what 1024 px slices give
(``benchmarks/large_slice_propagation.py``).

Importing this module does not import torch (the command line reads :data:`METHODS` from it).
Memory stays flat in the number of slices: the features of at most ``cache_size`` slices are
kept (filters and trunk pyramids, oldest dropped first). Slices are ``(H, W)`` or
``(H, W, 3|4)`` (row, col), or the channels of one slice used together
(:class:`~napari_ifss.core.channels.Channels` of ``(H, W)`` arrays: each channel's features
under its own window, side by side); spacing is ``(z, y, x)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..channels import Channels
from ..errors import InvalidInputError, NotReadyError
from ..normalize import IntensityWindow
from ..spans import span_above
from .support import check_query, check_support

if TYPE_CHECKING:  # torch is imported when a learner is built, not with this module
    from .trunk_features import TrunkFeatures
    from .volume_features import ChannelFeatures, SliceFeatures
    from .volume_learner import LearnerConfig, VolumeLearner

__all__ = ["DEFAULT_METHOD", "FOCUS_ABOVE", "METHODS", "LearnerSegmenter", "check_method",
           "check_spacing", "focus_box"]

METHODS = ("learner", "head")
DEFAULT_METHOD = "learner"
CACHE_SLICES = 16  # slices whose features are kept (filters + trunk pyramid)
# Slices longer than this are cropped to a focus box around the object (one per support set):
# the object's support bounding box grown by FOCUS_MARGIN times its extent, at least
# FOCUS_MARGIN_MIN px, on every side. Class-like supports (many instances) keep whole slices.
FOCUS_ABOVE = 1024
FOCUS_MARGIN, FOCUS_MARGIN_MIN = 1.0, 256
# ... and at most this many bytes of filter features (a 1024 x 1024 slice holds ~40 MB)
CACHE_BYTES = 256 * 2**20


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`.

    Raises:
        InvalidInputError: naming the choices.
    """
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def check_spacing(spacing: Sequence[float] | None) -> tuple[float, float, float]:
    """``(z, y, x)`` voxel spacing as floats, ``(1, 1, 1)`` for None.

    Raises:
        InvalidInputError: not three positive finite numbers.
    """
    if spacing is None:
        return 1.0, 1.0, 1.0
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise InvalidInputError(f"spacing must be three numbers (z, y, x); got {spacing!r}"
                                ) from None
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise InvalidInputError(f"spacing must be three positive numbers (z, y, x); got "
                                f"{spacing!r}")
    return values  # type: ignore[return-value]


class LearnerSegmenter:
    """A per-volume learner that answers the propagation engine slice by slice.

    One instance serves one volume: cached features are keyed by slice position.

    Args:
        cfg: the learner's design (default :class:`LearnerConfig`, the benchmarked one).
        spacing: ``(z, y, x)`` voxel spacing (only ratios matter: thick slices widen the
            neighbour prior's margin).
        threshold: probability above which a pixel is the object (the learner's end rule
            compares areas of masks at this threshold).
        trunk: a shared :class:`TrunkFeatures` (default: one built on first use, keeping
            ``cache_size`` slices).
        cache_size: slices whose features are kept.
    """

    def __init__(self, cfg: LearnerConfig | None = None,
                 spacing: Sequence[float] | None = None, threshold: float | None = None,
                 trunk: TrunkFeatures | None = None, cache_size: int = CACHE_SLICES,
                 focus_above: int | None = FOCUS_ABOVE) -> None:
        from .volume_learner import LearnerConfig

        cfg = cfg if cfg is not None else LearnerConfig()
        if threshold is not None:
            if not 0.0 < threshold < 1.0:
                raise InvalidInputError(f"threshold must lie in (0, 1), got {threshold}")
            cfg = replace(cfg, threshold=float(threshold))
        self.cfg = cfg
        self.spacing = check_spacing(spacing)
        self.cache_size = max(1, int(cache_size))
        self._trunk = trunk
        self._view: dict[Hashable, np.ndarray] = {}  # what SliceFeatures reads, one at a time
        self._features: SliceFeatures | ChannelFeatures | None = None
        self._learner: VolumeLearner | None = None
        self._n_support = 0
        self._ids = itertools.count()
        self.window: IntensityWindow | tuple[IntensityWindow, ...] | None = None
        self.focus_above = focus_above
        self.box: tuple[int, int, int, int] | None = None  # the focus box (r0, r1, c0, c1)

    @property
    def support_count(self) -> int:
        """Number of support slices of the current fit (0 before :meth:`set_support`)."""
        return self._n_support if self._learner is not None else 0

    def set_support(self, images: Sequence[np.ndarray] | np.ndarray,
                    masks: Sequence[np.ndarray] | np.ndarray,
                    positions: Sequence[int] | None = None,
                    window: IntensityWindow | tuple[IntensityWindow, ...] | None = None
                    ) -> None:
        """Fit the learner on ``K >= 1`` support slices ``(H, W)`` / ``(H, W, 3|4)`` (or
        :class:`~napari_ifss.core.channels.Channels` of one slice each) and their masks
        ``(H, W)`` (nonzero = object) at z ``positions`` (None: slices of another stack,
        queried without position); ``window``: one for all, one per channel, or None (from
        the support slices, per channel).

        Raises:
            InvalidInputError: empty support, count or shape mismatch, NaN, no object or no
                background in the masks.
        """
        from ..encoding import slices_window
        from .volume_features import ChannelFeatures, SliceFeatures
        from .volume_learner import VolumeLearner

        imgs, binary = check_support(images, masks, positions, min_side=2)
        box = focus_box(binary, self.focus_above)
        if box != self.box:  # cached features are of another crop
            self.clear_cache()
            self.box = box
        if box is not None:
            r0, r1, c0, c1 = box
            imgs = [im[r0:r1, c0:c1] for im in imgs]
            binary = [b[r0:r1, c0:c1] for b in binary]
        channels = isinstance(imgs[0], Channels)
        if channels:
            wins = imgs[0].windows_under(window)
            window = tuple(w if w is not None else slices_window([im.arrays[k] for im in imgs])
                           for k, w in enumerate(wins))
        elif isinstance(window, tuple):
            raise InvalidInputError("one window per channel needs several channels (Channels)")
        else:
            window = window if window is not None else slices_window(imgs)
        if self._features is None or window != self.window:
            self._features = (ChannelFeatures(self._view, window, self._get_trunk(), id(self))
                              if channels else
                              SliceFeatures(self._view, window, self._get_trunk(), name=id(self)))
        self.window = window
        keys: list[Hashable] = ([int(p) for p in positions] if positions is not None
                                else [("support", next(self._ids)) for _ in imgs])
        if len(set(keys)) != len(keys):
            raise InvalidInputError(f"support positions repeat: {list(positions or [])}")
        self._view.update(zip(keys, imgs, strict=True))
        try:
            learner = VolumeLearner(self._features, self.cfg, self.spacing)
            learner.fit(dict(zip(keys, binary, strict=True)))
        finally:
            for k in keys:
                self._view.pop(k, None)
            self._trim()
        self._learner, self._n_support = learner, len(imgs)

    def predict(self, image: np.ndarray, position: int | None = None,
                neighbour: np.ndarray | None = None, key: Hashable | None = None) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] of the slice ``image`` at z
        ``position``; ``neighbour``: the object's mask (or mean of masks) ``(H, W)`` on the
        adjacent slice(s), the prior; an empty one ends the front (all zeros). Above
        ``cfg.threshold`` exactly where the learner's mask is (its end rule included).
        ``key`` is accepted for the engine's interface; features are cached by position.

        Raises:
            NotReadyError: no support set yet.
            InvalidInputError: a bad slice or a neighbour of another shape.
        """
        if self._learner is None:
            raise NotReadyError("no support set: call set_support(images, masks) first")
        image = check_query(image, self.window)
        shape = tuple(image.shape[:2])
        nb = None
        if neighbour is not None:
            nb = np.asarray(neighbour) > 0
            if nb.shape != shape:
                raise InvalidInputError(f"neighbour mask has shape {nb.shape}, the image has "
                                        f"shape {shape}")
        if self.box is not None:  # the focus box: the learner sees only it, zeros elsewhere
            r0, r1, c0, c1 = self.box
            if r1 > shape[0] or c1 > shape[1]:
                raise InvalidInputError(f"a slice of shape {shape} is smaller than the support "
                                        "slices")
            inner = self._predict_crop(image[r0:r1, c0:c1], position,
                                      None if nb is None else nb[r0:r1, c0:c1])
            out = np.zeros(shape, np.float32)
            out[r0:r1, c0:c1] = inner
            return out
        return self._predict_crop(image, position, nb)

    def _predict_crop(self, image: np.ndarray, position: int | None,
                     nb: np.ndarray | None) -> np.ndarray:
        """:meth:`predict` of a checked slice (the focus box's crop) and bool neighbour."""
        z: Hashable = int(position) if position is not None else ("query", next(self._ids))
        self._view[z] = image
        try:
            mask, prob = self._learner.segment_slice(z, nb)
        finally:
            self._view.pop(z, None)
            self._trim()
        return np.where(mask, prob, np.minimum(prob, self.cfg.threshold)).astype(np.float32)

    def clear_cache(self) -> None:
        """Forget all cached slice features."""
        if self._features is not None:
            for cache in self._features.filter_caches():
                cache.clear()
        if self._trunk is not None:
            self._trunk.clear()

    def _get_trunk(self) -> TrunkFeatures | None:
        if self._trunk is None and self.cfg.levels:
            from .trunk_features import TrunkFeatures

            self._trunk = TrunkFeatures(self.cfg.levels, self.cfg.min_side, self.cfg.max_side,
                                        cache_size=self.cache_size)
        return self._trunk

    def _trim(self) -> None:
        """Keep the filter features of the last ``cache_size`` slices, at most
        :data:`CACHE_BYTES` of them but always the newest (the trunk's own LRU keeps
        ``cache_size`` pyramids, which are smaller)."""
        caches = self._features.filter_caches() if self._features is not None else []
        for cache in caches:  # per channel: each channel's slices are as large as a slice
            held = sum(int(getattr(a, "nbytes", 0)) for a in cache.values())
            limit = CACHE_BYTES // max(1, len(caches))
            while len(cache) > 1 and (len(cache) > self.cache_size or held > limit):
                held -= int(getattr(cache.pop(next(iter(cache))), "nbytes", 0))


def focus_box(masks: Sequence[np.ndarray], above: int | None
              ) -> tuple[int, int, int, int] | None:
    """The focus box ``(r0, r1, c0, c1)`` of support masks ``(H, W)`` on slices longer than
    ``above`` px: their union's bounding box grown on each side by :data:`FOCUS_MARGIN` times
    its extent, at least :data:`FOCUS_MARGIN_MIN` px, clipped to the slice; None for smaller
    slices, ``above`` None, class-like masks (many instances:
    :func:`~.volume_learner.is_class_like`) or a box that is the whole slice."""
    from .volume_learner import is_class_like

    h, w = masks[0].shape[:2]
    if above is None or max(h, w) <= above or is_class_like(list(masks)):
        return None
    r0, r1, c0, c1 = span_above(np.logical_or.reduce([np.asarray(m, bool) for m in masks]), 0)
    box = []
    for (lo, hi), n in (((r0, r1), h), ((c0, c1), w)):
        grow = max(FOCUS_MARGIN_MIN, int(round(FOCUS_MARGIN * (hi - lo))))
        box += [max(0, int(lo) - grow), min(n, int(hi) + grow)]
    if box == [0, h, 0, w]:
        return None  # the whole slice
    return box[0], box[1], box[2], box[3]
