"""Prototypes of one support slice: masked average pooling and k-means sub-prototypes.

All features are the click encoder's ``deep`` map at 1/4 resolution, ``(C, h, w)``; the support
mask is given at the same resolution as a soft foreground fraction ``(h, w)`` in [0, 1] (the
full-resolution mask average-pooled by 4). Everything here is training-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# A feature pixel counts as foreground / background for the prior and the sub-prototypes when
# its foreground fraction is above / below these (thin objects rarely fill a whole 4x4 cell).
FG_FRACTION = 0.3
BG_FRACTION = 0.05
# Caps on the feature pixels kept per support slice (bounds the cost of the prior map).
MAX_FG_PIXELS = 1024
MAX_BG_PIXELS = 1024


@dataclass(frozen=True)
class SupportFeatures:
    """What the head keeps of one support slice (all rows L2-normalised, ``C`` channels).

    Attributes:
        fg_pixels: ``(Nf, C)`` foreground feature pixels (subsampled), possibly ``Nf = 0``.
        bg_pixels: ``(Nb, C)`` background feature pixels (subsampled), possibly ``Nb = 0``.
        fg_protos: ``(P, C)`` foreground sub-prototypes (k-means), ``P >= 0``.
        bg_protos: ``(Q, C)`` background sub-prototypes, ``Q >= 0``.
        fg_mean: ``(C,)`` masked average of the foreground features (not normalised), zeros if
            the slice has no foreground.
        fg_weight: the slice's total foreground fraction (0 when it has none).
        gram, xty: the slice's ridge normal equations (``models.fewshot_ridge``), or None.
    """

    fg_pixels: torch.Tensor
    bg_pixels: torch.Tensor
    fg_protos: torch.Tensor
    bg_protos: torch.Tensor
    fg_mean: torch.Tensor
    fg_weight: float
    gram: torch.Tensor | None = None
    xty: torch.Tensor | None = None


def masked_average_pool(feats: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum(feats * weight) / sum(weight)`` over pixels: ``(C, h, w)``, ``(h, w)`` -> ``(C,)``."""
    total = weight.sum()
    if float(total) <= 0:
        return torch.zeros(feats.shape[0], dtype=feats.dtype, device=feats.device)
    return (feats * weight).flatten(1).sum(dim=1) / total


def kmeans(points: torch.Tensor, n: int, iters: int = 8, seed: int = 0) -> torch.Tensor:
    """Spherical k-means of ``points`` ``(N, C)`` (L2-normalised rows) into ``<= n`` centres.

    Deterministic for a given ``seed`` (farthest-point initialisation from a seeded start).
    Returns ``(min(n, N), C)`` normalised centres; ``(0, C)`` for no points.
    """
    count = points.shape[0]
    k = min(int(n), count)
    if k <= 0:
        return points.new_zeros((0, points.shape[1]))
    gen = torch.Generator().manual_seed(seed)
    first = int(torch.randint(count, (1,), generator=gen))
    centres = [points[first]]
    best = points @ points[first]
    for _ in range(1, k):
        idx = int(torch.argmin(best))
        centres.append(points[idx])
        best = torch.maximum(best, points @ points[idx])
    c = torch.stack(centres)
    for _ in range(iters):
        assign = (points @ c.T).argmax(dim=1)
        sums = torch.zeros_like(c).index_add_(0, assign, points)
        empty = sums.norm(dim=1) == 0
        sums[empty] = c[empty]
        c = F.normalize(sums, dim=1)
    return c


def _subsample(points: torch.Tensor, cap: int, seed: int) -> torch.Tensor:
    if points.shape[0] <= cap:
        return points
    gen = torch.Generator().manual_seed(seed)
    return points[torch.randperm(points.shape[0], generator=gen)[:cap]]


def support_features(feats: torch.Tensor, fraction: torch.Tensor, n_fg: int = 3,
                     n_bg: int = 5, seed: int = 0) -> SupportFeatures:
    """Summarise one support slice.

    Args:
        feats: ``(C, h, w)`` deep features.
        fraction: ``(h, w)`` foreground fraction in [0, 1].
        n_fg, n_bg: number of foreground / background sub-prototypes (fewer when the slice has
            fewer pixels of that class).
        seed: seed of the pixel subsampling and k-means initialisation.
    """
    feats = feats.float()
    fraction = fraction.float()
    flat = F.normalize(feats.flatten(1).T, dim=1)  # (h*w, C)
    frac = fraction.flatten()
    fg = _subsample(flat[frac > FG_FRACTION], MAX_FG_PIXELS, seed)
    bg = _subsample(flat[frac < BG_FRACTION], MAX_BG_PIXELS, seed + 1)
    return SupportFeatures(
        fg_pixels=fg, bg_pixels=bg,
        fg_protos=kmeans(fg, n_fg, seed=seed), bg_protos=kmeans(bg, n_bg, seed=seed + 2),
        fg_mean=masked_average_pool(feats, fraction), fg_weight=float(fraction.sum()))
