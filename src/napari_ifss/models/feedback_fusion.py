"""Collaborative feedback fusion (FCFI, CVPR 2023).

* Feedback pathway: updates the (corrected) feedback from deep features and predicts the
  updated feedback ``M_u`` (as a logit map).
* Feature pathway: fuses ``M_u`` back into the features through a gated residual
  ``F' = F + g * phi([F, M_u])`` with ``g = 0`` on the first click and ``1`` afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import conv_bn_act


class CollaborativeFusion(nn.Module):
    """Both pathways on a ``(B, C, h, w)`` feature map and a ``(B, 1, h, w)`` feedback map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.feedback_path = nn.Sequential(
            conv_bn_act(channels + 1, channels),
            conv_bn_act(channels, channels // 2),
            nn.Conv2d(channels // 2, 1, 1),
        )
        self.feature_path = nn.Sequential(
            conv_bn_act(channels + 1, channels),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(
        self, features: torch.Tensor, feedback: torch.Tensor, gate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(fused features (B, C, h, w), updated feedback logits (B, 1, h, w))``.

        ``gate`` is ``(B,)`` float (0 on the first click, 1 after).
        """
        fb = feedback.to(features.dtype)
        updated_logits = self.feedback_path(torch.cat([features, fb], dim=1))
        updated = torch.sigmoid(updated_logits).to(features.dtype)
        residual = self.feature_path(torch.cat([features, updated], dim=1))
        g = gate.to(features.dtype).view(-1, 1, 1, 1)
        return features + g * residual, updated_logits
