"""Focused feedback correction (FCFI, CVPR 2023, Eq. 1-3) — non-parametric.

Around the newest click, inside a box whose sides are ``ratio`` (r = 0.3) times the feature
map's sides (centred on the click and clipped to the map), the feedback is blended towards the
click's label by the cosine similarity ``S`` (clamped to [0, 1]) between each pixel's deep
feature and the clicked pixel's feature:

* positive click: ``M_c = M + S * (1 - M)``
* negative click: ``M_c = M * (1 - S)``

Outside the box ``M_c = M`` exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def click_boxes(
    centres: torch.Tensor, shape: tuple[int, int], ratio: float = 0.3
) -> torch.Tensor:
    """Boolean box masks ``(B, 1, h, w)`` around ``centres`` ``(B, 2)`` (row, col, feature grid).

    The box sides are ``max(1, round(ratio * h))`` and ``max(1, round(ratio * w))``, clipped
    to the map.
    """
    h, w = shape
    half_h = max(1, round(ratio * h)) / 2.0
    half_w = max(1, round(ratio * w)) / 2.0
    rows = torch.arange(h, device=centres.device, dtype=torch.float32).view(1, h, 1)
    cols = torch.arange(w, device=centres.device, dtype=torch.float32).view(1, 1, w)
    r = centres[:, 0].float().view(-1, 1, 1)
    c = centres[:, 1].float().view(-1, 1, 1)
    box = ((rows - r).abs() <= half_h) & ((cols - c).abs() <= half_w)
    return box.unsqueeze(1)


def focused_correction(
    feedback: torch.Tensor,
    features: torch.Tensor,
    centres: torch.Tensor,
    positive: torch.Tensor,
    active: torch.Tensor | None = None,
    ratio: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correct ``feedback`` around the newest click.

    Args:
        feedback: ``(B, 1, h, w)`` previous mask probability in [0, 1].
        features: ``(B, C, h, w)`` deep features on the same grid.
        centres: ``(B, 2)`` newest click (row, col) on the feature grid (fractional allowed).
        positive: ``(B,)`` bool, the newest click's label.
        active: ``(B,)`` bool; samples where it is False are returned unchanged (empty box).
        ratio: box side as a fraction of the feature map's side.

    Returns:
        ``(corrected, box)``: corrected feedback ``(B, 1, h, w)`` and the box mask
        ``(B, 1, h, w)`` (bool) where the correction applied.
    """
    b, _, h, w = features.shape
    box = click_boxes(centres, (h, w), ratio)
    if active is not None:
        box = box & active.view(b, 1, 1, 1)
    r = centres[:, 0].round().long().clamp(0, h - 1)
    c = centres[:, 1].round().long().clamp(0, w - 1)
    feats = F.normalize(features.float(), dim=1)
    anchor = feats[torch.arange(b, device=feats.device), :, r, c]  # (B, C)
    sim = torch.einsum("bchw,bc->bhw", feats, anchor).unsqueeze(1).clamp(0.0, 1.0)
    fb = feedback.float()
    pos = positive.view(b, 1, 1, 1)
    towards = torch.where(pos, fb + sim * (1.0 - fb), fb * (1.0 - sim))
    return torch.where(box, towards, fb), box
