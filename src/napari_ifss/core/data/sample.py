"""Synthetic sample data: a fluorescence-like stack of textured cells with ground truth.

The cells are smooth, wobbly ellipsoids (physically round-ish in an anisotropic voxel grid:
``SAMPLE_SPACING`` µm), some touching, with a textured interior that is brighter towards the
centre, a darker rim where neighbours meet, optical blur, Poisson shot noise and camera read
noise. Generated, not downloaded: the same ``seed`` always gives the same data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential

from ..errors import InvalidInputError

# Voxel size (z, y, x) in micrometres that the default sample is drawn for.
SAMPLE_SPACING: tuple[float, float, float] = (2.0, 0.5, 0.5)
# Cell radius range in micrometres.
_RADIUS_UM = (5.0, 9.0)


def make_synthetic_cells(
    shape: Sequence[int] = (24, 192, 192),
    n_cells: int = 60,
    seed: int = 0,
    spacing: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic cell image and its instance labels.

    Args:
        shape: ``(Z, Y, X)`` or ``(Y, X)``; each axis at least 8 voxels.
        n_cells: number of cells placed (a few may end up hidden by neighbours, so the label
            count can be slightly lower; ids are 1..n without gaps).
        seed: random seed; equal seeds give equal data.
        spacing: voxel size in µm per axis (default :data:`SAMPLE_SPACING`, last ``ndim``
            entries); cells are drawn round in physical units.

    Returns:
        ``(image, labels)``: ``uint16`` image and ``int32`` labels (0 = background), both of
        ``shape``.

    Raises:
        InvalidInputError: for a shape that is not 2D/3D or too small, or ``n_cells < 1``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 8:
        raise InvalidInputError(f"shape must be 2D or 3D with every axis >= 8, got {shape}")
    if n_cells < 1:
        raise InvalidInputError(f"n_cells must be at least 1, got {n_cells}")
    ndim = len(shape)
    sp = np.asarray(spacing if spacing is not None else SAMPLE_SPACING[-ndim:], dtype=float)
    if sp.shape != (ndim,) or np.any(sp <= 0):
        raise InvalidInputError(f"spacing must have {ndim} positive entries, got {spacing}")
    rng = np.random.default_rng(seed)
    extent = np.asarray(shape) * sp
    wobble = _smooth_noise(rng, shape, sigma=4.0 / sp)  # shape irregularity, ~4 µm scale

    labels = np.zeros(shape, np.int32)
    depth = np.full(shape, np.inf, np.float32)  # normalised distance to the owning cell's centre
    centres: list[np.ndarray] = []
    radii_all: list[float] = []
    for cell in range(1, n_cells + 1):
        r = rng.uniform(*_RADIUS_UM)
        radii = r * rng.uniform(0.8, 1.2, ndim)
        centre = _place(rng, centres, radii_all, r, extent)
        centres.append(centre)
        radii_all.append(r)
        _draw_cell(labels, depth, cell, centre, radii, rng.uniform(0, np.pi), wobble, sp)
    labels, _, _ = relabel_sequential(labels)
    labels = labels.astype(np.int32, copy=False)

    inside = labels > 0
    brightness = np.concatenate([[0.0], rng.uniform(0.45, 1.0, int(labels.max()))])
    texture = _smooth_noise(rng, shape, sigma=0.6 / sp)
    profile = np.where(inside, 1.0 - 0.45 * np.minimum(depth, 1.0) ** 2, 0.0)
    signal = brightness[labels] * profile * (1.0 + 0.3 * texture)
    signal = ndi.gaussian_filter(signal.astype(np.float32), sigma=0.4 / sp)  # optical blur
    background = 0.06 + 0.02 * wobble
    photons = np.clip(background + signal, 0, None) * 1500.0
    image = rng.poisson(photons).astype(np.float32) + 100.0 + rng.normal(0, 6.0, shape)
    return np.clip(image, 0, 65535).astype(np.uint16), labels


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: np.ndarray):
    """Gaussian-filtered white noise scaled to unit standard deviation (float32)."""
    noise = ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma=sigma)
    return noise / max(float(noise.std()), 1e-6)


def _place(rng, centres, radii, r, extent) -> np.ndarray:
    """A centre (µm): every third cell touches an earlier one, the rest avoid heavy overlap."""
    if centres and len(centres) % 3 == 0:
        k = int(rng.integers(len(centres)))
        direction = rng.normal(size=extent.size)
        if extent.size == 3:
            direction[0] *= 0.3  # neighbours mostly side by side within the slice
        direction /= np.linalg.norm(direction)
        return np.clip(centres[k] + direction * 0.95 * (r + radii[k]), 0, extent)
    best, best_gap = None, -np.inf
    for _ in range(20):
        c = rng.uniform(0, 1, extent.size) * extent
        if extent.size == 3:  # a thick layer of cells in the middle of the stack
            c[0] = rng.uniform(0.25, 0.75) * extent[0]
        gap = min((np.linalg.norm(c - o) - 0.8 * (r + q) for o, q in zip(centres, radii,
                                                                        strict=True)),
                  default=np.inf)
        if gap > 0:
            return c
        if gap > best_gap:
            best, best_gap = c, gap
    return best


def _draw_cell(labels, depth, cell, centre, radii, angle, wobble, sp) -> None:
    """Write one wobbly ellipsoid into ``labels``; voxels go to the cell they are deepest in."""
    reach = radii.max() * 1.3
    lo = np.maximum(np.floor((centre - reach) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((centre + reach) / sp).astype(int) + 1, labels.shape)
    if np.any(hi <= lo):
        return
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    grids = np.ogrid[box]
    rel = [g * s - c for g, s, c in zip(grids, sp, centre, strict=True)]  # µm from centre
    y, x = rel[-2], rel[-1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * y + sin * x, -sin * y + cos * x  # in-plane rotation
    d2 = (u / radii[-2]) ** 2 + (v / radii[-1]) ** 2
    if len(rel) == 3:
        d2 = d2 + (rel[0] / radii[0]) ** 2
    d = np.sqrt(d2) * (1.0 + 0.12 * wobble[box])
    sub_labels, sub_depth = labels[box], depth[box]
    take = (d < 1.0) & (d < sub_depth)
    sub_labels[take] = cell
    sub_depth[take] = d[take]
