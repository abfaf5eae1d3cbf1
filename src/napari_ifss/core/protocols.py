"""Protocols that let the session, the robot clicker and the benchmarks treat our deep model
and the classical baselines alike."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .interactive.prompts import Click


@runtime_checkable
class ClickSegmenter(Protocol):
    """Anything that turns clicks on one 2D slice into an object probability map.

    Usage follows segment-anything's predictor: ``set_image`` once per slice (expensive,
    cached), then ``predict`` once per click (cheap).
    """

    def set_image(self, image: np.ndarray, key: Hashable | None = None) -> None:
        """Set the slice to segment: ``(H, W)`` grey or ``(H, W, 3)`` RGB, any numeric dtype.

        ``key`` (e.g. the slice index) lets an implementation cache per-slice work so that
        returning to a slice is free.
        """
        ...

    def predict(
        self, clicks: Sequence[Click], prev_mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Object probability, float32 ``(H, W)`` in [0, 1], at the slice's full resolution.

        ``clicks`` are in (row, col) pixel coordinates of the slice, oldest first; the last
        one is the newest. ``prev_mask`` is the previous probability or binary mask
        ``(H, W)`` (the feedback), or None before the first click.
        """
        ...
