"""FewShotSegmenter: segment an object in new slices from a few annotated (support) slices.

Usage::

    seg = FewShotSegmenter.default()              # shipped click encoder + few-shot head
    seg.set_support([img_a, img_b], [mask_a, mask_b], positions=[10, 30])
    prob = seg.predict(img_q, position=17)        # (H, W) float32 in [0, 1]

Slices are ``(H, W)`` grey or ``(H, W, 3|4)`` RGB of any numeric dtype, masks ``(H, W)``
(nonzero = object), coordinates (row, col). All slices share one intensity window (from the
support slices unless given), so neighbouring slices of a volume are normalised alike. The
network sees each slice resized so that its long side lies in ``[min_side, max_side]`` and
padded to a multiple of 32; the frozen click encoder runs once per slice (LRU-cached by
``key``); the few-shot head is cheap.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..models.encoder import EncoderFeatures
from ..models.fewshot_head import FewShotHead, distance_weights
from ..models.fewshot_prototypes import SupportFeatures
from .errors import InvalidInputError, NotReadyError
from .normalize import IntensityWindow, as_channels_first_rgb, check_slice

PAD_MULTIPLE = 32


def support_window(images: Sequence[np.ndarray]) -> IntensityWindow:
    """One intensity window for a set of slices: ``[0, 255]`` for uint8/bool, else the
    0.5-99.5 percentiles of all their values (NaN/inf raise :class:`InvalidInputError`)."""
    arrays = [np.asarray(a) for a in images]
    if all(a.dtype in (np.uint8, np.bool_) for a in arrays):
        return IntensityWindow(0.0, 255.0 if any(a.dtype == np.uint8 for a in arrays) else 1.0)
    return IntensityWindow.from_data(np.concatenate([a.reshape(-1) for a in arrays]))


def network_size(shape: tuple[int, int], min_side: int, max_side: int) -> tuple[int, int]:
    """``(h, w)`` the network sees for a slice of ``shape``: long side in ``[min_side, max_side]``."""
    long = max(shape)
    s = float(np.clip(long, min_side, max_side)) / long
    return max(1, round(shape[0] * s)), max(1, round(shape[1] * s))


def to_network(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` to ``size`` (bilinear) and pad bottom/right to a multiple of 32."""
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                          antialias=size[0] < x.shape[-2])
    ph, pw = -size[0] % PAD_MULTIPLE, -size[1] % PAD_MULTIPLE
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


@dataclass(frozen=True)
class EncodedSlice:
    """Encoder features of one slice: ``net_size`` is its ``(h, w)`` before padding; ``image``
    the grey network input ``(1, 1, H_pad, W_pad)`` in [0, 1]."""

    feats: EncoderFeatures
    shape: tuple[int, int]
    net_size: tuple[int, int]
    image: torch.Tensor


