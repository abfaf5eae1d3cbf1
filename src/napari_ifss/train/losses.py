"""Normalised focal loss (RITM, Sofiiuk et al. 2021) and the FCFI loss combination."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8


def normalized_focal_loss(prob: torch.Tensor, target: torch.Tensor,
                          weight: torch.Tensor | None = None, alpha: float = 0.5,
                          gamma: float = 2.0) -> torch.Tensor:
    """RITM's NFL on probabilities, averaged over the batch.

    Args:
        prob: ``(B, 1, H, W)`` predicted probability in [0, 1].
        target: ``(B, 1, H, W)`` target in [0, 1] (soft targets allowed).
        weight: optional ``(B, 1, H, W)`` pixel mask/weight (e.g. the FCFI box); pixels with 0
            weight are ignored; a sample with no weighted pixel contributes 0.
    """
    prob = prob.float().clamp(0.0, 1.0)
    target = target.float()
    w = torch.ones_like(prob) if weight is None else weight.float()
    a = torch.where(target > 0.5, alpha, 1.0 - alpha) * w
    pt = torch.where(w > 0, 1.0 - (target - prob).abs(), torch.ones_like(prob))
    beta = (1.0 - pt) ** gamma
    dims = (1, 2, 3)
    w_sum = w.sum(dim=dims, keepdim=True)
    beta_sum = beta.sum(dim=dims, keepdim=True)
    beta = (beta * (w_sum / (beta_sum + _EPS))).detach()
    loss = -a * beta * torch.log(pt.clamp(min=_EPS))
    return (loss.sum(dim=dims) / (w_sum.flatten() + _EPS)).mean()


def click_net_loss(output, target: torch.Tensor, w_corrected: float = 0.4,
                   w_updated: float = 0.4) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of a :class:`~napari_ifss.models.click_net.ClickOutput` against ``target``.

    ``target`` is the ``(B, 1, H, W)`` object mask at input resolution. For FCFI outputs the
    corrected feedback (inside the box only) and the updated feedback are supervised at the
    feature resolution with the average-pooled (soft) target.
    """
    out = normalized_focal_loss(torch.sigmoid(output.logits), target)
    parts = {"out": float(out.detach())}
    total = out
    if output.updated_logits is not None:
        stride = target.shape[-1] // output.updated_logits.shape[-1]
        small = F.avg_pool2d(target.float(), stride)
        upd = normalized_focal_loss(torch.sigmoid(output.updated_logits), small)
        corr = normalized_focal_loss(output.corrected, small, output.box.float())
        total = total + w_updated * upd + w_corrected * corr
        parts.update(updated=float(upd.detach()), corrected=float(corr.detach()))
    return total, parts
