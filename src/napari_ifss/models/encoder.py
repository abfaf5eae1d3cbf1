"""Image encoder: a compact ResNet-style trunk with FPN fusion, run once per slice.

Input ``(B, 3, H, W)`` float in [0, 1] with H, W multiples of 32. Output
:class:`EncoderFeatures`: ``deep`` at 1/4 resolution (``(B, C, H/4, W/4)``, FPN fusion of the
1/4..1/32 levels so every pixel carries context) and ``low`` at 1/2 resolution
(``(B, C_low, H/2, W/2)``) for crisp boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResidualBlock, conv_bn_act

# ImageNet-style centring of the [0, 1] input (constant, not learned).
_MEAN = (0.45, 0.45, 0.45)
_STD = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class EncoderFeatures:
    """Cached per-slice features. ``deep``: (B, C, H/4, W/4); ``low``: (B, C_low, H/2, W/2)."""

    deep: torch.Tensor
    low: torch.Tensor

    def to(self, device: torch.device | str) -> EncoderFeatures:
        return EncoderFeatures(self.deep.to(device), self.low.to(device))


class ImageEncoder(nn.Module):
    """ResNet-like trunk (strides 2..32) + top-down FPN to 1/4 resolution.

    Args:
        widths: channels at 1/2, 1/4, 1/8, 1/16, 1/32.
        out_channels: channels of the fused 1/4 map (``deep``).
        low_channels: channels of the 1/2 map (``low``).
    """

    def __init__(
        self,
        widths: tuple[int, int, int, int, int] = (24, 32, 64, 96, 128),
        out_channels: int = 48,
        low_channels: int = 16,
    ) -> None:
        super().__init__()
        w2, w4, w8, w16, w32 = widths
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(conv_bn_act(3, w2, 2), conv_bn_act(w2, w2))
        self.stage4 = nn.Sequential(ResidualBlock(w2, w4, 2), ResidualBlock(w4, w4))
        self.stage8 = nn.Sequential(ResidualBlock(w4, w8, 2), ResidualBlock(w8, w8))
        self.stage16 = nn.Sequential(ResidualBlock(w8, w16, 2), ResidualBlock(w16, w16))
        self.stage32 = nn.Sequential(ResidualBlock(w16, w32, 2), ResidualBlock(w32, w32))
        self.lateral = nn.ModuleList(
            nn.Conv2d(w, out_channels, 1) for w in (w4, w8, w16, w32)
        )
        self.smooth = conv_bn_act(out_channels, out_channels)
        self.low = conv_bn_act(w2, low_channels, kernel=1)
        self.out_channels = out_channels
        self.low_channels = low_channels

    def forward(self, image: torch.Tensor) -> EncoderFeatures:
        """``image`` (B, 3, H, W) in [0, 1], H and W multiples of 32."""
        x = (image - self.mean) / self.std
        c2 = self.stem(x)
        c4 = self.stage4(c2)
        c8 = self.stage8(c4)
        c16 = self.stage16(c8)
        c32 = self.stage32(c16)
        top = self.lateral[3](c32)
        for lateral, feat in zip(self.lateral[2::-1], (c16, c8, c4), strict=True):
            top = lateral(feat) + F.interpolate(top, size=feat.shape[-2:], mode="nearest")
        return EncoderFeatures(deep=self.smooth(top), low=self.low(c2))
