"""A second classical click segmenter: marker watershed on the image gradient.

Uses the same seeds as the random walker (:func:`~.random_walker.click_seeds`: click disks,
the image border as background before the first negative click) and the same downscaling.
The result is binary (probability 0 or 1). ``prev_mask`` is ignored (no feedback).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.filters import sobel
from skimage.segmentation import watershed

from ..core.interactive.prompts import Click
from .random_walker import BACKGROUND, FOREGROUND, Downscaled


class WatershedSegmenter(Downscaled):
    """Marker-controlled watershed on the Sobel gradient magnitude, seeded by clicks.

    A :class:`~napari_ifss.core.protocols.ClickSegmenter`; for RGB slices the gradient is the
    root of the summed squared per-channel gradients.
    """

    name = "watershed"

    def __init__(self, max_side: int = 256, seed_radius: float = 3.0) -> None:
        super().__init__(max_side, seed_radius)
        self._gradient: np.ndarray | None = None

    def set_image(self, image: np.ndarray, key=None) -> None:
        """Set a ``(H, W)`` or ``(H, W, 3)`` slice and compute its gradient magnitude."""
        super().set_image(image, key)
        work = self._work
        if work.ndim == 3:
            self._gradient = np.sqrt(sum(sobel(work[..., i]) ** 2 for i in range(work.shape[-1])))
        else:
            self._gradient = sobel(work)

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None = None) -> np.ndarray:
        """Binary object mask as float32 ``(H, W)`` (``prev_mask`` is ignored)."""
        seeds = self._prepare(clicks)
        if seeds is None:
            return np.zeros(self._full_shape, dtype=np.float32)
        if not np.any(seeds == BACKGROUND):
            return np.ones(self._full_shape, dtype=np.float32)
        labels = watershed(self._gradient, markers=seeds.astype(np.int32))
        return self._upsample((labels == FOREGROUND).astype(np.float32))
