"""Where a large 2D map is non-zero, found without a full-size temporary.

A click model's answer on a 20000 x 20000 slice is a float32 map that is zero outside a focus
window; its untouched pages cost no memory until something writes them. These helpers read such
maps a band of rows at a time, so that finding or copying the object never materialises a
``(H, W)`` boolean or float copy. Spans are ``(r0, r1, c0, c1)`` half-open, (row, col) order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BAND_ROWS_PIXELS = 4_000_000  # pixels compared at a time


def span_above(values: np.ndarray, above: float) -> tuple[int, int, int, int] | None:
    """The smallest ``(r0, r1, c0, c1)`` holding every pixel of ``values`` ``(H, W)`` greater
    than ``above``; None when there is none."""
    return span_where(values, lambda band: band > above)


def span_where(values: np.ndarray, test: Callable[[np.ndarray], np.ndarray]
               ) -> tuple[int, int, int, int] | None:
    """The smallest ``(r0, r1, c0, c1)`` holding every pixel of ``values`` ``(H, W)`` where
    ``test`` (applied to a band of rows, giving a bool band) is True; None when there is none."""
    h, w = values.shape[:2]
    band = max(1, BAND_ROWS_PIXELS // max(1, w))
    rows: list[int] = []
    cols = np.zeros(w, dtype=bool)
    for top in range(0, h, band):
        hit = test(np.asarray(values[top:top + band]))
        hit_rows = np.flatnonzero(hit.any(axis=1))
        if hit_rows.size:
            rows += [top + int(hit_rows[0]), top + int(hit_rows[-1])]
            cols |= hit.any(axis=0)
    if not rows:
        return None
    hit_cols = np.flatnonzero(cols)
    return min(rows), max(rows) + 1, int(hit_cols[0]), int(hit_cols[-1]) + 1


def frozen_copy(values: np.ndarray) -> np.ndarray:
    """A read-only float32 copy of ``values`` ``(H, W)`` that writes only the span of its
    non-zero pixels (the rest stays untouched zero pages)."""
    values = np.asarray(values)
    out = np.zeros(values.shape, dtype=np.float32)
    span = span_where(values, lambda band: band != 0)
    if span is not None:
        r0, r1, c0, c1 = span
        out[r0:r1, c0:c1] = values[r0:r1, c0:c1]
    out.flags.writeable = False
    return out
