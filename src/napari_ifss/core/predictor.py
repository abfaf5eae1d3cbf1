"""ClickPredictor: the interactive click model behind the session, the robot and the CLI.

Usage follows segment-anything: ``set_image`` encodes a 2D slice once (cached per ``key`` in an
LRU), ``predict`` runs the light click head per click. Coordinates are (row, col) pixels of the
slice as given; the network sees the slice resized so its long side is at most ``max_side`` and
padded to a multiple of 32; probabilities come back at the slice's full resolution.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InvalidInputError, NotReadyError
from .normalize import IntensityWindow, as_channels_first_rgb, check_slice
from .prompts import Click

if TYPE_CHECKING:
    from ..models.click_net import ClickNet
    from ..models.encoder import EncoderFeatures

PAD_MULTIPLE = 32
ZOOM_AFTER_CLICKS = 3
ZOOM_EXPANSION = 1.4
ZOOM_MIN_SIZE = 64
# Long side of the zoomed crop as the network sees it: the object then spans roughly the sizes
# seen in training (256-px crops), instead of being blown up to max_side.
ZOOM_SIDE = 256


def normalize_slice(image: np.ndarray) -> np.ndarray:
    """A 2D slice ``(H, W)`` / ``(H, W, 3|4)`` of any dtype -> ``(3, H, W)`` float32 in [0, 1].

    uint8 is divided by 255; everything else (16-bit, float, CT in HU) gets a percentile window
    (0.5-99.5 %). Raises :class:`InvalidInputError` for other shapes, empty or non-finite data.
    """
    arr = check_slice(image, "image", min_side=2)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    else:
        out = IntensityWindow.from_data(arr[..., :3] if arr.ndim == 3 else arr).apply(arr)
    return np.ascontiguousarray(as_channels_first_rgb(out), dtype=np.float32)


@dataclass
class _Encoded:
    """Features of one (possibly cropped and resized) network input."""

    feats: EncoderFeatures
    net_shape: tuple[int, int]  # (h, w) of the resized image before padding
    scale: tuple[float, float]  # net pixels per source pixel along (row, col)


@dataclass
class _SliceEntry:
    image: torch.Tensor  # (3, H, W) float16 in [0, 1], full resolution, CPU (for zoom crops)
    full: _Encoded
    crops: OrderedDict = field(default_factory=OrderedDict)


class ClickPredictor:
    """Interactive click segmentation of 2D slices (satisfies ``core.protocols.ClickSegmenter``)."""

    def __init__(self, net: ClickNet | None = None, *, device: str | None = None,
                 max_side: int = 512, zoom_in: bool = True, refine: bool = False,
                 cache_size: int = 16) -> None:
        if net is None:
            from ..models.registry import default_click_weights, load_click_net

            path = default_click_weights()
            if not path.is_file():
                raise FileNotFoundError(
                    f"the shipped click-model weights are missing ({path}); train them with "
                    "`ifss train interactive` or pass a network / checkpoint")
            net = load_click_net(path)
        if max_side < PAD_MULTIPLE:
            raise InvalidInputError(f"max_side must be >= {PAD_MULTIPLE}, got {max_side}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = net.to(self.device).eval()
        if self.device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.max_side = int(max_side)
        self.zoom_in = zoom_in
        self.refine = refine
        self.cache_size = max(1, int(cache_size))
        self.zoom_side = min(ZOOM_SIDE, self.max_side)
        self.encoder_calls = 0  # number of encoder passes so far (for tests and profiling)
        self._cache: OrderedDict[Hashable, _SliceEntry] = OrderedDict()
        self._current: _SliceEntry | None = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, **kwargs) -> ClickPredictor:
        """A predictor for the network saved at ``path`` (see ``models.registry``)."""
        from ..models.registry import load_click_net

        return cls(load_click_net(path), **kwargs)

    @classmethod
    def default(cls, **kwargs) -> ClickPredictor:
        """The FCFI weights shipped in the package; FileNotFoundError if they are missing."""
        return cls(None, **kwargs)

    @property
    def is_image_set(self) -> bool:
        return self._current is not None

    @property
    def variant(self) -> str:
        return self.net.variant

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the current slice."""
        if self._current is None:
            raise NotReadyError("no image set: call set_image(image) first")
        return tuple(self._current.image.shape[1:])  # type: ignore[return-value]

    def set_image(self, image: np.ndarray, key: Hashable | None = None) -> None:
        """Set (and encode, unless cached under ``key``) the slice ``(H, W)`` or ``(H, W, 3)``."""
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            entry = self._cache[key]
            if tuple(entry.image.shape[1:]) == tuple(np.shape(image)[:2]):
                self._current = entry
                return
        tensor = torch.from_numpy(normalize_slice(image))
        entry = _SliceEntry(tensor.half(), self._encode(tensor))
        self._current = entry
        if key is not None:
            self._cache[key] = entry
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget all cached slices (the current slice stays set)."""
        self._cache.clear()

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None = None) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] for ``clicks`` (newest last)."""
        if self._current is None:
            raise NotReadyError("no image set: call set_image(image) before predict()")
        entry = self._current
        h, w = entry.image.shape[1:]
        clicks = list(clicks)
        for click in clicks:
            if not click.inside((h, w)):
                raise InvalidInputError(
                    f"click {click} at pixel {click.pixel} lies outside the image of shape {(h, w)}")
        prev = self._check_prev(prev_mask, (h, w))
        if not clicks:
            return np.zeros((h, w), dtype=np.float32)
        box = self._zoom_box(clicks, prev, (h, w))
        if box is None:
            return self._predict_region(entry.full, clicks, prev, (0, 0), (h, w))
        r0, r1, c0, c1 = box
        if box not in entry.crops:
            entry.crops[box] = self._encode(entry.image[:, r0:r1, c0:c1].float(), self.zoom_side)
            while len(entry.crops) > 4:
                entry.crops.popitem(last=False)
        entry.crops.move_to_end(box)
        crop_prev = None if prev is None else prev[r0:r1, c0:c1]
        # Negative clicks outside the box only matter outside it, where the output is 0.
        inside = [c for c in clicks if r0 <= c.pixel[0] < r1 and c0 <= c.pixel[1] < c1]
        out = np.zeros((h, w), dtype=np.float32)
        out[r0:r1, c0:c1] = self._predict_region(entry.crops[box], inside, crop_prev, (r0, c0),
                                                 (r1 - r0, c1 - c0))
        return out

    # ----------------------------------------------------------------- internals
    def _autocast(self):
        if self.device.type == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _encode(self, image: torch.Tensor, side: int | None = None) -> _Encoded:
        """Resize ``(3, h, w)`` so the long side is ``side`` (default ``max_side``; crops may be
        upscaled), pad to a multiple of 32 and encode."""
        h, w = image.shape[1:]
        s = (side or self.max_side) / max(h, w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        x = image.unsqueeze(0).to(self.device)
        if (nh, nw) != (h, w):
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                              antialias=s < 1)
        ph, pw = -nh % PAD_MULTIPLE, -nw % PAD_MULTIPLE
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            feats = self.net.encode(x)
        self.encoder_calls += 1
        return _Encoded(feats, (nh, nw), (nh / h, nw / w))

    def _predict_region(self, enc: _Encoded, clicks: list[Click], prev: np.ndarray | None,
                        origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """Run the head for the region ``origin`` + ``size`` encoded as ``enc``; ``(h, w)`` probs."""
        sr, sc = enc.scale
        pts = torch.tensor([[(c.row - origin[0] + 0.5) * sr - 0.5,
                             (c.col - origin[1] + 0.5) * sc - 0.5, float(c.positive)]
                            for c in clicks], dtype=torch.float32, device=self.device)[None]
        ph, pw = enc.feats.deep.shape[-2] * 4, enc.feats.deep.shape[-1] * 4
        nh, nw = enc.net_shape
        prev_t = None
        if prev is not None and self.net.uses_feedback:
            p = torch.from_numpy(np.ascontiguousarray(prev, dtype=np.float32))[None, None]
            p = F.interpolate(p.to(self.device), size=(nh, nw), mode="bilinear",
                              align_corners=False)
            prev_t = F.pad(p, (0, pw - nw, 0, ph - nh))
        feats = enc.feats
        if self.refine:
            from ..models.refine import refine_features

            feats = refine_features(self.net, feats, pts, prev_t, self._autocast)
        with torch.inference_mode(), self._autocast():
            logits = self.net.decode(feats, pts, prev_t).logits
        probs = torch.sigmoid(logits.float()[:, :, :nh, :nw])
        if (nh, nw) != size:
            probs = F.interpolate(probs, size=size, mode="bilinear", align_corners=False)
        return probs[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)

    def _zoom_box(self, clicks: list[Click], prev: np.ndarray | None,
                  shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """RITM zoom-in box ``(r0, r1, c0, c1)`` around the object, or None (use the full slice)."""
        if not self.zoom_in or len(clicks) < ZOOM_AFTER_CLICKS or prev is None:
            return None
        fg = prev > 0.5
        if not fg.any():
            return None
        rows, cols = np.nonzero(fg)
        pos = [c.pixel for c in clicks if c.positive]
        r_lo = min([rows.min()] + [p[0] for p in pos])
        r_hi = max([rows.max()] + [p[0] for p in pos])
        c_lo = min([cols.min()] + [p[1] for p in pos])
        c_hi = max([cols.max()] + [p[1] for p in pos])
        box = []
        for lo, hi, n in ((r_lo, r_hi, shape[0]), (c_lo, c_hi, shape[1])):
            centre, half = (lo + hi + 1) / 2.0, max((hi - lo + 1) * ZOOM_EXPANSION,
                                                    min(ZOOM_MIN_SIZE, n)) / 2.0
            a, b = int(np.floor(centre - half)), int(np.ceil(centre + half))
            a, b = max(0, a), min(n, b)
            box += [a, b]
        r0, r1, c0, c1 = box
        if (r1 - r0) * (c1 - c0) >= 0.8 * shape[0] * shape[1]:
            return None
        return r0, r1, c0, c1

    @staticmethod
    def _check_prev(prev_mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
        if prev_mask is None:
            return None
        prev = np.asarray(prev_mask)
        if prev.shape != shape:
            raise InvalidInputError(
                f"prev_mask has shape {prev.shape}, expected the image's shape {shape}")
        prev = prev.astype(np.float32)
        if not np.all(np.isfinite(prev)):
            raise InvalidInputError("prev_mask contains NaN or infinite values")
        return np.clip(prev, 0.0, 1.0)
