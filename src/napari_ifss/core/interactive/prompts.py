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


@dataclass(frozen=True)
class Box:
    """A box dragged around an object on a 2D slice, as the object's first prompt.

    Corners are pixel-edge coordinates: the box covers rows ``row0 <= r < row1`` and columns
    ``col0 <= c < col1`` (a box from pixel (2, 3) to pixel (10, 20) inclusive is
    ``Box(2, 3, 11, 21)``). :meth:`from_corners` accepts two opposite corners in any order, as
    a drag gives them.
    """

    row0: float
    col0: float
    row1: float
    col1: float

    @classmethod
    def from_corners(cls, a: tuple[float, float], b: tuple[float, float]) -> Box:
        """The box spanned by two opposite corner *pixels* ``(row, col)`` (both included)."""
        (r0, r1), (c0, c1) = sorted((a[0], b[0])), sorted((a[1], b[1]))
        return cls(r0 - 0.5, c0 - 0.5, r1 + 0.5, c1 + 0.5)

    @property
    def size(self) -> tuple[float, float]:
        """``(height, width)`` in pixels."""
        return self.row1 - self.row0, self.col1 - self.col0

    def clipped(self, shape: tuple[int, ...]) -> Box | None:
        """This box cut to an image of ``shape`` = (H, W, ...), or None if nothing is left
        (less than one pixel of height or width)."""
        r0, r1 = max(0.0, self.row0), min(float(shape[0]), self.row1)
        c0, c1 = max(0.0, self.col0), min(float(shape[1]), self.col1)
        if r1 - r0 < 1 or c1 - c0 < 1:
            return None
        return Box(r0, c0, r1, c1)
