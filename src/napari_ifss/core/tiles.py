"""Tiles with a halo: covering a large ``(H, W)`` image with network-sized pieces.

Each tile is read with a margin (the *halo*) of context around it (at least: edge tiles are
moved inside the image, so every read box is a full tile), and only its inner part (the
*keep* box) is kept, so objects cut by a tile's edge are seen whole from the tile beside
it; the keep boxes cover the image exactly once. Boxes are ``(r0, r1, c0, c1)`` half-open,
(row, col) order.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[int, int, int, int]  # (r0, r1, c0, c1), half-open


def tile_boxes(shape: Sequence[int], tile: int, halo: int) -> list[tuple[Box, Box]]:
    """``(read, keep)`` boxes covering an image of ``shape`` ``(H, W)``: the keep boxes tile
    it without overlap, each at most ``tile - 2 * halo`` a side; each read box holds its keep
    box with ``halo`` around it, and is a full ``tile`` (or the image's side) a side: at the
    image's edges it is moved inside rather than cut, so every tile is seen at one scale.

    Raises:
        ValueError: a halo that leaves no room (``tile <= 2 * halo``) or a negative one.
    """
    if halo < 0 or tile <= 2 * halo:
        raise ValueError(f"a tile of {tile} px needs a halo in [0, {(tile - 1) // 2}]; got {halo}")
    h, w = int(shape[0]), int(shape[1])
    step = tile - 2 * halo
    out = []
    for r0 in range(0, h, step):
        for c0 in range(0, w, step):
            keep = (r0, min(r0 + step, h), c0, min(c0 + step, w))
            read = []
            for k0, n in ((r0, h), (c0, w)):  # a full tile, moved inside at the edges
                a0 = max(0, min(k0 - halo, n - min(tile, n)))
                read += [a0, min(n, a0 + tile)]
            out.append(((read[0], read[1], read[2], read[3]), keep))
    return out


def box_around(centre: tuple[float, float], side: int, shape: Sequence[int]) -> Box:
    """A square box of ``side`` (or the image's side, when smaller) centred on ``centre``
    (row, col) and moved inside an image of ``shape`` ``(H, W)``."""
    box = []
    for c, n in zip(centre, (int(shape[0]), int(shape[1])), strict=True):
        s = min(int(side), n)
        a = min(max(0, int(round(c - s / 2.0))), n - s)
        box += [a, a + s]
    return box[0], box[1], box[2], box[3]
