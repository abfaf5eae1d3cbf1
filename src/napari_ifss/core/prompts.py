"""Prompt types shared by the interactive model, the robot clicker and the GUI.

Coordinates are napari's data order everywhere in core: ``(row, col)`` for a 2D slice,
``(z, row, col)`` for a volume. Pixel centres sit at integer coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Click:
    """One user click on a 2D slice.

    Attributes:
        row: row index (first image axis), may be fractional; pixel centres are integers.
        col: column index (second image axis).
        positive: True for an object click, False for a background click.
    """

    row: float
    col: float
    positive: bool = True

    @property
    def pixel(self) -> tuple[int, int]:
        """The (row, col) pixel this click falls into (rounded to the nearest centre)."""
        return int(round(self.row)), int(round(self.col))

    def inside(self, shape: tuple[int, ...]) -> bool:
        """True when the click's pixel lies inside an image of ``shape`` = (H, W, ...)."""
        r, c = self.pixel
        return 0 <= r < shape[0] and 0 <= c < shape[1]
