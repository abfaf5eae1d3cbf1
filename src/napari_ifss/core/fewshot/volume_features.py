"""Per-pixel features of the slices of one volume for the per-volume learner, cached per slice.

* Filters (:func:`filter_features`): scikit-image ``multiscale_basic_features`` (intensity,
  edges, texture at sigma 1 .. ``sigma_max``), the ilastik / napari-convpaint recipe.
* Trunk levels (:class:`~.trunk_features.TrunkFeatures`): the frozen ImageNet
  EfficientNet-Lite pyramid, bilinear on the source grid, small slices upsampled first.

Slices are ``(H, W)`` or ``(H, W, 3)``; features ``(H, W, F)`` float32, (row, col) order.
Several channels (:class:`ChannelFeatures`): each channel's features under its own window,
side by side (the filters of every channel, then the trunk levels of every channel).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..normalize import IntensityWindow
from .trunk_features import TrunkFeatures, TrunkMaps

if TYPE_CHECKING:
    from .volume_learner import LearnerConfig


def filter_features(norm: np.ndarray, sigma_max: float = 16.0,
                    workers: int | None = None) -> np.ndarray:
    """``(H, W, F)`` float32 multiscale intensity/edge/texture features of a slice already in
    [0, 1] (``(H, W)`` grey or ``(H, W, 3)``); the scales run on ``workers`` threads (default
    torch's thread count, so that ``--threads`` bounds them too; the result does not depend
    on it)."""
    from skimage.feature import multiscale_basic_features

    channel_axis = -1 if norm.ndim == 3 else None
    return multiscale_basic_features(norm, sigma_min=1.0, sigma_max=sigma_max,
                                     channel_axis=channel_axis,
                                     workers=workers or torch.get_num_threads()
                                     ).astype(np.float32, copy=False)


@dataclass
class SliceFeatures:
    """Features of the slices of one volume under one window, cached per slice.

    Args:
        volume: ``(Z, Y, X)`` or ``(Z, Y, X, 3)`` array-like (read one slice at a time).
        window: intensity window of the volume.
        trunk: shared :class:`TrunkFeatures` (needed when a config uses trunk levels).
        name: cache key prefix (distinguishes volumes sharing one ``trunk``).
    """

    volume: object
    window: IntensityWindow
    trunk: TrunkFeatures | None = None
    name: Hashable = "volume"
    _filters: dict = field(default_factory=dict, repr=False)

    def slice(self, z: int, cfg: LearnerConfig) -> np.ndarray:
        """``(H, W, F)`` float32 features of slice ``z`` for ``cfg``: filters, then trunk."""
        image = np.asarray(self.volume[z])  # type: ignore[index]
        parts = []
        if cfg.filters:
            parts.append(self._filters_of(z, image, cfg).astype(np.float32))
        if cfg.levels:
            parts.append(self._trunk(cfg).pixel_features(
                image, self.window, key=(self.name, z), levels=cfg.levels,
                side_range=cfg.side_range(image.shape)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def rows(self, z: int, cfg: LearnerConfig, idx: np.ndarray) -> np.ndarray:
        """``(N, F)`` float32: the rows of :meth:`slice` at the flat pixel indices ``idx``,
        without the ``(H, W, F)`` copy and concatenation of :meth:`slice` (the trunk's
        ``(C, H, W)`` map on the source grid is still made once)."""
        image = np.asarray(self.volume[z])  # type: ignore[index]
        parts = []
        if cfg.filters:
            f = self._filters_of(z, image, cfg)
            parts.append(f.reshape(-1, f.shape[-1])[idx].astype(np.float32))
        if cfg.levels:
            parts.append(self._trunk(cfg).pixel_rows(
                image, self.window, idx, key=(self.name, z), levels=cfg.levels,
                side_range=cfg.side_range(image.shape)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def _filters_of(self, z: int, image: np.ndarray, cfg: LearnerConfig) -> np.ndarray:
        key = (z, cfg.sigma_max)
        if key not in self._filters:
            norm = self.window.apply(image[..., :3] if image.ndim == 3 else image)
            # torch's float32 -> float16 cast: the same bits as numpy's, several times faster
            self._filters[key] = torch.from_numpy(filter_features(norm, cfg.sigma_max)
                                                  ).half().numpy()
        return self._filters[key]

    def parts(self, z: int, cfg: LearnerConfig) -> SliceParts:
        """The features of slice ``z`` before the trunk levels are brought to full resolution
        (what :meth:`slice` concatenates, in the same order), for the fast classifier path."""
        image = np.asarray(self.volume[z])  # type: ignore[index]
        shape = (int(image.shape[0]), int(image.shape[1]))
        filters = trunk = None
        if cfg.filters:
            f = self._filters_of(z, image, cfg)
            filters = torch.from_numpy(f.reshape(-1, f.shape[-1])).float()
        if cfg.levels:
            trunk = self._trunk(cfg).base_map(
                image, self.window, key=(self.name, z), levels=cfg.levels,
                side_range=cfg.side_range(image.shape))
        return SliceParts(shape, filters, trunk)

    def _trunk(self, cfg: LearnerConfig) -> TrunkFeatures:
        if self.trunk is None:
            self.trunk = TrunkFeatures(cfg.levels, cfg.min_side, cfg.max_side)
        return self.trunk

    def filter_caches(self) -> list[dict]:
        """The caches of filter features (per slice), for a caller that bounds their size."""
        return [self._filters]


class _ChannelView:
    """Channel ``k`` of a volume (or of a mapping of slices) whose items are
    :class:`~napari_ifss.core.channels.Channels`: ``view[z]`` is that channel's slice."""

    def __init__(self, volume: object, k: int) -> None:
        self.volume, self.k = volume, k

    def __getitem__(self, z: Hashable) -> object:
        return self.volume[z].arrays[self.k]  # type: ignore[index]


