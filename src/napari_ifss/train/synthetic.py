"""Synthetic training samples: textured blobs and polygons on textured backgrounds.

Teaches generic objectness without any external data; also used by the tests. Every sample
has one target object and a few distractor shapes (some of similar appearance, so that clicks
are needed to say which one is meant).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as draw_polygon


def smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-smoothed white noise rescaled to [0, 1], ``(H, W)`` float32."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    n -= n.min()
    return n / max(float(n.max()), 1e-6)


def random_shape(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One random bool shape ``(H, W)``: a thresholded smooth blob or a star-like polygon."""
    h, w = shape
    size = rng.uniform(0.08, 0.6) * min(h, w)
    cr, cc = rng.uniform(size / 2, h - size / 2), rng.uniform(size / 2, w - size / 2)
    if rng.random() < 0.5:
        n = int(rng.integers(3, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = size / 2 * rng.uniform(0.4, 1.0, n)
        rr, cc_ = draw_polygon(cr + radii * np.sin(angles), cc + radii * np.cos(angles), shape)
        mask = np.zeros(shape, bool)
        mask[rr, cc_] = True
    else:
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
        ar = rng.uniform(0.5, 2.0)
        d = np.hypot((rows - cr) * ar, (cols - cc) / ar) / (size / 2)
        wobble = smooth_noise(shape, max(2.0, size / 6), rng)
        mask = d + 0.8 * (wobble - 0.5) < 1.0
    if not mask.any():
        mask[int(cr), int(cc)] = True
    return mask


def synthetic_sample(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(image (3, size, size) float32 in [0, 1], target mask (size, size) bool)``."""
    shape = (size, size)
    bg = rng.uniform(0.1, 0.7) + rng.uniform(0.05, 0.3) * (smooth_noise(shape, rng.uniform(1, 8),
                                                                         rng) - 0.5)
    image = bg.astype(np.float32)
    target_level = rng.uniform(0.0, 1.0)
    masks = [random_shape(shape, rng) for _ in range(int(rng.integers(1, 6)))]
    target_idx = int(rng.integers(len(masks)))
    for i, m in enumerate(masks):
        level = target_level if (i == target_idx or rng.random() < 0.4) else rng.uniform(0, 1)
        tex = rng.uniform(0.0, 0.3) * (smooth_noise(shape, rng.uniform(0.7, 4), rng) - 0.5)
        image = np.where(m, level + tex, image)
    target = masks[target_idx].copy()
    # Later shapes occlude earlier ones: the target is what stays visible of it.
    for m in masks[target_idx + 1:]:
        target &= ~m
    if not target.any():
        target = masks[-1]
        target_idx = len(masks) - 1
    image = ndimage.gaussian_filter(image, rng.uniform(0.3, 1.5))
    image = image + rng.uniform(0.0, 0.08) * rng.standard_normal(shape)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if rng.random() < 0.3:  # colour
        tint = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
        rgb = image[None] * tint[:, None, None]
    else:
        rgb = np.repeat(image[None], 3, axis=0)
    return np.ascontiguousarray(rgb), target
