"""Exemplar mode on a large slice: the objects at their own scale, tile by tile.

Shrinking a whole 4096 px mosaic to the network's 1024 px makes 40 px cells 10 px across, and
exemplar mode then misses a third of them (on synthetic cells: 16 of 29 found on the centre
tile of a 4096 px mosaic against 24 on the 512 px tile alone). When the slice would be shrunk
to less than half the scale it gets without the network's size limit (:data:`TILED_BELOW`),
it is processed at that scale instead, in tiles of the network's long side:

1. the class map (:func:`~.class_map.class_support`) is fitted on the tile around the
   exemplar: the exemplar and the objects like it found there are the support;
2. the few-shot head predicts every tile (:func:`~napari_ifss.core.tiles.tile_boxes`, each
   read with a halo of :data:`HALO_SHARE` of the tile, the inner part kept) into one
   probability map of the working size;
3. instances are split on that map as on a small slice (:mod:`.instances`).

:func:`segment_tiles` is a progress generator: it yields a :class:`TileProgress` after each
tile (the dock's progress bar) and returns the result.

The working image is at most :data:`TILED_MAX_SIDE` px long (larger slices are shrunk to it).
Coordinates (row, col).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..fewshot.fewshot import FewShotSegmenter
from ..normalize import IntensityWindow
from ..spans import span_above
from ..tiles import box_around, tile_boxes
from .class_map import class_support
from .instances import find_instances, to_slice_size, to_working_size, working_scale

if TYPE_CHECKING:  # exemplar imports this module
    from .exemplar import ExemplarSettings

TILED_MAX_SIDE = 8192  # the working image's longest side in tiled mode
TILED_BELOW = 0.5  # tiles when the whole-slice scale is below this share of the free scale
HALO_SHARE = 0.125  # each tile is read with this share of its side as context on every side

__all__ = ["HALO_SHARE", "TILED_BELOW", "TILED_MAX_SIDE", "TileProgress", "segment_tiles",
           "tiled_scale"]


@dataclass(frozen=True)
class TileProgress:
    """``done`` of the slice's ``total`` tiles are predicted."""

    done: int
    total: int


def tiled_scale(shape: tuple[int, int], radius: float, diameter: float, min_side: int,
                max_side: int) -> float | None:
    """The working scale of tiled mode for a slice of ``shape`` whose exemplar has
    equivalent ``radius`` (px), or None when the whole slice at the network's size
    (:func:`~.instances.working_scale`) keeps at least :data:`TILED_BELOW` of it or still
    shows the exemplar at least ``diameter`` px across (large objects need no tiles)."""
    whole = working_scale(shape, radius, diameter, min_side, max_side)
    free = working_scale(shape, radius, diameter, min_side, max(TILED_MAX_SIDE, max_side))
    own = diameter / (2.0 * radius)  # the scale at which the exemplar is `diameter` px
    return free if whole < TILED_BELOW * free and whole < own else None


def segment_tiles(segmenter: FewShotSegmenter, image: np.ndarray, exemplar: np.ndarray,
                  blocked: np.ndarray, settings: ExemplarSettings, window: IntensityWindow,
                  scale: float
                  ) -> Generator[TileProgress, None,
                                 tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Steps 1-3 at ``scale`` in tiles of ``segmenter.max_side`` px; yields a
    :class:`TileProgress` after each tile.

    Args:
        image: ``(H, W)`` / ``(H, W, 3|4)`` slice; exemplar, blocked: ``(H, W)`` bool.

    Returns:
        ``(instances, probability, support mask, #candidates)`` at the slice's own size,
        as the whole-slice path returns them.
    """
    img, ex, blk, shape = to_working_size(image, exemplar, blocked, scale)
    size = ex.shape
    tile = int(segmenter.max_side)
    e0, e1, f0, f1 = span_above(ex, 0)  # the exemplar's box; its tile centred on it
    r0, r1, c0, c1 = box_around(((e0 + e1 - 1) / 2.0, (f0 + f1 - 1) / 2.0), tile, size)
    crop = (slice(r0, r1), slice(c0, c1))
    segmenter.set_support([img[crop]], [ex[crop]], window=window)
    found = class_support(segmenter, img[crop], ex[crop], (blk | ex)[crop], shape, settings,
                          ("exemplar-tile", id(img)))
    segmenter.set_support([img[crop]], [found], window=window)
    segmenter.clear_cache()
    prob = np.zeros(size, np.float32)
    boxes = tile_boxes(size, tile, int(HALO_SHARE * tile))
    for done, ((a0, a1, b0, b1), (k0, k1, l0, l1)) in enumerate(boxes, start=1):
        p = segmenter.predict(img[a0:a1, b0:b1])
        prob[k0:k1, l0:l1] = p[k0 - a0:k1 - a0, l0 - b0:l1 - b0]
        yield TileProgress(done, len(boxes))
    inst, n, _, _ = find_instances(prob > settings.threshold, blk | ex, shape, settings)
    support = np.zeros(size, bool)
    support[crop] = found
    return (*to_slice_size(inst, prob, support, exemplar.shape), n)
