"""Click simulation for training (RITM protocol) on numpy masks.

First click: an interior point far from the object's border (random among the pixels whose
distance to the border is at least a random fraction of the maximum). Next clicks: at the
interior of the largest error region (farthest from its border); positive if it is a false
negative, else negative.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _edt(mask: np.ndarray) -> np.ndarray:
    """Distance to the nearest pixel outside ``mask`` (image borders count as outside)."""
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def first_click(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """``(row, col, 1)`` inside the non-empty bool ``mask`` ``(H, W)``, away from its border."""
    dist = _edt(mask)
    peak = dist.max()
    if peak <= 0:
        raise ValueError("cannot place a click in an empty mask")
    candidates = np.argwhere(dist >= peak * rng.uniform(0.3, 0.9))
    r, c = candidates[rng.integers(len(candidates))]
    return int(r), int(c), 1


def next_click(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int, int] | None:
    """Robot click ``(row, col, label)`` at the largest error of ``pred`` vs ``gt`` (both bool
    ``(H, W)``), or None when there is no error."""
    fn = _edt(gt & ~pred)
    fp = _edt(~gt & pred)
    fn_max, fp_max = fn.max(), fp.max()
    if max(fn_max, fp_max) <= 0:
        return None
    positive = fn_max >= fp_max
    dist = fn if positive else fp
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c), int(positive)


def points_tensor(clicks: list[list[tuple[int, int, int]]]) -> np.ndarray:
    """Per-sample click lists -> ``(B, N, 3)`` float32 padded with label -1 (rows (r, c, label))."""
    n = max(1, max(len(c) for c in clicks))
    out = np.full((len(clicks), n, 3), -1.0, dtype=np.float32)
    for i, cl in enumerate(clicks):
        if cl:
            out[i, : len(cl)] = np.asarray(cl, dtype=np.float32)
    return out


def jittered_box(mask: np.ndarray, rng: np.random.Generator,
                 jitter: float = 0.1) -> tuple[float, float, float, float]:
    """The bounding box ``(row0, col0, row1, col1)`` (end exclusive) of the non-empty bool
    ``mask`` ``(H, W)``, each side moved by up to ``jitter`` x the box's size, as a user drags
    a box loosely around an object; clipped to the image."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("cannot draw a box around an empty mask")
    h, w = mask.shape
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    dr, dc = jitter * (r1 - r0), jitter * (c1 - c0)
    move = rng.uniform(-1.0, 1.0, 4) * np.array([dr, dc, dr, dc])
    box = np.array([r0, c0, r1, c1], dtype=float) + move
    box[[0, 2]] = np.clip(box[[0, 2]], 0, h)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, w)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:  # jitter collapsed it: the tight box
        box = np.array([r0, c0, r1, c1], dtype=float)
    return tuple(float(v) for v in box)  # type: ignore[return-value]
