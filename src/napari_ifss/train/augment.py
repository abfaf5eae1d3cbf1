"""Crops, resizes, flips and intensity jitter for training samples (numpy + torch, CPU)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def crop_around(image: np.ndarray, mask: np.ndarray, bbox: tuple[int, int, int, int],
                out_size: int, rng: np.random.Generator, min_fraction: float = 0.15
                ) -> tuple[np.ndarray, np.ndarray]:
    """A square crop containing the object ``bbox`` = (r0, r1, c0, c1), resized to ``out_size``.

    The object covers a random fraction (``min_fraction``-0.9) of the crop side, so all object sizes are
    seen; the crop is padded with zeros beyond the image. ``image`` is ``(3, H, W)`` float32,
    ``mask`` ``(H, W)`` bool. Returns ``((3, S, S) float32, (S, S) bool)``.
    """
    r0, r1, c0, c1 = bbox
    obj = max(r1 - r0, c1 - c0, 4)
    side = int(np.clip(obj / rng.uniform(min_fraction, 0.9), 16, 2.0 * max(image.shape[1:])))
    side = max(side, obj + 2)
    top = int(rng.integers(r1 - side, r0 + 1)) if side > r1 - r0 else r0
    left = int(rng.integers(c1 - side, c0 + 1)) if side > c1 - c0 else c0
    img_c = _padded_crop(image, top, left, side)
    msk_c = _padded_crop(mask[None].astype(np.float32), top, left, side)
    x = torch.from_numpy(np.concatenate([img_c, msk_c], axis=0))[None]
    x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", align_corners=False,
                      antialias=side > out_size)[0].numpy()
    return np.ascontiguousarray(x[:3]), x[3] > 0.5


def _padded_crop(arr: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """``arr[:, top:top+side, left:left+side]`` with zero padding outside."""
    c, h, w = arr.shape
    out = np.zeros((c, side, side), dtype=np.float32)
    sr0, sc0 = max(top, 0), max(left, 0)
    sr1, sc1 = min(top + side, h), min(left + side, w)
    if sr1 > sr0 and sc1 > sc0:
        out[:, sr0 - top:sr1 - top, sc0 - left:sc1 - left] = arr[:, sr0:sr1, sc0:sc1]
    return out


def flip_rotate(image: np.ndarray, mask: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random horizontal/vertical flip and 90-degree rotation of ``(3, S, S)`` / ``(S, S)``."""
    k = int(rng.integers(4))
    image, mask = np.rot90(image, k, axes=(1, 2)), np.rot90(mask, k)
    if rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def intensity_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma, contrast/brightness, occasional inversion and grey conversion; stays in [0, 1]."""
    out = image.clip(0, 1) ** rng.uniform(0.7, 1.4)
    out = (out - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.1, 0.1)
    if rng.random() < 0.1:
        out = 1.0 - out
    if rng.random() < 0.2:
        out = np.repeat(out.mean(axis=0, keepdims=True), 3, axis=0)
    return np.clip(out, 0, 1).astype(np.float32)
