"""From a user's slice to encoder features, the one path of the click predictor, the few-shot
segmenter, JFS quality scores and exemplar mode:

1. **Intensity window** (:func:`slice_window`, :func:`slices_window`): uint8 maps ``[0, 255]``,
   bool ``[0, 1]``; anything else (16-bit, float, CT in HU) the 0.5-99.5 percentiles of the
   colour values (an alpha channel is not intensity and is left out). One window for a set of
   slices keeps neighbouring slices of a volume alike.
2. **Prepared slice** (:func:`prepare_slice`): ``(3, H, W)`` float32 in [0, 1]; grey is
   repeated over three channels, RGB kept, RGBA's alpha dropped.
3. **Geometry** (:class:`NetworkGeometry`): resized so that the long side is clipped to
   ``[min_side, max_side]`` (bilinear, antialiased when shrinking), padded bottom/right to a
   multiple of :data:`PAD_MULTIPLE` by edge replication. The click predictor always uses
   ``min_side = max_side`` (its zoom-in crops are upscaled to 256 that way).
4. **Encoder** (:class:`SliceEncoder`): channels_last on CPU, bf16 :func:`autocast`, under
   ``torch.inference_mode``; an LRU cache of encoded slices by (user key, window, side range).

The *network* input normalisation (ImageNet mean/std for the pretrained EfficientNet-Lite trunk,
the older constants for the from-scratch encoder) is not done here: it lives in the encoder
modules (``models.encoder``, ``models.pretrained_encoder``) because each network owns what its
weights expect. Everything here hands them ``[0, 1]`` images.

Seam for shared trunks: :class:`SliceEncoder` caches whatever its ``stage`` returns (by default
the module's ``encode``). A later change can pass ``stage=PretrainedEncoder.pyramid`` so that the
trunk's pyramid is computed once per slice and each model runs its own ``neck`` on it.
Coordinates are (row, col); shapes ``(H, W)`` of the source, ``(h, w)`` resized, ``(H_pad,
W_pad)`` padded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.encoder import EncoderFeatures
from .errors import InvalidInputError
from .normalize import IntensityWindow, as_channels_first_rgb, check_slice
from .slice_sources import LazySource, PreparedSource, SliceSource, sampled_window

PAD_MULTIPLE = 32
MAX_CROPS = 8  # zoom-in crops / focus windows kept per encoded slice (LRU)


# ------------------------------------------------------------------------ intensity
def slices_window(images: Sequence[np.ndarray]) -> IntensityWindow:
    """One window for slices ``(H, W)`` / ``(H, W, 3|4)``: ``[0, 255]`` when all are uint8 or
    bool (``[0, 1]`` if all bool), else the 0.5-99.5 percentiles of all their colour values.

    Raises:
        InvalidInputError: no values, or NaN / infinite values.
    """
    arrays = [np.asarray(a) for a in images]
    if all(a.dtype in (np.uint8, np.bool_) for a in arrays):
        return IntensityWindow(0.0, 255.0 if any(a.dtype == np.uint8 for a in arrays) else 1.0)
    flat = [(a[..., :3] if a.ndim == 3 and a.shape[-1] == 4 else a).reshape(-1) for a in arrays]
    return IntensityWindow.from_data(flat[0] if len(flat) == 1 else np.concatenate(flat))


def slice_window(image: np.ndarray) -> IntensityWindow:
    """The window of one slice on its own (see :func:`slices_window`)."""
    return slices_window([image])


def prepare_slice(image: np.ndarray, window: IntensityWindow | None = None, *,
                  what: str = "image", min_side: int = 2) -> np.ndarray:
    """A slice ``(H, W)`` / ``(H, W, 3|4)`` of any numeric dtype -> ``(3, H, W)`` float32 in
    [0, 1] under ``window`` (default: :func:`slice_window` of the slice itself).

    Raises:
        InvalidInputError: other shapes, a side below ``min_side``, NaN / infinite values.
    """
    arr = check_slice(image, what, min_side=min_side)
    window = window if window is not None else slice_window(arr)
    return np.ascontiguousarray(as_channels_first_rgb(window.apply(arr)), dtype=np.float32)


def autocast(device: torch.device | str) -> AbstractContextManager:
    """bf16 autocast on CPU and CUDA, nothing elsewhere (inference of every model here)."""
    kind = torch.device(device).type
    if kind in ("cpu", "cuda"):
        return torch.autocast(kind, dtype=torch.bfloat16)
    return nullcontext()


# ------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class NetworkGeometry:
    """How a source slice ``(H, W)`` maps onto the network grid.

    Attributes:
        source: ``(H, W)`` of the slice.
        size: ``(h, w)`` after resizing, before padding.
    """

    source: tuple[int, int]
    size: tuple[int, int]

    @classmethod
    def fit(cls, shape: Sequence[int], min_side: int, max_side: int) -> NetworkGeometry:
        """Resize so the long side of ``shape`` (H, W) is clipped to ``[min_side, max_side]``."""
        h, w = int(shape[0]), int(shape[1])
        long = max(h, w)
        s = float(np.clip(long, min_side, max_side)) / long
        return cls((h, w), (max(1, round(h * s)), max(1, round(w * s))))

    @property
    def padded(self) -> tuple[int, int]:
        """``(H_pad, W_pad)``: ``size`` rounded up to multiples of :data:`PAD_MULTIPLE`."""
        h, w = self.size
        return h + (-h % PAD_MULTIPLE), w + (-w % PAD_MULTIPLE)

    @property
    def scale(self) -> tuple[float, float]:
        """Network pixels per source pixel along (row, col)."""
        return self.size[0] / self.source[0], self.size[1] / self.source[1]

    @property
    def shrinks(self) -> bool:
        """Whether either axis gets smaller (resizing is then antialiased)."""
        return self.size[0] < self.source[0] or self.size[1] < self.source[1]

    def point_to_network(self, row: float, col: float) -> tuple[float, float]:
        """Source pixel (row, col) -> network pixel (row, col) (pixel centres align)."""
        sr, sc = self.scale
        return (row + 0.5) * sr - 0.5, (col + 0.5) * sc - 0.5

    def point_to_source(self, row: float, col: float) -> tuple[float, float]:
        """Network pixel (row, col) -> source pixel (row, col) (inverse of the above)."""
        sr, sc = self.scale
        return (row + 0.5) / sr - 0.5, (col + 0.5) / sc - 0.5

    def to_network(self, x: torch.Tensor, pad: float | None = None,
                   antialias: bool | None = None) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H_pad, W_pad)``: bilinear resize to ``size`` (antialiased
        when shrinking unless ``antialias`` says otherwise), then padding bottom/right with the
        edge values (``pad=None``) or the constant ``pad``."""
        if tuple(x.shape[-2:]) != self.size:
            aa = self.shrinks if antialias is None else antialias
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False,
                              antialias=aa)
        (h, w), (ph, pw) = self.size, self.padded
        if pad is None:
            return F.pad(x, (0, pw - w, 0, ph - h), mode="replicate")
        return F.pad(x, (0, pw - w, 0, ph - h), mode="constant", value=pad)

    def map_to_network(self, values: np.ndarray, device: torch.device | str,
                       pad: float | None = 0.0, antialias: bool | None = None,
                       clamp: bool = False) -> torch.Tensor:
        """A mask / probability map ``(H, W)`` -> float32 ``(1, 1, H_pad, W_pad)`` on
        ``device`` (see :meth:`to_network`; the padding is ``pad``, 0 by default);
        ``clamp``: values clipped to [0, 1] before resizing (``values`` is never changed)."""
        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
        if clamp:
            t = t.clamp(0.0, 1.0)
        return self.to_network(t.to(device), pad, antialias)

    def from_network(self, x: torch.Tensor,
                     fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     resize: bool = True) -> torch.Tensor:
        """``(B, C, H_pad, W_pad)`` -> ``(B, C, H, W)``: drop the padding, apply ``fn`` (e.g.
        ``torch.sigmoid``, to resize probabilities rather than logits), resize (bilinear;
        ``resize=False``: stay at ``(h, w)``, the network's size; a later call resizes)."""
        h, w = self.size
        x = x[..., :h, :w]
        x = x if fn is None else fn(x)
        if resize and (h, w) != self.source:
            x = F.interpolate(x, size=self.source, mode="bilinear", align_corners=False)
        return x


