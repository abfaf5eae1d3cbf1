"""Per-pixel features of a slice from the frozen ImageNet EfficientNet-Lite trunk.

The slice goes through the project's one encoding path (:mod:`.encoding`: intensity window,
``(3, H, W)`` in [0, 1], :class:`~.encoding.NetworkGeometry`, :class:`~.encoding.SliceEncoder`
with ``stage`` = the trunk's pyramid, cached per slice). Small slices are *upsampled* before the
trunk (long side clipped to ``[min_side, max_side]``): a 100-pixel CT slice seen at 256 or 512
gets stride-4 features that are about one source pixel apart instead of four.

:meth:`TrunkFeatures.pixel_features` resamples the chosen pyramid levels (bilinear) onto the
finest chosen level's grid and from there onto the source grid, and returns them as
``(H, W, C)`` float32, the layout of scikit-image's ``multiscale_basic_features`` so that both
can be concatenated along the last axis. :meth:`TrunkFeatures.base_map` returns the levels
with both resizes (:class:`TrunkMaps`), so that a classifier's first (linear) layer can run on
each level's own small grid.
Coordinates are (row, col).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..encoding import EncodedSlice, SliceEncoder
from ..errors import InvalidInputError
from ..normalize import IntensityWindow

LEVELS = ("c2", "c4", "c8", "c16", "c32")


class TrunkPyramid(nn.Module):
    """ImageNet normalisation + frozen trunk: ``(B, 3, H, W)`` in [0, 1] (H, W multiples of
    32) -> ``[c2, c4, c8, c16, c32]`` (strides 2 .. 32; 16/24/40/112/320 channels for lite0),
    or only the first ``n_levels`` of them: the blocks after the last one needed are not run
    (without c32, lite0's stride-32 blocks, about a quarter of its operations)."""

    def __init__(self, variant: str = "lite0", n_levels: int = len(LEVELS)) -> None:
        super().__init__()
        from ...models.backbone_weights import pretrained_trunk
        from ...models.pretrained_encoder import IMAGENET_MEAN, IMAGENET_STD

        if not 1 <= n_levels <= len(LEVELS):
            raise InvalidInputError(f"n_levels must be 1..{len(LEVELS)}; got {n_levels}")
        self.variant, self.n_levels = variant, int(n_levels)
        self.trunk = pretrained_trunk(variant).eval().requires_grad_(False)
        self.channels = tuple(self.trunk.channels)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    @torch.no_grad()
    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        if self.n_levels == len(LEVELS):
            return self.trunk(x)
        # the trunk's own forward (EfficientNetLite.forward), stopped after the last tap needed
        t = self.trunk
        x = t.act(t._bn0(t._conv_stem(t.stem_pad(x))))
        out: list[torch.Tensor] = []
        for i, block in enumerate(t._blocks):
            x = block(x)
            if i in t.taps:
                out.append(x)
                if len(out) == self.n_levels:
                    break
        return out


class TrunkFeatures:
    """Cached trunk pyramids of slices and their per-pixel features on the source grid.

    Args:
        levels: pyramid levels to return, a subset of :data:`LEVELS` (e.g. ``("c2", "c4")``).
        min_side, max_side: the long side of a slice is clipped to this range before the
            trunk (``min_side`` > the slice's long side upsamples it).
        variant: EfficientNet-Lite variant (``lite0``, ``lite1``, ``lite2``).
        cache_size: encoded slices kept (LRU by key).
        pyramid: an already built :class:`TrunkPyramid` to share (default: a new one that
            computes the levels up to ``deepest``).
        deepest: the deepest level any call may ask for (default: the deepest of ``levels``);
            the trunk stops there.
    """

    def __init__(self, levels: Sequence[str] = ("c2", "c4", "c8"), min_side: int = 256,
                 max_side: int = 512, variant: str = "lite0", cache_size: int = 512,
                 pyramid: TrunkPyramid | None = None, deepest: str | None = None) -> None:
        unknown = [lv for lv in [*levels, *([deepest] if deepest else [])] if lv not in LEVELS]
        if unknown or not levels:
            raise InvalidInputError(f"trunk levels must be a non-empty subset of {LEVELS}; "
                                    f"got {list(levels)}" + (f", deepest {deepest}"
                                                             if deepest else ""))
        if not 32 <= min_side <= max_side:
            raise InvalidInputError(f"need 32 <= min_side <= max_side; got {min_side}, "
                                    f"{max_side}")
        self.levels = tuple(levels)
        self.side_range = (int(min_side), int(max_side))
        n_levels = max(LEVELS.index(lv) for lv in [*levels, *([deepest] if deepest else [])]) + 1
        self.net = pyramid if pyramid is not None else TrunkPyramid(variant, n_levels)
        self.encoder = SliceEncoder(self.net, "cpu", cache_size=cache_size, stage=self.net,
                                    dtype=torch.float16)

    @property
    def n_features(self) -> int:
        """Channels of :meth:`pixel_features` (sum over the chosen levels)."""
        return sum(self.net.channels[LEVELS.index(lv)] for lv in self.levels)

    def encode(self, image: np.ndarray, window: IntensityWindow | None,
               key: Hashable | None = None,
               side_range: tuple[int, int] | None = None) -> EncodedSlice:
        """The trunk pyramid of ``image`` ``(H, W)`` / ``(H, W, 3)`` (cached under ``key``;
        ``side_range`` overrides the default ``(min_side, max_side)``)."""
        return self.encoder.encode_slice(image, side_range or self.side_range, window=window,
                                         key=key, min_size=2)

    def base_map(self, image: np.ndarray, window: IntensityWindow | None,
                 key: Hashable | None = None, levels: Sequence[str] | None = None,
                 side_range: tuple[int, int] | None = None) -> TrunkMaps:
        """The chosen levels (default: this object's) of ``image``, cropped to the cells that
        cover the slice, with the resizes onto the finest level's grid and the source grid."""
        chosen = sorted(levels or self.levels, key=LEVELS.index)
        if LEVELS.index(chosen[-1]) >= self.net.n_levels:
            raise InvalidInputError(
                f"level {chosen[-1]} is deeper than this trunk computes "
                f"({LEVELS[self.net.n_levels - 1]}): build TrunkFeatures with deepest="
                f"{chosen[-1]!r}")
        enc = self.encode(image, window, key, side_range)
        geo = enc.geometry
        base = 2 ** (LEVELS.index(chosen[0]) + 1)
        hb, wb = -(-geo.size[0] // base), -(-geo.size[1] // base)  # cells covering the slice
        maps, ratios = [], []
        for lv in chosen:
            stride = 2 ** (LEVELS.index(lv) + 1)
            hh, ww = -(-geo.size[0] // stride), -(-geo.size[1] // stride)
            maps.append(enc.feats[LEVELS.index(lv)][0, :, :hh, :ww].float())
            ratios.append(stride // base)
        # the base cells span (hb * base, wb * base) network pixels: resized to that size in
        # source pixels, cell centres line up; then cropped to the source
        size = (max(round(hb * base / geo.scale[0]), geo.source[0]),
                max(round(wb * base / geo.scale[1]), geo.source[1]))
        return TrunkMaps(maps, ratios, (hb, wb), size, geo.source)

    def pixel_features(self, image: np.ndarray, window: IntensityWindow | None,
                       key: Hashable | None = None, levels: Sequence[str] | None = None,
                       side_range: tuple[int, int] | None = None) -> np.ndarray:
        """``(H, W, C)`` float32: the levels (default: this object's) resized onto the finest
        chosen level's grid, then onto the source grid ``(H, W)`` (:class:`TrunkMaps`);
        several level sets / side ranges can share one cache this way."""
        source = self._on_source(image, window, key, levels, side_range)
        return source.permute(1, 2, 0).contiguous().numpy()

    def pixel_rows(self, image: np.ndarray, window: IntensityWindow | None, idx: np.ndarray,
                   key: Hashable | None = None, levels: Sequence[str] | None = None,
                   side_range: tuple[int, int] | None = None) -> np.ndarray:
        """``(N, C)`` float32: the rows of :meth:`pixel_features` at the flat pixel indices
        ``idx`` of the source grid (the same resizes; no ``(H, W, C)`` copy is made)."""
        source = self._on_source(image, window, key, levels, side_range)
        flat = source.reshape(source.shape[0], -1)
        return np.ascontiguousarray(flat[:, torch.as_tensor(idx, dtype=torch.long)].T.numpy())

    def _on_source(self, image: np.ndarray, window: IntensityWindow | None,
                   key: Hashable | None, levels: Sequence[str] | None,
                   side_range: tuple[int, int] | None) -> torch.Tensor:
        """``(C, H, W)``: the chosen levels on the source grid (see :meth:`pixel_features`)."""
        t = self.base_map(image, window, key, levels, side_range)
        # channel-first on purpose: channels-last resizes are ~3x faster here but round
        # differently (~1e-6), and the classifier fitted on these features amplifies that to
        # ~0.01 Dice on some 2D images; this only runs for the support slices of a fit
        return t.to_source(torch.cat([t.on_base(i, m) for i, m in enumerate(t.maps)]))

    def clear(self) -> None:
        """Forget the cached pyramids."""
        self.encoder.clear()


@dataclass(frozen=True)
class TrunkMaps:
    """Trunk levels of one slice and the two bilinear resizes that put them on its pixels.

    Attributes:
        maps: float32 ``(C_l, h_l, w_l)`` per chosen level, finest first, cropped to the cells
            that cover the slice.
        ratios: each level's stride over the finest one's (1, 2, 4, ...).
        base: ``(hb, wb)`` cells of the finest level.
        size: the base grid's extent in source pixels (>= ``source``).
        source: ``(H, W)`` of the slice.

    Both resizes are linear with weights summing to 1, so a per-pixel affine map (a
    classifier's first layer) can run on each level before them with the same result.
    """

    maps: list[torch.Tensor]
    ratios: list[int]
    base: tuple[int, int]
    size: tuple[int, int]
    source: tuple[int, int]

    def on_base(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """``(C, h_i, w_i)`` (or ``(1, C, h_i, w_i)``, e.g. channels-last) on level ``i``'s
        grid -> ``(C, hb, wb)`` (or ``(1, C, hb, wb)``) on the finest grid."""
        r = self.ratios[i]
        if r == 1:
            return x
        x4 = x if x.dim() == 4 else x[None]
        up = F.interpolate(x4, size=(x4.shape[2] * r, x4.shape[3] * r), mode="bilinear",
                           align_corners=False)  # covers >= the base cells: crop
        up = up[:, :, :self.base[0], :self.base[1]]
        return up if x.dim() == 4 else up[0]

    def to_source(self, x: torch.Tensor) -> torch.Tensor:
        """``(C, hb, wb)`` (or ``(1, C, hb, wb)``) on the finest grid -> ``(C, H, W)`` (or
        ``(1, C, H, W)``) on the slice."""
        x4 = x if x.dim() == 4 else x[None]
        up = F.interpolate(x4, size=self.size, mode="bilinear", align_corners=False)
        up = up[:, :, :self.source[0], :self.source[1]]
        return up if x.dim() == 4 else up[0]
