"""An axis-aligned 2D plane of an nD array: which slice of a stack the user is working on.

The interactive model segments 2D slices. A :class:`Plane` names one slice of an nD array by
its two in-plane axes (``rows`` along ``axes[0]``, ``cols`` along ``axes[1]``, always in
increasing axis order) and the integer index of every other axis. It converts between nD data
coordinates and the slice's ``(row, col)`` coordinates, in data order as everywhere in core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

TIME_LABELS = ("t", "time")


def is_time_label(label: object) -> bool:
    """Whether an axis label (napari's ``axis_labels`` entry) names time ("t", "time")."""
    return str(label or "").strip().lower() in TIME_LABELS


def axis_noun(label: str | None, count: int = 1) -> str:
    """What a user calls one position (``count`` 1) or several along a stacked axis labelled
    ``label``: "time point(s)" for a time axis ("t", "time"), else "slice(s)"."""
    noun = "time point" if is_time_label(label) else "slice"
    return noun if count == 1 else noun + "s"


@dataclass(frozen=True)
class Plane:
    """One 2D slice of an ``ndim``-dimensional array.

    Attributes:
        ndim: dimensionality of the array (2 for a plain image, 3 for a stack, ...).
        axes: the two in-plane axes, increasing; the slice is ``(H, W)`` =
            ``(shape[axes[0]], shape[axes[1]])``.
        fixed: ``(axis, index)`` for every other axis, in increasing axis order.
    """

    ndim: int
    axes: tuple[int, int] = (0, 1)
    fixed: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        a, b = self.axes
        fixed_axes = [ax for ax, _ in self.fixed]
        if not (0 <= a < b < self.ndim):
            raise InvalidInputError(
                f"plane axes {self.axes} must be two increasing axes of a {self.ndim}D array"
            )
        if sorted({*fixed_axes, a, b}) != list(range(self.ndim)) or len(fixed_axes) != self.ndim - 2:
            raise InvalidInputError(
                f"plane of a {self.ndim}D array with axes {self.axes} must fix every other axis "
                f"exactly once; got {self.fixed}"
            )

    @classmethod
    def through(cls, point: Sequence[float], axes: Sequence[int]) -> Plane:
        """The plane with in-plane ``axes`` (any order) through the nD data ``point``.

        Non-plane coordinates are rounded to the nearest index.
        """
        p = np.asarray(point, dtype=float)
        if p.ndim != 1 or not np.all(np.isfinite(p)):
            raise InvalidInputError(f"plane point must be a finite 1D coordinate; got {point!r}")
        a, b = sorted(int(x) for x in axes)
        fixed = tuple((ax, int(round(p[ax]))) for ax in range(p.size) if ax not in (a, b))
        return cls(int(p.size), (a, b), fixed)

    @property
    def description(self) -> str:
        """A short human label, e.g. ``"slice 12"`` or ``"axis 1 = 30"``; ``"image"`` in 2D."""
        return self.describe()

    def describe(self, axis_labels: Sequence[str] | None = None) -> str:
        """As :attr:`description`, naming the stacked axes by their labels when given one per
        axis (e.g. napari's ``axis_labels`` ``("t", "y", "x")``: ``"time point 12"``; ``("t",
        "z", "y", "x")``: ``"time point 2, slice 4"``)."""
        if not self.fixed:
            return "image"
        if self.axes == (self.ndim - 2, self.ndim - 1) and len(self.fixed) == 1:
            ax, idx = self.fixed[0]
            label = axis_labels[ax] if axis_labels is not None and len(axis_labels) > ax else None
            return f"{axis_noun(label)} {idx}"
        named = axis_labels is not None and all(  # napari's default labels are "0", "-1", ...
            ax < len(axis_labels) and not str(axis_labels[ax]).lstrip("-").isdigit()
            for ax, _ in self.fixed)
        if named:
            return ", ".join(f"{axis_noun(axis_labels[ax])} {idx}" for ax, idx in self.fixed)
        return ", ".join(f"axis {ax} = {idx}" for ax, idx in self.fixed)

    def slicer(self) -> tuple[int | slice, ...]:
        """Index tuple selecting this plane from an array of ``ndim`` (or more trailing) axes."""
        index: list[int | slice] = [slice(None)] * self.ndim
        for ax, idx in self.fixed:
            index[ax] = idx
        return tuple(index)

    def inside(self, shape: Sequence[int]) -> bool:
        """True when every fixed index lies within ``shape`` (the array's first ``ndim`` axes)."""
        return all(0 <= idx < shape[ax] for ax, idx in self.fixed)

    def contains(self, point: Sequence[float]) -> bool:
        """True when the nD data ``point`` lies on this plane (fixed axes round to the index)."""
        p = np.asarray(point, dtype=float)
        return all(np.isfinite(p[ax]) and int(round(p[ax])) == idx for ax, idx in self.fixed)

    def to_rowcol(self, point: Sequence[float]) -> tuple[float, float]:
        """nD data ``point`` -> ``(row, col)`` in this plane's 2D slice."""
        p = np.asarray(point, dtype=float)
        return float(p[self.axes[0]]), float(p[self.axes[1]])

    def slice_index(self, ndim: int | None = None) -> tuple[int | slice, ...]:
        """Index of this plane's whole 2D slice in an nD array (fixed axes at their index)."""
        out: list[int | slice] = [slice(None)] * (self.ndim if ndim is None else ndim)
        for ax, idx in self.fixed:
            out[ax] = int(idx)
        return tuple(out)

    def volume_indices(self, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """nD integer indices (one array per axis) of the True pixels of a 2D ``mask`` (H, W)."""
        rows, cols = np.nonzero(np.asarray(mask))
        out: list[np.ndarray] = [np.empty(0, dtype=np.intp)] * self.ndim
        out[self.axes[0]] = rows.astype(np.intp)
        out[self.axes[1]] = cols.astype(np.intp)
        for ax, idx in self.fixed:
            out[ax] = np.full(rows.size, idx, dtype=np.intp)
        return tuple(out)
