"""The feature space of FCFI's focused correction.

The correction itself (:mod:`.focused_correction`) is non-parametric: cosine similarity of
features to the newest click's feature. Which features is a choice. The FCFI authors' code
computes them with a few convolutions from the image, the click maps, the feedback and the deep
features; here a light residual branch on ``[deep features, click maps, feedback]``:

    F_s = F + phi([F, clicks, M])

whose last layer starts at zero, so a net that gains the branch computes what it computed
before (``F_s = F``) until training moves it. The corrected-feedback loss shapes ``F_s`` for
the correction alone, leaving the deep features to the head.
"""

from __future__ import annotations

import torch
from torch import nn


class CorrectionFeatures(nn.Module):
    """``(B, C, h, w)`` deep features + ``(B, E, h, w)`` maps -> ``(B, C, h, w)`` features."""

    def __init__(self, channels: int, extra: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv2d(channels + extra, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )
        nn.init.zeros_(self.branch[2].weight)
        nn.init.zeros_(self.branch[2].bias)

    def forward(self, deep: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        return deep + self.branch(torch.cat([deep, maps.to(deep.dtype)], dim=1))
