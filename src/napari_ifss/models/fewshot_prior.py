"""Training-free match maps between a query slice and its support slices.

For each query feature pixel (cosine similarity, features ``(C, h, w)`` at 1/4 resolution):

* prior (PFENet): the best match to any support foreground pixel, and to any background pixel;
* prototype match: the best match to a foreground / background sub-prototype;

each averaged over the support slices with per-slice weights (nearer slices weigh more), plus
PFENet's min-max normalised foreground prior. Output ``(N_MAPS, h, w)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .fewshot_prototypes import SupportFeatures

N_MAPS = 5


def _best_match(query: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """``max_j <query[:, i], refs[j]>`` for normalised ``query`` ``(C, n)``, ``refs`` ``(m, C)``."""
    return (refs @ query).amax(dim=0)


def _weighted(maps: list[torch.Tensor | None], weights: torch.Tensor, n: int,
              like: torch.Tensor) -> torch.Tensor:
    """Weighted mean of the available maps (``None`` = that support has no such pixels)."""
    total = like.new_zeros(n)
    wsum = 0.0
    for m, w in zip(maps, weights.tolist(), strict=True):
        if m is not None and w > 0:
            total = total + w * m
            wsum += w
    return total / wsum if wsum > 0 else total


def match_maps(query: torch.Tensor, supports: Sequence[SupportFeatures],
               weights: torch.Tensor) -> torch.Tensor:
    """The match maps of one query.

    Args:
        query: ``(C, h, w)`` deep features of the query slice.
        supports: one :class:`SupportFeatures` per support slice (``K >= 1``).
        weights: ``(K,)`` non-negative support weights (need not sum to 1).

    Returns:
        ``(N_MAPS, h, w)`` float32: fg prior, bg prior, fg prototype match, bg prototype match,
        min-max normalised fg prior.
    """
    c, h, w = query.shape
    q = F.normalize(query.float().reshape(c, h * w), dim=0)
    n = h * w

    def per_support(attr: str) -> list[torch.Tensor | None]:
        out: list[torch.Tensor | None] = []
        for s in supports:
            refs = getattr(s, attr).to(q.dtype)
            out.append(_best_match(q, refs) if refs.shape[0] else None)
        return out

    fg = _weighted(per_support("fg_pixels"), weights, n, q)
    bg = _weighted(per_support("bg_pixels"), weights, n, q)
    pfg = _weighted(per_support("fg_protos"), weights, n, q)
    pbg = _weighted(per_support("bg_protos"), weights, n, q)
    lo, hi = fg.min(), fg.max()
    norm = (fg - lo) / (hi - lo).clamp_min(1e-6)
    return torch.stack([fg, bg, pfg, pbg, norm]).reshape(N_MAPS, h, w)
