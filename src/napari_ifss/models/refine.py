"""Optional test-time refinement in the spirit of f-BRS (Sofiiuk et al., CVPR 2020).

A per-channel scale and bias on the cached deep features (``(1, C, 1, 1)`` each) are optimised
for a few steps so that the clicked disks get their labels; network weights stay fixed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .click_encoding import disk_maps
from .click_net import STRIDE, ClickNet
from .encoder import EncoderFeatures


def refine_features(net: ClickNet, feats: EncoderFeatures, points: torch.Tensor,
                    prev_mask: torch.Tensor | None, autocast: Callable,
                    steps: int = 8, lr: float = 0.1, reg: float = 1e-3,
                    boxes: torch.Tensor | None = None) -> EncoderFeatures:
    """Return features whose deep map is ``deep * scale + bias`` after ``steps`` Adam steps.

    ``points`` ``(1, N, 3)`` (row, col, label) in network pixels; stops early once every
    clicked disk is on the right side of 0.5.
    """
    deep = feats.deep.detach().float()
    c = deep.shape[1]
    scale = torch.ones(1, c, 1, 1, device=deep.device, requires_grad=True)
    bias = torch.zeros(1, c, 1, 1, device=deep.device, requires_grad=True)
    shape = (deep.shape[-2] * STRIDE, deep.shape[-1] * STRIDE)
    disks = disk_maps(points, shape, net.click_radius)
    pos, neg = disks[:, :1] > 0, disks[:, 1:] > 0
    opt = torch.optim.Adam([scale, bias], lr=lr)
    for _ in range(steps):
        with torch.enable_grad(), autocast():
            refined = EncoderFeatures(deep * scale + bias, feats.low)
            logits = net.decode(refined, points, prev_mask, boxes).logits.float()
        if bool(((logits > 0) | ~pos).all() and ((logits < 0) | ~neg).all()):
            break
        target = pos.float()
        weight = (pos | neg).float()
        loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight,
                                                  reduction="sum") / weight.sum().clamp(min=1)
        loss = loss + reg * (((scale - 1) ** 2).sum() + (bias**2).sum())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return EncoderFeatures((deep * scale + bias).detach(), feats.low)
