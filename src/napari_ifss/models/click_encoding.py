"""Clicks -> disk maps (positive, negative) as the click head sees them.

Clicks are given in (row, col) pixel coordinates of the network input (H, W). A click paints a
disk of ``radius`` pixels at input scale; the maps are then average-pooled by ``stride`` to the
feature resolution, so a small disk survives as a soft blob.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def disk_maps(
    points: torch.Tensor, shape: tuple[int, int], radius: float = 5.0
) -> torch.Tensor:
    """Disk maps at input resolution.

    Args:
        points: ``(B, N, 3)`` float, each row ``(row, col, label)`` with label 1 = positive,
            0 = negative, -1 = padding (ignored).
        shape: ``(H, W)`` of the input.
        radius: disk radius in input pixels.

    Returns:
        ``(B, 2, H, W)`` float in {0, 1}: channel 0 positive, channel 1 negative clicks.
    """
    h, w = shape
    b = points.shape[0]
    if points.shape[1] == 0:
        return torch.zeros(b, 2, h, w, device=points.device)
    rows = torch.arange(h, device=points.device, dtype=torch.float32).view(1, 1, h, 1)
    cols = torch.arange(w, device=points.device, dtype=torch.float32).view(1, 1, 1, w)
    pr = points[..., 0].float().view(b, -1, 1, 1)
    pc = points[..., 1].float().view(b, -1, 1, 1)
    inside = (rows - pr) ** 2 + (cols - pc) ** 2 <= radius**2  # (B, N, H, W)
    label = points[..., 2].view(b, -1, 1, 1)
    pos = (inside & (label == 1)).any(dim=1)
    neg = (inside & (label == 0)).any(dim=1)
    return torch.stack([pos, neg], dim=1).float()


def click_maps(
    points: torch.Tensor, shape: tuple[int, int], stride: int = 4, radius: float = 5.0
) -> torch.Tensor:
    """Disk maps pooled to the feature grid: ``(B, 2, H/stride, W/stride)`` in [0, 1]."""
    maps = disk_maps(points, shape, radius)
    return F.avg_pool2d(maps, stride) if stride > 1 else maps


def box_maps(
    boxes: torch.Tensor | None, batch: int, shape: tuple[int, int], stride: int = 4
) -> torch.Tensor:
    """Filled-box maps pooled to the feature grid: ``(B, 1, H/stride, W/stride)`` in [0, 1].

    Args:
        boxes: ``(B, 4)`` float rows ``(row0, col0, row1, col1)`` in input pixels (end
            exclusive); a row with ``row1 <= row0`` (e.g. all -1) means "no box". None = no
            box for any sample.
        batch: B, used when ``boxes`` is None.
        shape: ``(H, W)`` of the input.
    """
    h, w = shape
    if boxes is None:
        return torch.zeros(batch, 1, h // stride, w // stride)
    rows = torch.arange(h, device=boxes.device, dtype=torch.float32).view(1, h, 1) + 0.5
    cols = torch.arange(w, device=boxes.device, dtype=torch.float32).view(1, 1, w) + 0.5
    b = boxes.float().view(-1, 4, 1, 1)
    inside = ((rows >= b[:, 0]) & (rows < b[:, 2]) & (cols >= b[:, 1]) & (cols < b[:, 3]))
    maps = inside[:, None].float()
    return F.avg_pool2d(maps, stride) if stride > 1 else maps