class FewShotSegmenter:
    """Few-shot segmentation of 2D slices from ``K >= 1`` support slices.

    Args:
        head: the few-shot head (default: the shipped weights).
        encoder: a ``ClickNet`` (its ``encode``) or an ``ImageEncoder``; kept frozen.
        device: torch device (default CUDA when available, else CPU).
        min_side, max_side: range of the long side the network sees.
        cache_size: number of encoded query slices kept (LRU, by ``key``).
    """

    def __init__(self, head: FewShotHead | None = None, encoder: torch.nn.Module | None = None,
                 *, device: str | None = None, min_side: int = 256, max_side: int = 512,
                 cache_size: int = 8) -> None:
        if head is None or encoder is None:
            default = FewShotSegmenter.default(device=device, min_side=min_side,
                                               max_side=max_side, cache_size=cache_size)
            head, encoder = head or default.head, encoder or default.encoder
        if min_side < PAD_MULTIPLE or max_side < min_side:
            raise InvalidInputError(f"need {PAD_MULTIPLE} <= min_side <= max_side, got "
                                    f"{min_side}, {max_side}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.head = head.to(self.device).eval()
        self.min_side, self.max_side = int(min_side), int(max_side)
        self.cache_size = max(1, int(cache_size))
        self.encoder_calls = 0
        self.window: IntensityWindow | None = None
        self._cache: OrderedDict[Hashable, EncodedSlice] = OrderedDict()
        self._supports: list[SupportFeatures] = []
        self._positions: list[float] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, head_path: str | os.PathLike,
                        click_weights: str | os.PathLike | None = None, **kwargs
                        ) -> FewShotSegmenter:
        """Head at ``head_path`` on the click encoder at ``click_weights`` (default: shipped).

        Raises ``EncoderMismatchError`` when the head was trained on other click weights."""
        from ..models.fewshot_weights import load_fewshot_head
        from ..models.registry import default_click_weights, load_click_net

        click_weights = click_weights or default_click_weights()
        head = load_fewshot_head(head_path, encoder_weights=click_weights)
        return cls(head, load_click_net(click_weights).encoder, **kwargs)

    @classmethod
    def default(cls, **kwargs) -> FewShotSegmenter:
        """The shipped few-shot head on the shipped click encoder (FileNotFoundError if absent)."""
        from ..models.fewshot_weights import default_fewshot_weights

        return cls.from_checkpoint(default_fewshot_weights(), **kwargs)

    # ------------------------------------------------------------------ support
    @property
    def support_count(self) -> int:
        return len(self._supports)

    def set_support(self, images: Sequence[np.ndarray] | np.ndarray,
                    masks: Sequence[np.ndarray] | np.ndarray,
                    positions: Sequence[float] | None = None,
                    window: IntensityWindow | None = None) -> None:
        """Set the ``K >= 1`` support slices.

        Args:
            images: a sequence of slices (or an array whose first axis indexes slices); a
                single ``(H, W)`` array counts as ``K = 1``.
            masks: the matching ``(H, W)`` masks (nonzero = object).
            positions: optional z position of each support slice; queries given a position
                weigh nearer support slices more (``1 / (1 + |dz|)``).
            window: intensity window for all slices (default: from the support images).

        Raises:
            InvalidInputError: empty support, count or shape mismatch, NaN, no foreground in
                any mask, or no background in any mask.
        """
        imgs = [np.asarray(images)] if np.ndim(images) == 2 else list(images)
        msks = [np.asarray(masks)] if np.ndim(masks) == 2 else list(masks)
        if not imgs:
            raise InvalidInputError("empty support: give at least one annotated slice")
        if len(imgs) != len(msks):
            raise InvalidInputError(f"{len(imgs)} support images but {len(msks)} masks")
        if positions is not None and len(positions) != len(imgs):
            raise InvalidInputError(f"{len(imgs)} support images but {len(positions)} positions")
        imgs = [check_slice(im, f"support image {i}", min_side=8) for i, im in enumerate(imgs)]
        binary = []
        for i, (im, m) in enumerate(zip(imgs, msks, strict=True)):
            m = np.asarray(m)
            if m.shape != im.shape[:2]:
                raise InvalidInputError(
                    f"support mask {i} has shape {m.shape}, image {i} has shape {im.shape[:2]}")
            binary.append(m != 0)
        if not any(b.any() for b in binary):
            raise InvalidInputError("every support mask is empty: mark the object on a slice")
        if all(b.all() for b in binary):
            raise InvalidInputError(
                "the support masks cover their whole slices: some background is needed")
        self.window = window if window is not None else support_window(imgs)
        supports = []
        for i, (im, b) in enumerate(zip(imgs, binary, strict=True)):
            enc = self._encode(im)
            m = torch.from_numpy(b.astype(np.float32))[None, None].to(self.device)
            m = to_network(m, enc.net_size)[0, 0]
            m[enc.net_size[0]:, :] = 0  # padding is not part of the slice
            m[:, enc.net_size[1]:] = 0
            supports.append(self.head.summarize(enc.feats.deep[0], enc.feats.low[0], m, seed=i))
        self._supports = supports
        self._positions = None if positions is None else [float(p) for p in positions]

    # ------------------------------------------------------------------ prediction
    def predict(self, image: np.ndarray, position: float | None = None,
                neighbour: np.ndarray | None = None, key: Hashable | None = None) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] for the query ``image``.

        Args:
            image: the query slice ``(H, W)`` / ``(H, W, 3|4)``.
            position: its z position (weighs support slices by distance), or None.
            neighbour: optional ``(H, W)`` mask/probability of the object on the adjacent
                slice (the propagation prior).
            key: cache key of the encoded slice (e.g. its z index), or None.
        """
        if not self._supports:
            raise NotReadyError("no support set: call set_support(images, masks) first")
        image = check_slice(image, "query image", min_side=8)
        enc = self.encode(image, key)
        prior = None
        if neighbour is not None:
            nb = np.asarray(neighbour, dtype=np.float32)
            if nb.shape != enc.shape:
                raise InvalidInputError(
                    f"neighbour mask has shape {nb.shape}, the image has shape {enc.shape}")
            prior = to_network(torch.from_numpy(nb)[None, None].to(self.device), enc.net_size)
        weights = distance_weights(self._positions, position, len(self._supports))
        with torch.inference_mode(), self._autocast():
            logits = self.head(enc.feats.deep, enc.feats.low, [self._supports], [weights],
                               prior=prior, image=enc.image)
        h, w = enc.net_size
        probs = torch.sigmoid(logits.float()[:, :, :h, :w])
        if (h, w) != enc.shape:
            probs = F.interpolate(probs, size=enc.shape, mode="bilinear", align_corners=False)
        return probs[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)

    def encode(self, image: np.ndarray, key: Hashable | None = None) -> EncodedSlice:
        """Encoder features of ``image`` (cached under ``key`` for the current window)."""
        if self.window is None:
            raise NotReadyError("no intensity window: call set_support(images, masks) first")
        if key is not None:
            full_key = (key, self.window)
            hit = self._cache.get(full_key)
            if hit is not None and hit.shape == tuple(np.shape(image)[:2]):
                self._cache.move_to_end(full_key)
                return hit
        enc = self._encode(check_slice(image, min_side=8))
        if key is not None:
            self._cache[(key, self.window)] = enc
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return enc

    def clear_cache(self) -> None:
        """Forget all encoded slices."""
        self._cache.clear()

    # ------------------------------------------------------------------ internals
    def _autocast(self):
        if self.device.type in ("cpu", "cuda"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _encode(self, image: np.ndarray) -> EncodedSlice:
        window = self.window if self.window is not None else support_window([image])
        x = torch.from_numpy(np.ascontiguousarray(
            as_channels_first_rgb(window.apply(image)), dtype=np.float32))[None]
        shape = tuple(image.shape[:2])
        size = network_size(shape, self.min_side, self.max_side)  # type: ignore[arg-type]
        x = to_network(x.to(self.device), size)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        run = getattr(self.encoder, "encode", self.encoder)
        with torch.inference_mode(), self._autocast():
            feats = run(x)
        self.encoder_calls += 1
        feats = EncoderFeatures(feats.deep.float().contiguous(), feats.low.float().contiguous())
        grey = x.float().mean(dim=1, keepdim=True).contiguous()
        return EncodedSlice(feats, shape, size, grey)  # type: ignore[arg-type]
