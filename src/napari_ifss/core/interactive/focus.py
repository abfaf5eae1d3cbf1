"""Focus windows: which part of a large slice the click model looks at, and at what size.

A large slice (a mosaic, a whole-slide scan) downsampled as a whole shrinks a 40 px cell to a
few network pixels; a fixed window around the click cuts a large object. So the first positive
click on a large slice is predicted in square windows around it (:func:`first_windows`:
:data:`FOCUS_MIN_SIZE`, then doubling, up to the whole slice) and :func:`choose_window` keeps
the smallest whose object is *stable*, about as large as in the next larger window (a cell is
the same cell there; a window inside a large object finds a blob that grows with the window),
and which stands out from its surroundings (:func:`boundary_contrast`: mean intensity inside
the object against a ring around it, over their pooled standard deviation). Later prompts on
the same object reuse that window while the object fits it, else a window at least as large,
:data:`FOCUS_EXPANSION` times the object's extent.

The size rule (:func:`choose_window`) was chosen on synthetic cells of two images and slices of
the large-volume benchmark's disk; on other such images (``benchmarks/mosaic_clicks.py``) one
click on a 40 px cell of a 4096 px mosaic gives IoU 0.77 (0.78 on its 512 px tile, 0.05 with
the whole mosaic shrunk), and cells magnified to 150-300 px and a 300-540 px disk are found at
least as well as on the shrunk image.

All boxes are ``(r0, r1, c0, c1)`` half-open pixel ranges of the slice, (row, col) order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..contrast import region_contrast

FOCUS_ABOVE = 1024  # slices with a longer side get focus windows by default
FOCUS_MIN_SIZE = 384  # the smallest window side, slice pixels
FOCUS_EXPANSION = 2.0  # a later window is this many times the object's extent
FOCUS_GRID = 64  # window edges snap to this grid so that later clicks reuse an encoding
CONTRAST_SIDE = 256  # contrast is measured on the window subsampled to about this side
# The first window is the smallest whose object is *stable*: about as large (area ratio within
# [AREA_AGREEMENT, 1 / AREA_AGREEMENT]) as the object found in the next larger window, with a
# contrast of at least CONTRAST_SHARE of the best candidate's. A window inside a large object
# finds a blob that grows with the window; a cell is the same cell in the next window. Without a
# stable pair, the smallest window within CONTRAST_SHARE of the best contrast (a larger window
# often finds a clump of touching cells with a sharper outline than the one clicked).
AREA_AGREEMENT = 0.6
CONTRAST_SHARE = 0.5

Window = tuple[int, int, int, int]  # (r0, r1, c0, c1), half-open


def window_around(rows: tuple[int, int], cols: tuple[int, int], shape: Sequence[int],
                  expansion: float, min_size: int, *, grid: int = 1, shift: bool = False,
                  cover: float = 0.8) -> Window | None:
    """The crop ``(r0, r1, c0, c1)`` around the pixel ranges ``rows`` and ``cols`` (inclusive)
    of a slice of ``shape`` ``(H, W)``: each side grown by ``expansion``, at least ``min_size``
    (or the slice), its edges on a ``grid``; at the slice's border it is cut (``shift`` False,
    the zoom-in) or moved inside (True: focus windows keep their size). None when it would cover
    ``cover`` of the slice or more (then the whole slice is used)."""
    window = []
    for (lo, hi), n in ((rows, int(shape[0])), (cols, int(shape[1]))):
        centre = (lo + hi + 1) / 2.0
        half = max((hi - lo + 1) * expansion, min(min_size, n)) / 2.0
        a = int(np.floor((centre - half) / grid)) * grid
        b = int(np.ceil((centre + half) / grid)) * grid
        if not shift:
            a, b = max(0, a), min(n, b)
        if a < 0:
            a, b = 0, min(n, b - a)
        if b > n:
            a, b = max(0, a - (b - n)), n
        window += [a, b]
    r0, r1, c0, c1 = window
    if (r1 - r0) * (c1 - c0) >= cover * int(shape[0]) * int(shape[1]):
        return None
    return r0, r1, c0, c1


def first_windows(point: tuple[int, int], shape: Sequence[int],
                  min_size: int = FOCUS_MIN_SIZE) -> list[Window | None]:
    """Candidate windows for the first prompt at pixel ``point`` (row, col): squares of side
    ``min_size``, twice that, ... around it, then None (the whole slice)."""
    out: list[Window | None] = []
    side = int(min_size)
    while True:
        box = window_around((point[0], point[0]), (point[1], point[1]), shape, 1.0, side,
                            grid=FOCUS_GRID, shift=True)
        if box is None or box in out:
            break
        out.append(box)
        side *= 2
    out.append(None)
    return out


def choose_window(contrasts: Sequence[float], areas: Sequence[float]) -> int:
    """Index of the window to use among candidates ordered from small to large, given each
    one's :func:`boundary_contrast` and the area of its object in slice pixels (see
    :data:`AREA_AGREEMENT`)."""
    floor = CONTRAST_SHARE * max(contrasts)
    for i in range(len(areas) - 1):
        a, b = areas[i], areas[i + 1]
        if a > 0 and b > 0 and AREA_AGREEMENT <= a / b <= 1 / AREA_AGREEMENT \
                and contrasts[i] >= floor:
            return i
    return next(i for i, c in enumerate(contrasts) if c >= floor)


def object_area(mask: np.ndarray, seed: tuple[float, float]) -> int:
    """Pixels of the connected object of ``mask`` ``(h, w)`` bool holding ``seed`` (row, col,
    rounded and clipped into the mask); 0 when that pixel is background."""
    r = min(max(int(round(seed[0])), 0), mask.shape[0] - 1)
    c = min(max(int(round(seed[1])), 0), mask.shape[1] - 1)
    if not mask[r, c]:
        return 0
    labels, _ = ndi.label(mask)
    return int((labels == labels[r, c]).sum())


def boundary_contrast(grey: np.ndarray, mask: np.ndarray, seed: tuple[int, int]) -> float:
    """How well the object of ``mask`` ``(h, w)`` bool that holds pixel ``seed`` (row, col)
    stands out from its surroundings in ``grey`` ``(h', w')`` (the same region, perhaps
    block-averaged: the mask is sampled at its pixel centres): ``|mean inside - mean of a ring
    around it| / pooled std``. 0 when ``seed`` is not in the mask or there is no ring (the
    object fills the window). Measured on a grid of about :data:`CONTRAST_SIDE` a side."""
    step = max(1, int(np.ceil(max(grey.shape) / CONTRAST_SIDE)))
    g = np.asarray(grey[::step, ::step], dtype=np.float32)
    rows = ((np.arange(g.shape[0]) * step + step / 2.0) * mask.shape[0] / grey.shape[0])
    cols = ((np.arange(g.shape[1]) * step + step / 2.0) * mask.shape[1] / grey.shape[1])
    rows = np.minimum(rows.astype(int), mask.shape[0] - 1)
    cols = np.minimum(cols.astype(int), mask.shape[1] - 1)
    m = np.asarray(mask, dtype=bool)[np.ix_(rows, cols)]
    r = min(int(seed[0] * g.shape[0] / mask.shape[0]), m.shape[0] - 1)
    c = min(int(seed[1] * g.shape[1] / mask.shape[1]), m.shape[1] - 1)
    if not m[r, c]:
        return 0.0
    labels, _ = ndi.label(m)
    return region_contrast(g, labels == labels[r, c])


def prompt_extent(rows: list[int], cols: list[int], span: Window | None
                  ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Inclusive (row, col) ranges of the prompt pixels ``rows``/``cols`` and of the object
    spanning ``span`` (where the previous mask is > 0.5, ``(r0, r1, c0, c1)``), when there
    is one."""
    rows, cols = list(rows), list(cols)
    if span is not None:
        rows += [span[0], span[1] - 1]
        cols += [span[2], span[3] - 1]
    return (min(rows), max(rows)), (min(cols), max(cols))