# ------------------------------------------------------------------------ encoder
@dataclass(eq=False)
class EncodedSlice:
    """One encoded slice (or zoom-in crop).

    Attributes:
        feats: what the encoder's stage returned for the ``(1, 3, H_pad, W_pad)`` input
            (:class:`~napari_ifss.models.encoder.EncoderFeatures` for the default stage).
        geometry: source ``(H, W)`` -> network grid.
        grey: channel mean of the network input ``(1, 1, H_pad, W_pad)`` float32 (few-shot
            head input), when the encoder keeps it.
        source: the slice's pixels for zoom-in crops and focus windows, when kept
            (:mod:`core.slice_sources`: the prepared slice in float16, or the user's array of a
            large slice read region by region).
        crops: encoded crops of this slice by ``(box, side)`` (see :meth:`SliceEncoder.crop`).
        memo: what a model derives from this encoding and keeps with it (e.g. the click
            model's first focus windows), dropped with the slice from the cache.
    """

    feats: Any
    geometry: NetworkGeometry
    grey: torch.Tensor | None = None
    source: SliceSource | None = None
    crops: OrderedDict = field(default_factory=OrderedDict, repr=False)
    memo: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the source slice (``geometry.source``)."""
        return self.geometry.source

    @property
    def net_size(self) -> tuple[int, int]:
        """``(h, w)`` before padding (``geometry.size``)."""
        return self.geometry.size


def _cast(out: Any, dtype: torch.dtype) -> Any:
    """EncoderFeatures, a tensor or a sequence of tensors as contiguous ``dtype``."""
    if isinstance(out, EncoderFeatures):
        return EncoderFeatures(out.deep.to(dtype).contiguous(), out.low.to(dtype).contiguous())
    if isinstance(out, torch.Tensor):
        return out.to(dtype).contiguous()
    return type(out)(_cast(o, dtype) for o in out)


class SliceEncoder:
    """Runs a frozen encoder on slices, once per slice and window (LRU cache).

    Args:
        encoder: a module with ``encode(x)`` (e.g. ``ClickNet``) or a callable module (e.g.
            ``ImageEncoder``), already on ``device`` and in eval mode; never changed here.
        device: where inputs go; on CPU they are made channels_last.
        cache_size: encoded slices kept (LRU, only those encoded with a ``key``).
        stage: what to run and cache (default ``encoder.encode`` or ``encoder``), e.g.
            ``PretrainedEncoder.pyramid`` to cache a trunk's pyramid for several necks.
        dtype: cast the cached outputs to this dtype (None: keep autocast's output).
        keep_grey, keep_source: also keep :attr:`EncodedSlice.grey` / ``.source``.
    """

    def __init__(self, encoder: torch.nn.Module | Callable, device: torch.device | str, *,
                 cache_size: int = 16, stage: Callable[[torch.Tensor], Any] | None = None,
                 dtype: torch.dtype | None = None, keep_grey: bool = False,
                 keep_source: bool = False) -> None:
        self.encoder, self.device = encoder, torch.device(device)
        self.stage = stage if stage is not None else getattr(encoder, "encode", encoder)
        self.dtype, self.keep_grey, self.keep_source = dtype, keep_grey, keep_source
        self.cache_size = cache_size
        self.calls = 0  # encoder passes so far (for tests and profiling)
        self._cache: OrderedDict[Hashable, EncodedSlice] = OrderedDict()

    @property
    def cache_size(self) -> int:
        """Slices kept (LRU); a smaller value applies from the next insertion."""
        return self._cache_size

    @cache_size.setter
    def cache_size(self, value: int) -> None:
        self._cache_size = max(1, int(value))

    def clear(self) -> None:
        """Forget all cached slices."""
        self._cache.clear()

    def encode(self, image: torch.Tensor, geometry: NetworkGeometry) -> EncodedSlice:
        """Encode a prepared slice ``(3, H, W)`` float32 in [0, 1] on ``geometry`` (no cache)."""
        x = geometry.to_network(image.unsqueeze(0).to(self.device))
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device):
            out = self.stage(x)
        self.calls += 1
        if self.dtype is not None:
            out = _cast(out, self.dtype)
        grey = x.float().mean(dim=1, keepdim=True).contiguous() if self.keep_grey else None
        return EncodedSlice(out, geometry, grey)

    def encode_slice(self, image: np.ndarray, side_range: tuple[int, int], *,
                     window: IntensityWindow | None = None, key: Hashable | None = None,
                     min_size: int = 2, lazy: bool = False) -> EncodedSlice:
        """Encode ``image`` ``(H, W)`` / ``(H, W, 3|4)`` under ``window`` (None: the slice's
        own) with its long side clipped to ``side_range`` (min, max).

        With a ``key`` the result is cached under ``(key, window, side_range)`` and reused
        while the slice's shape matches; without one it is always encoded. Input checks
        (:func:`prepare_slice`, sides >= ``min_size``) run when encoding. ``lazy`` (large
        slices): ``image`` may be any array (numpy, zarr, dask) and is never prepared whole:
        it is read block-averaged to the network's size, its window estimated from a sample
        (:class:`~napari_ifss.core.slice_sources.LazySource`), and kept as given for crops.
        """
        full_key = None if key is None else (key, window, tuple(side_range))
        hit = None if full_key is None else self._cache.get(full_key)
        if hit is not None and hit.geometry.source == tuple(np.shape(image)[:2]):
            self._cache.move_to_end(full_key)
            return hit
        if lazy:
            source: SliceSource = LazySource(image, window or sampled_window(image))
            h, w = source.shape
            if min(h, w) < min_size:
                raise InvalidInputError(f"image of shape {(h, w)} is too small")
            prepared = source.region((0, h, 0, w), side_range[1])
            enc = self.encode(prepared, NetworkGeometry.fit((h, w), *side_range))
        else:
            prepared = torch.from_numpy(prepare_slice(image, window, min_side=min_size))
            enc = self.encode(prepared, NetworkGeometry.fit(prepared.shape[1:], *side_range))
            source = PreparedSource(prepared)
        if self.keep_source:
            enc.source = source
        if full_key is not None:
            self._cache.pop(full_key, None)  # a slice of another shape under the same key
            self._cache[full_key] = enc
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return enc

    def crop(self, entry: EncodedSlice, box: tuple[int, int, int, int],
             side: int) -> EncodedSlice:
        """The region ``box`` = ``(r0, r1, c0, c1)`` of an encoded slice (kept with its
        ``source``), resized so its long side is ``side`` (upscaled if need be); cached on
        ``entry`` (the last :data:`MAX_CROPS`)."""
        if entry.source is None:
            raise ValueError("crops need the slice's source (SliceEncoder(keep_source=True))")
        crop_key = (tuple(box), int(side))
        if crop_key not in entry.crops:
            r0, r1, c0, c1 = box
            region = entry.source.region((r0, r1, c0, c1), side)  # maybe block-averaged
            entry.crops[crop_key] = self.encode(
                region, NetworkGeometry.fit((r1 - r0, c1 - c0), side, side))
            while len(entry.crops) > MAX_CROPS:
                entry.crops.popitem(last=False)
        entry.crops.move_to_end(crop_key)
        return entry.crops[crop_key]


class UsesSliceEncoder:
    """For models that encode slices through a :class:`SliceEncoder` held as ``self.slices``:
    its pass count and cache size as properties of the model."""

    slices: SliceEncoder

    @property
    def encoder_calls(self) -> int:
        """Number of encoder passes so far (for tests and profiling)."""
        return self.slices.calls

    @property
    def cache_size(self) -> int:
        """Encoded slices kept (LRU, by ``key``)."""
        return self.slices.cache_size

    @cache_size.setter
    def cache_size(self, value: int) -> None:
        self.slices.cache_size = value
