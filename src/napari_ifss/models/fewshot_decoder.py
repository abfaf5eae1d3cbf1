"""Light decoder of the few-shot head (PFENet-style feature enrichment, U-style upsampling).

Inputs at 1/4 resolution ``(h, w)``: query deep features ``(B, C, h, w)``, the foreground
prototype broadcast over the image ``(B, C)``, the match maps ``(B, N_MAPS, h, w)``, the ridge score (pooled) and the
neighbour prior ``(B, 1, h, w)`` with its presence flag; at 1/2 resolution the query's low
features ``(B, C_low, 2h, 2w)``, the ridge score and the neighbour prior again. Output: logits ``(B, 1, 4h, 4w)`` after a
small full-resolution refinement guided by the grey input image, on top of a learned
correction added to ``g_r * ridge + g_p * (2 * prior - 1)`` (the prior term only where a
neighbour prior is given), so an untrained correction already combines the two.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fewshot_prior import N_MAPS


def _conv(c_in: int, c_out: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=pad, dilation=dilation),
                         nn.ReLU(inplace=True))


class FewShotDecoder(nn.Module):
    """Query features + support evidence (+ the image) -> object logits at full resolution.

    Args:
        channels: channels ``C`` of the encoder's deep map.
        low_channels: channels of the encoder's 1/2-resolution map.
        hidden: width of the 1/4-resolution trunk.
    """

    def __init__(self, channels: int = 48, low_channels: int = 16, hidden: int = 48) -> None:
        super().__init__()
        self.project = _conv(2 * channels, 32, kernel=1)
        self.inp = nn.Sequential(nn.Conv2d(32 + N_MAPS + 3, hidden, 3, padding=1),
                                 nn.GroupNorm(8, hidden), nn.ReLU(inplace=True))
        self.ctx = nn.ModuleList(_conv(hidden, hidden, dilation=d) for d in (2, 4, 8))
        self.squeeze = _conv(hidden, 32, kernel=1)
        self.fine = nn.Sequential(_conv(32 + low_channels + 3, 32), _conv(32, 24))
        self.out = nn.Conv2d(24, 1, 1)
        self.aux = nn.Conv2d(hidden, 1, 1)  # deep supervision at 1/4 (training only)
        # With a neighbour prior the decoder predicts a correction of it: the prior enters the
        # logits directly, as +-gain (so an untrained correction copies the neighbour's mask).
        self.prior_gain = nn.Parameter(torch.tensor(2.0))
        # Likewise the ridge score (about +-1) enters the logits directly, scaled.
        self.ridge_gain = nn.Parameter(torch.tensor(2.0))
        # Full-resolution refinement guided by the image itself (thin structures, boundaries);
        # its last layer starts at zero, so it starts as the upsampled 1/2-res logits.
        self.to_full = nn.Conv2d(24, 8, 1)
        self.refine = nn.Sequential(_conv(8 + 4, 8), _conv(8, 8), nn.Conv2d(8, 1, 1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, deep: torch.Tensor, low: torch.Tensor, proto: torch.Tensor,
                maps: torch.Tensor, ridge: torch.Tensor, prior: torch.Tensor,
                has_prior: torch.Tensor, image: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(logits (B, 1, 4h, 4w), aux_logits (B, 1, h, w))``.

        ``prior`` is the neighbour mask at full network resolution ``(B, 1, 4h, 4w)`` in [0, 1]
        (zeros where absent) and ``has_prior`` ``(B,)`` is 1 where a neighbour prior is given;
        ``ridge`` ``(B, 1, 2h, 2w)`` is the per-support linear classifier's score; ``image``
        ``(B, 1, 4h, 4w)`` the grey network input in [0, 1].
        """
        b, _, h, w = deep.shape
        p4 = F.adaptive_avg_pool2d(prior, (h, w))
        p2 = F.adaptive_avg_pool2d(prior, low.shape[-2:])
        flag = has_prior.view(b, 1, 1, 1).to(deep.dtype)
        x = self.project(torch.cat([deep, proto[:, :, None, None].expand(-1, -1, h, w)], 1))
        r4 = F.adaptive_avg_pool2d(ridge, (h, w))
        x = self.inp(torch.cat([x, maps, r4, p4, flag.expand(-1, 1, h, w)], 1))
        for layer in self.ctx:
            x = x + layer(x)
        aux = self.aux(x) + self.prior_gain * flag * (2 * p4 - 1) + self.ridge_gain * r4
        y = F.interpolate(self.squeeze(x), size=low.shape[-2:], mode="bilinear",
                          align_corners=False)
        y = self.fine(torch.cat([y, low, ridge, p2, flag.expand(-1, 1, *low.shape[-2:])], 1))
        skip = self.prior_gain * flag * (2 * p2 - 1) + self.ridge_gain * ridge
        half = self.out(y) + skip
        size = image.shape[-2:]
        up = F.interpolate(half, size=size, mode="bilinear", align_corners=False)
        feat = F.interpolate(self.to_full(y), size=size, mode="bilinear", align_corners=False)
        contrast = image - F.avg_pool2d(image, 9, stride=1, padding=4, count_include_pad=False)
        guide = torch.cat([feat, 2 * image - 1, 4 * contrast, up / 4, prior * flag], 1)
        return up + self.refine(guide), aux
