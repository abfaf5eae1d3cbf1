"""The few-shot head: support summaries + match maps + decoder, on the frozen click encoder.

Shapes: the encoder's ``deep`` features are ``(B, C, h, w)`` at 1/4 of the network input
``(H, W)`` and ``low`` ``(B, C_low, 2h, 2w)``; support masks are given at the network input
resolution ``(H, W)`` (any float in [0, 1]); logits come back at ``(H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .fewshot_decoder import FewShotDecoder
from .fewshot_prior import match_maps
from .fewshot_prototypes import SupportFeatures, support_features
from .fewshot_ridge import normal_equations, pixel_features, ridge_map, solve

STRIDE = 4


class FewShotHead(nn.Module):
    """PFENet / IFSENet-style few-shot head (trainable part: the decoder only).

    Args:
        channels, low_channels: the encoder's ``deep`` / ``low`` channels.
        hidden: decoder trunk width.
        n_fg, n_bg: foreground / background sub-prototypes per support slice (k-means).
    """

    def __init__(self, channels: int = 48, low_channels: int = 16, hidden: int = 48,
                 n_fg: int = 3, n_bg: int = 5) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(channels=channels, low_channels=low_channels,
                                           hidden=hidden, n_fg=n_fg, n_bg=n_bg)
        self.n_fg, self.n_bg = n_fg, n_bg
        self.decoder = FewShotDecoder(channels, low_channels, hidden)

    def summarize(self, deep: torch.Tensor, low: torch.Tensor, mask: torch.Tensor,
                  seed: int = 0) -> SupportFeatures:
        """One support slice: ``deep`` ``(C, h, w)``, ``low`` ``(C_low, 2h, 2w)``, ``mask``
        ``(H, W)`` = ``(4h, 4w)`` in [0, 1]."""
        m = mask.float()[None, None]
        fraction = F.adaptive_avg_pool2d(m, deep.shape[-2:])[0, 0]
        summary = support_features(deep.float(), fraction, self.n_fg, self.n_bg, seed)
        half = F.adaptive_avg_pool2d(m, low.shape[-2:])[0, 0]
        gram, xty = normal_equations(pixel_features(deep, low), half, seed)
        return replace(summary, gram=gram, xty=xty)

    @staticmethod
    def prototype(supports: Sequence[SupportFeatures], weights: torch.Tensor) -> torch.Tensor:
        """Weighted masked-average foreground prototype ``(C,)`` over the support slices."""
        num = torch.zeros_like(supports[0].fg_mean)
        den = 0.0
        for s, w in zip(supports, weights.tolist(), strict=True):
            if s.fg_weight > 0 and w > 0:
                num = num + w * s.fg_mean
                den += w
        return num / den if den > 0 else num

    @staticmethod
    def ridge(deep: torch.Tensor, low: torch.Tensor, supports: Sequence[SupportFeatures],
              weights: torch.Tensor) -> torch.Tensor:
        """The closed-form linear classifier's score ``(1, 2h, 2w)`` for one query, in [-3, 3]."""
        eqs = [(s.gram, s.xty) for s in supports]
        if any(g is None for g, _ in eqs):
            raise ValueError("support summaries lack ridge equations; use FewShotHead.summarize")
        with torch.autocast(deep.device.type, enabled=False):  # small fp32 algebra
            w = solve(eqs, weights.to(torch.float32))  # type: ignore[arg-type]
            return ridge_map(pixel_features(deep.float(), low.float()), w).clamp(-3, 3)

    def forward(self, deep: torch.Tensor, low: torch.Tensor,
                supports: Sequence[Sequence[SupportFeatures]], weights: Sequence[torch.Tensor],
                prior: torch.Tensor | None = None, has_prior: torch.Tensor | None = None,
                image: torch.Tensor | None = None, with_aux: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Object logits ``(B, 1, H, W)`` for a batch of queries.

        Args:
            deep, low: the queries' encoder features ``(B, C, h, w)`` / ``(B, C_low, 2h, 2w)``.
            supports: per query, its support summaries (``K_b >= 1``).
            weights: per query, ``(K_b,)`` support weights.
            prior: ``(B, 1, H, W)`` neighbour-slice mask in [0, 1], or None.
            has_prior: ``(B,)`` 1 where ``prior`` is given for that query (default: all when
                ``prior`` is given, none otherwise).
            image: ``(B, 1, H, W)`` grey network input in [0, 1] for the full-resolution
                refinement (zeros if None, which degrades boundaries).
            with_aux: also return the 1/4-resolution auxiliary logits (training).
        """
        b, _, h, w = deep.shape
        size = (h * STRIDE, w * STRIDE)
        deep_f = deep.float()
        maps = torch.stack([match_maps(deep_f[i], supports[i], weights[i]) for i in range(b)])
        ridge = torch.stack([self.ridge(deep_f[i], low[i], supports[i], weights[i])
                             for i in range(b)])
        protos = torch.stack([self.prototype(supports[i], weights[i]) for i in range(b)])
        if prior is None:
            prior = deep_f.new_zeros((b, 1, *size))
            has_prior = deep_f.new_zeros(b)
        elif has_prior is None:
            has_prior = deep_f.new_ones(b)
        if image is None:
            image = deep_f.new_zeros((b, 1, *size))
        logits, aux = self.decoder(deep_f, low.float(), protos, maps, ridge, prior.float(),
                                   has_prior.float(), image.float())
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return (logits, aux) if with_aux else logits


def distance_weights(positions: Sequence[float] | None, query: float | None,
                     k: int) -> torch.Tensor:
    """Support weights ``(k,)``: ``1 / (1 + |z_query - z_k|)`` normalised, uniform without
    positions (2D few-shot)."""
    if positions is None or query is None:
        return torch.full((k,), 1.0 / k)
    d = torch.tensor([abs(float(query) - float(p)) for p in positions])
    w = 1.0 / (1.0 + d)
    return w / w.sum()
