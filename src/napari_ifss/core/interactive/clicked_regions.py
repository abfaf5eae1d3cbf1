"""Keep only the regions the user clicked: drop predicted blobs that hold no positive click.

A click model sometimes marks a few pixels of a neighbouring object as well. Every region of
the thresholded prediction that contains none of the user's positive clicks is such a stray
blob, so :func:`keep_clicked_regions` sets its probability to 0. An object that is really split
in the slice loses its other parts until the user clicks on them, which then keeps them.
:class:`ClickedRegions` wraps any :class:`~.protocols.ClickSegmenter` with it, so the cleaned
map is also the feedback the model sees at the next click.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from scipy import ndimage

from .prompts import Click

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def keep_clicked_regions(prob: np.ndarray, clicks: Sequence[Click],
                         threshold: float = 0.5) -> np.ndarray:
    """``prob`` with every 8-connected region of ``prob > threshold`` that holds no positive
    click set to 0.

    Args:
        prob: float ``(H, W)`` object probability.
        clicks: clicks in (row, col) pixel coordinates of ``prob``; a click counts for the pixel
            it falls in (rounded down, clipped to the image).
        threshold: the threshold that defines the regions (the session's).

    Returns:
        A float32 ``(H, W)`` array; ``prob`` itself (as float32) when nothing is dropped, which
        includes the case of no positive click inside any region (the model missed the clicked
        object entirely: keeping nothing would hide that). The input is never modified.
    """
    prob = np.asarray(prob, dtype=np.float32)
    if prob.ndim != 2:
        raise ValueError(f"prob must be (H, W); got shape {prob.shape}")
    labels, n = ndimage.label(prob > threshold, structure=_EIGHT_CONNECTED)
    if n <= 1:
        return prob
    h, w = prob.shape
    clicked = {int(labels[min(max(int(c.row), 0), h - 1), min(max(int(c.col), 0), w - 1)])
               for c in clicks if c.positive}
    clicked.discard(0)
    if not clicked:
        return prob
    stray = (labels > 0) & ~np.isin(labels, sorted(clicked))
    return np.where(stray, np.float32(0.0), prob)


class ClickedRegions:
    """A :class:`~.protocols.ClickSegmenter` whose predictions keep only the clicked regions.

    Args:
        segmenter: the model to wrap (its other attributes stay reachable, e.g. ``.net``).
        threshold: the threshold that defines the regions.
    """

    def __init__(self, segmenter, threshold: float = 0.5) -> None:
        self.segmenter = segmenter
        self.threshold = threshold

    def set_image(self, image: np.ndarray, key: Hashable | None = None) -> None:
        """Set the slice (passed on unchanged)."""
        self.segmenter.set_image(image, key)

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None = None) -> np.ndarray:
        """The wrapped model's float32 ``(H, W)`` probability, stray regions set to 0."""
        prob = self.segmenter.predict(clicks, prev_mask)
        return keep_clicked_regions(prob, clicks, self.threshold)

    def __getattr__(self, name: str):
        if name == "segmenter":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.segmenter, name)
