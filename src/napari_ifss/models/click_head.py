"""The light U-shaped click head that runs on cached encoder features.

It works at 1/4 .. 1/16 of the input resolution (large receptive field: the object can span
the whole image) and refines the output at 1/2 resolution with the encoder's low-level map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResidualBlock, conv_bn_act


class ClickEmbedding(nn.Module):
    """Fuse deep features ``(B, C, h, w)`` with ``extra`` maps ``(B, E, h, w)`` (clicks, mask)."""

    def __init__(self, channels: int, extra: int) -> None:
        super().__init__()
        self.maps = nn.Sequential(conv_bn_act(extra, 16), conv_bn_act(16, channels))
        self.fuse = conv_bn_act(channels, channels)

    def forward(self, deep: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.fuse(deep + self.maps(extra.to(deep.dtype)))


class UHead(nn.Module):
    """U-shaped decoder: ``(B, C, h, w)`` at 1/4 (+ low map at 1/2) -> logits ``(B, 1, 2h, 2w)``."""

    def __init__(self, channels: int = 48, low_channels: int = 16,
                 widths: tuple[int, int] = (64, 96)) -> None:
        super().__init__()
        w8, w16 = widths
        self.down8 = ResidualBlock(channels, w8, 2)
        self.down16 = nn.Sequential(ResidualBlock(w8, w16, 2), ResidualBlock(w16, w16))
        self.up8 = conv_bn_act(w16 + w8, w8)
        self.up4 = conv_bn_act(w8 + channels, channels)
        self.reduce = conv_bn_act(channels, low_channels, kernel=1)
        self.up2 = conv_bn_act(2 * low_channels, low_channels)
        self.out = nn.Conv2d(low_channels, 1, 1)

    def forward(self, x4: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        y8 = self.up8(torch.cat([F.interpolate(x16, size=x8.shape[-2:], mode="bilinear",
                                               align_corners=False), x8], dim=1))
        y4 = self.up4(torch.cat([F.interpolate(y8, size=x4.shape[-2:], mode="bilinear",
                                               align_corners=False), x4], dim=1))
        y2 = F.interpolate(self.reduce(y4), size=low.shape[-2:], mode="bilinear",
                           align_corners=False)
        return self.out(self.up2(torch.cat([y2, low.to(y2.dtype)], dim=1)))
