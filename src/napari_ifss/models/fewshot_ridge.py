"""Closed-form per-support linear classifier (ridge regression, as in R2-D2 / MetaOptNet).

A fast adaptation to the user's own support slices that needs no gradient steps: on the
encoder features at 1/2 resolution (``deep`` L2-normalised and upsampled, ``low`` L2-normalised,
and a constant), fit ``w = argmin sum_k a_k |X_k w - y_k|^2 + lam |w|^2`` with ``y = +1`` on
foreground and ``-1`` on background pixels (class-balanced samples). Each support slice keeps
its normal equations ``(X_k^T X_k, X_k^T y_k)``, so the distance weights ``a_k`` of a query only
cost a ``D x D`` solve (``D = C + C_low + 1``). The query's map ``X_q w`` goes to the decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

MAX_SAMPLES_PER_CLASS = 2048
RIDGE = 1e-2


def pixel_features(deep: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """``(D, 2h, 2w)`` ridge features from ``deep`` ``(C, h, w)`` and ``low`` ``(C_low, 2h, 2w)``."""
    up = F.interpolate(F.normalize(deep.float(), dim=0)[None], size=low.shape[-2:],
                       mode="bilinear", align_corners=False)[0]
    ones = torch.ones((1, *low.shape[-2:]), dtype=up.dtype, device=up.device)
    return torch.cat([up, F.normalize(low.float(), dim=0), ones])


def normal_equations(feats: torch.Tensor, fraction: torch.Tensor, seed: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X^T X (D, D), X^T y (D,))`` of one support slice, class-balanced.

    ``feats`` ``(D, H2, W2)`` from :func:`pixel_features`; ``fraction`` ``(H2, W2)`` foreground
    fraction (pixels above 0.5 are foreground, below 0.1 background). Each class gets weight
    one half in total, so a slice with either class missing still contributes."""
    d = feats.shape[0]
    x = feats.reshape(d, -1).T
    frac = fraction.reshape(-1)
    gen = torch.Generator().manual_seed(seed)
    gram = x.new_zeros((d, d))
    xty = x.new_zeros(d)
    for sel, target in ((frac > 0.5, 1.0), (frac < 0.1, -1.0)):
        rows = x[sel]
        if rows.shape[0] == 0:
            continue
        if rows.shape[0] > MAX_SAMPLES_PER_CLASS:
            rows = rows[torch.randperm(rows.shape[0], generator=gen)[:MAX_SAMPLES_PER_CLASS]]
        scale = 0.5 / rows.shape[0]
        gram = gram + scale * rows.T @ rows
        xty = xty + scale * target * rows.sum(dim=0)
    return gram, xty


def solve(equations: Sequence[tuple[torch.Tensor, torch.Tensor]],
          weights: torch.Tensor) -> torch.Tensor:
    """Ridge weights ``(D,)`` from the supports' normal equations and weights ``(K,)``."""
    gram = sum(w * g for (g, _), w in zip(equations, weights.tolist(), strict=True))
    xty = sum(w * b for (_, b), w in zip(equations, weights.tolist(), strict=True))
    d = gram.shape[0]
    eye = torch.eye(d, dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram + RIDGE * eye, xty)


def ridge_map(feats: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The query's linear score ``(1, H2, W2)`` (about +1 foreground, -1 background)."""
    d, h, w_ = feats.shape
    return (w[None] @ feats.reshape(d, h * w_)).reshape(1, h, w_)