class ChannelFeatures:
    """Features of a volume's channels side by side, each channel under its own window: the
    same interface as :class:`SliceFeatures` (``slice``, ``rows``, ``parts``); features in the
    order: filters of channel 0, 1, ..., then trunk levels of channel 0, 1, ...

    Args:
        volume: ``(Z, Y, X)`` :class:`~napari_ifss.core.channels.Channels`, or a mapping whose
            items are the Channels of single slices.
        windows: one intensity window per channel.
        trunk: shared :class:`TrunkFeatures` (each channel is cached under its own key).
        name: cache key prefix.
    """

    def __init__(self, volume: object, windows: Sequence[IntensityWindow],
                 trunk: TrunkFeatures | None = None, name: Hashable = "volume") -> None:
        self.channels = [SliceFeatures(_ChannelView(volume, k), w, trunk, name=(name, k))
                         for k, w in enumerate(windows)]

    def _each(self, cfg: LearnerConfig, method: str, *args) -> list:
        """``method`` of every channel, filters first, then trunk levels."""
        out = []
        if cfg.filters:
            out += [getattr(c, method)(*args[:1], replace(cfg, levels=()), *args[1:])
                    for c in self.channels]
        if cfg.levels:
            out += [getattr(c, method)(*args[:1], replace(cfg, filters=False), *args[1:])
                    for c in self.channels]
        return out

    def slice(self, z: int, cfg: LearnerConfig) -> np.ndarray:
        """``(H, W, F)`` float32: every channel's features (see the class docstring)."""
        return np.concatenate(self._each(cfg, "slice", z), axis=-1)

    def rows(self, z: int, cfg: LearnerConfig, idx: np.ndarray) -> np.ndarray:
        """``(N, F)`` float32: the rows of :meth:`slice` at flat pixel indices ``idx``."""
        return np.concatenate(self._each(cfg, "rows", z, idx), axis=-1)

    def parts(self, z: int, cfg: LearnerConfig) -> SliceParts:
        """:meth:`SliceFeatures.parts` of every channel joined in :meth:`slice`'s order."""
        each = [c.parts(z, cfg) for c in self.channels]
        filters = None if not cfg.filters else torch.cat([p.filters for p in each], dim=1)
        trunk = None
        if cfg.levels:
            first = each[0].trunk
            trunk = TrunkMaps([m for p in each for m in p.trunk.maps],
                              [r for p in each for r in p.trunk.ratios],
                              first.base, first.size, first.source)
        return SliceParts(each[0].shape, filters, trunk)

    def filter_caches(self) -> list[dict]:
        """Every channel's cache of filter features."""
        return [c._filters for c in self.channels]


@dataclass(frozen=True)
class SliceParts:
    """One slice's features in parts: ``filters`` ``(H * W, F_f)`` float32 (row-major pixels)
    and the trunk levels before their resize onto the slice (:class:`TrunkMaps`)."""

    shape: tuple[int, int]
    filters: torch.Tensor | None
    trunk: TrunkMaps | None
