"""An image or labels array seen as a stack of its 2D planes, whatever its leading axes.

A ``(Z, Y, X)`` volume has planes ``0 .. Z-1``; a 3D movie ``(T, Z, Y, X)`` has ``T * Z``
planes numbered in C order (plane ``t * Z + z`` is time point ``t``, slice ``z``). Code that
works slice by slice on ``(Z, Y, X)`` stacks (the propagation record, the support index, the
dock's writes and undo) runs unchanged on a movie through :class:`PlaneStack`; a plane number
turns back into the array's index with :meth:`PlaneStack.index`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidInputError


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
        return tuple(int(i) for i in np.unravel_index(int(plane), self.lead))

    def number(self, index: tuple[int, ...]) -> int:
        """The plane number of the array index ``index`` (the inverse of :meth:`index`)."""
        return int(np.ravel_multi_index(tuple(int(i) for i in index), self.lead))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, plane: int) -> np.ndarray:
        return np.asarray(self.array[self.index(plane)])

    def __setitem__(self, plane: int, value: Any) -> None:
        self.array[self.index(plane)] = value
