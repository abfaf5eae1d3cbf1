"""Following objects through a 3D movie ``(T, Z, Y, X)``, along the axis the user chooses.

* ``along="z"``: within each time point that holds annotations, through its z slices (each
  time point is a volume of its own, :func:`~.propagation.propagate`).
* ``along="t"``: through time, one z plane at a time: plane ``z`` of every time point makes a
  ``(T, Y, X)`` stack, propagated from the frames where that plane is annotated. An object
  drawn in 3D on one time point (e.g. after ``along="z"`` there) is followed through time on
  every z plane it covers.

Nothing is copied whole: :class:`FixedIndex` presents ``movie[t]`` or ``movie[:, z]`` as a
stack whose items are read (and, for ``out``, written) one plane at a time, for numpy, zarr and
dask alike (``zarr_array[:, z]`` would read the whole plane series into memory). Time steps
are not lengths: along time the learner's neighbour margin uses the in-plane pixel size only.
Coordinates are (t, z, row, col).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .propagation import propagate
from .volume_io import PropagationProgress

ALONG = ("z", "t")


class FixedIndex:
    """``array`` with index ``k`` fixed on its axis ``axis`` (0 or 1) as an array-like stack:
    ``view[i]`` is ``array[k, i]`` (axis 0) or ``array[i, k]`` (axis 1), read on access; item
    assignment writes through."""

    def __init__(self, array: Any, axis: int, k: int) -> None:
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {axis}")
        self.array, self.axis, self.k = array, axis, int(k)
        shape = tuple(int(s) for s in array.shape)
        self.shape = shape[:axis] + shape[axis + 1:]
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self.flags = getattr(array, "flags", None)
        self.read_only = bool(getattr(array, "read_only", False))

    def _at(self, i: Any) -> tuple:
        return (self.k, i) if self.axis == 0 else (i, self.k)

    def __getitem__(self, i: Any) -> np.ndarray:
        return np.asarray(self.array[self._at(i)])

    def __setitem__(self, i: Any, value: Any) -> None:
        self.array[self._at(i)] = value

    def __len__(self) -> int:
        return self.shape[0]


@dataclass(frozen=True)
class MovieProgress:
    """One propagated plane of a movie.

    Attributes:
        along: ``"z"`` or ``"t"``.
        unit: the time point (along z) or z plane (along t) being run.
        event: the plane's :class:`~.volume_io.PropagationProgress` (its ``z`` counts along
            ``along``).
        done, total: progress in units (``done`` a float: finished units plus the running
            unit's fraction).
    """

    along: str
    unit: int
    event: PropagationProgress
    done: float
    total: int


def annotated_units(labels: Any, along: str) -> list[int]:
    """The time points (``along="z"``) or z planes (``along="t"``) of ``labels``
    ``(T, Z, Y, X)`` that hold any label, read one ``(Y, X)`` plane at a time."""
    n_t, n_z = int(labels.shape[0]), int(labels.shape[1])
    hits = set()
    for t in range(n_t):
        for z in range(n_z):
            key = t if along == "z" else z
            if key not in hits and np.any(np.asarray(labels[t, z])):
                hits.add(key)
    return sorted(hits)


def propagate_movie(movie: Any, labels: Any, along: str, *, out: Any,
                    spacing: tuple[float, float, float] | None = None,
                    **kwargs: Any) -> Iterator[MovieProgress]:
    """Propagate the annotations of ``labels`` through ``movie``, both ``(T, Z, Y, X)``,
    along ``"z"`` or ``"t"`` (see the module docstring), writing into ``out`` (``(T, Z, Y,
    X)`` integer, writable; may be ``labels`` itself). ``spacing``: ``(z, y, x)`` voxel size;
    other keywords go to :func:`~.propagation.propagate`. A generator.

    Raises:
        InvalidInputError: another ``along``, shapes that are not one ``(T, Z, Y, X)``, no
            annotation, and anything :func:`~.propagation.propagate` refuses.
    """
    if along not in ALONG:
        raise InvalidInputError(f"along must be 'z' (within each time point) or 't' "
                                f"(through time); got {along!r}")
    shapes = {tuple(getattr(a, "shape", ())) for a in (movie, labels, out)}
    shape = tuple(getattr(movie, "shape", ()))
    if len(shape) != 4 or len(shapes) != 1:
        raise InvalidInputError(
            f"a movie needs image, labels and out of one (T, Z, Y, X) shape; got "
            f"{[tuple(getattr(a, 'shape', ())) for a in (movie, labels, out)]}")
    units = annotated_units(labels, along)
    if not units:
        raise InvalidInputError("nothing to follow: the labels are empty; draw the object on "
                                "a slice first")
    axis = 0 if along == "z" else 1
    if along == "t" and spacing is not None:
        step = min(float(spacing[1]), float(spacing[2]))
        spacing = (step, float(spacing[1]), float(spacing[2]))
    for i, unit in enumerate(units):
        for event in propagate(FixedIndex(movie, axis, unit), FixedIndex(labels, axis, unit),
                               out=FixedIndex(out, axis, unit), spacing=spacing, **kwargs):
            yield MovieProgress(along, unit, event, i + event.fraction, len(units))
