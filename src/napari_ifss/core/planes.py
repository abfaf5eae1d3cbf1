"""An image or labels array seen as a stack of its 2D planes, whatever its leading axes.

A ``(Z, Y, X)`` volume has planes ``0 .. Z-1``; a 3D movie ``(T, Z, Y, X)`` has ``T * Z``
planes numbered in C order (plane ``t * Z + z`` is time point ``t``, slice ``z``). Code that
works slice by slice on ``(Z, Y, X)`` stacks (the propagation record, the support index, the
dock's writes and undo) runs unchanged on a movie through :class:`PlaneStack`; a plane number
turns back into the array's index with :meth:`PlaneStack.index`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError


def plane_index(lead: Sequence[int], plane: int) -> tuple[int, ...]:
    """The index on leading axes ``lead`` (``(Z,)`` or a movie's ``(T, Z)``) of plane number
    ``plane`` (e.g. ``(t, z)``)."""
    return tuple(int(i) for i in np.unravel_index(int(plane), tuple(lead)))


def plane_number(lead: Sequence[int], index: Sequence[int]) -> int:
    """The plane number of ``index`` on leading axes ``lead`` (the inverse of
    :func:`plane_index`)."""
    return int(np.ravel_multi_index(tuple(int(i) for i in index), tuple(lead)))


class PlaneStack:
    """``array`` ``(Z, Y, X)`` or ``(T, Z, Y, X)`` as a ``(P, Y, X)`` stack of its planes, read and written one
    plane at a time (numpy, zarr, dask alike; nothing is copied).

    Attributes:
        array: the array viewed.
        lead: the shape of its leading axes (``(Z,)`` or ``(T, Z)``).
        shape: ``(P, Y, X)``, ``P`` the number of planes.
    """

    def __init__(self, array: Any) -> None:
        full = tuple(int(n) for n in np.shape(array))
        if len(full) not in (3, 4):
            raise InvalidInputError(f"expected a (Z, Y, X) stack or a 3D movie (T, Z, Y, X); "
                                    f"got shape {full}")
        self.array = array
        self.lead = full[:-2]
        self.shape = (int(np.prod(self.lead)), *full[-2:])
        self.dtype = np.dtype(array.dtype)
        self.ndim = 3

    def index(self, plane: int) -> tuple[int, ...]:
        """The array index of plane number ``plane`` (e.g. ``(t, z)``)."""
        return plane_index(self.lead, plane)

    def number(self, index: tuple[int, ...]) -> int:
        """The plane number of the array index ``index`` (the inverse of :meth:`index`)."""
        return plane_number(self.lead, index)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, plane: int) -> np.ndarray:
        return np.asarray(self.array[self.index(plane)])

    def __setitem__(self, plane: int, value: Any) -> None:
        self.array[self.index(plane)] = value


class UnitPlanes:
    """One *unit* of a 3D movie's planes as a ``(n, Y, X)`` stack: along ``"z"`` the slices
    of time point ``unit``, along ``"t"`` the time points of z plane ``unit``.

    Attributes:
        planes: any stack indexed by plane number ``(T * Z, Y, X)`` (a :class:`PlaneStack`,
            or a view over one such as the user's slices), read one plane at a time.
        lead: the movie's ``(T, Z)``.
        along, unit: which unit.
        shape: ``(n, Y, X)``.
    """

    def __init__(self, planes: Any, lead: tuple[int, ...], along: str, unit: int) -> None:
        if len(lead) != 2 or along not in ("z", "t"):
            raise InvalidInputError(f"a unit needs a movie's (T, Z) and along 'z' or 't'; "
                                    f"got {lead}, {along!r}")
        self.planes, self.lead, self.along, self.unit = planes, tuple(lead), along, int(unit)
        n = self.lead[1] if along == "z" else self.lead[0]
        self.shape = (int(n), *tuple(int(s) for s in np.shape(planes))[1:])
        self.dtype = np.dtype(planes.dtype)
        self.ndim = 3

    def number(self, i: int) -> int:
        """The plane number of the unit's item ``i``."""
        return plane_number(self.lead, (self.unit, i) if self.along == "z" else (i, self.unit))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.planes[self.number(i)])
