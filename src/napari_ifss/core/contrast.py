"""How well an object stands out from its surroundings in a grey image.

``|mean inside - mean of a ring around it| / pooled std`` (a two-sample effect size), the ring
a quarter of the object's equivalent diameter wide (at least 2 px). It does not change under
an affine intensity change (but for a floor of 1e-3 on the spread, for images in [0, 1]), so
it compares channels of different brightness on equal terms.
Used to size focus windows on large slices (:mod:`~napari_ifss.core.interactive.focus`) and to
pick the channel an annotated object is seen in (:mod:`~napari_ifss.core.fewshot.support_channel`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .spans import span_above

SAMPLE_SIDE = 256  # sampled_contrast measures on a grid of about this many pixels a side


def region_contrast(grey: np.ndarray, obj: np.ndarray) -> float:
    """The contrast of the object ``obj`` ``(H, W)`` bool in ``grey`` ``(H, W)``; 0 when the
    object is empty or fills the image (no ring)."""
    obj = np.asarray(obj, dtype=bool)
    if not obj.any():
        return 0.0
    width = max(2, int(round(0.25 * 2.0 * np.sqrt(obj.sum() / np.pi))))
    # pixels within `width` steps (4-connected) of the object: `width` binary dilations, in one pass
    ring = (ndi.distance_transform_cdt(~obj, metric="taxicab") <= width) & ~obj
    if not ring.any():
        return 0.0
    g = np.asarray(grey, dtype=np.float32)
    inside, around = g[obj], g[ring]
    spread = np.sqrt((inside.var() + around.var()) / 2.0 + 1e-6)
    return float(abs(inside.mean() - around.mean()) / spread)


def sampled_contrast(grey: np.ndarray, mask: np.ndarray, side: int = SAMPLE_SIDE) -> float:
    """:func:`region_contrast` of ``mask`` ``(H, W)`` in ``grey`` ``(H, W)`` within the
    object's bounding box and ring, read on a regular grid of about ``side`` pixels a side
    when that region is larger (bounded cost on large slices; a small object on a large slice
    keeps all its pixels)."""
    m = np.asarray(mask, dtype=bool)
    span = span_above(m, 0)
    if span is None:
        return 0.0
    pad = max(2, int(round(0.5 * np.sqrt(m.sum() / np.pi)))) + 1  # the ring, and one more
    r0, r1 = max(0, span[0] - pad), min(m.shape[0], span[1] + pad)
    c0, c1 = max(0, span[2] - pad), min(m.shape[1], span[3] + pad)
    step = max(1, int(np.ceil(max(r1 - r0, c1 - c0) / side)))
    return region_contrast(np.asarray(grey[r0:r1:step, c0:c1:step]), m[r0:r1:step, c0:c1:step])
