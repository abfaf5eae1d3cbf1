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
A movie of several channels (:class:`~napari_ifss.core.channels.Channels` of ``(T, Z, Y, X)``
arrays) runs each unit on the same unit of every channel, each channel under its own window.
Coordinates are (t, z, row, col).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..channels import Channels
from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from ..planes import PlaneStack
from .propagation import propagate
from .volume_io import PropagationProgress, run_window, sample_window

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


def annotated_units(labels: Any, along: str) -> dict[int, list[int]]:
    """``{unit: label ids in it}`` for the time points (``along="z"``) or z planes
    (``along="t"``) of ``labels`` ``(T, Z, Y, X)`` that hold any label; one time point read at
    a time."""
    found: dict[int, set[int]] = {}
    for t in range(int(labels.shape[0])):
        frame = np.asarray(labels[t])
        for z in np.flatnonzero(frame.any(axis=(1, 2))):
            ids = {int(i) for i in np.unique(frame[z]) if i != 0}
            found.setdefault(t if along == "z" else int(z), set()).update(ids)
    return {unit: sorted(ids) for unit, ids in sorted(found.items())}


def unit_of(movie: Any, axis: int, unit: int) -> Any:
    """Time point ``unit`` (``axis`` 0) or z plane ``unit`` (``axis`` 1) of ``movie`` as a
    stack (:class:`FixedIndex`; of every channel for :class:`Channels`, windows kept)."""
    if isinstance(movie, Channels):
        return Channels(tuple(FixedIndex(a, axis, unit) for a in movie.arrays), movie.windows,
                        movie.names)
    return FixedIndex(movie, axis, unit)


def unit_spacing(spacing: tuple[float, float, float] | None, along: str
                 ) -> tuple[float, float, float] | None:
    """The ``(z, y, x)`` voxel size a unit is run with: the movie's along z; along time the
    step is the in-plane pixel size (a time step is not a length)."""
    if along == "t" and spacing is not None:
        step = min(float(spacing[1]), float(spacing[2]))
        return (step, float(spacing[1]), float(spacing[2]))
    return spacing


def movie_window(movie: Any) -> IntensityWindow | tuple[IntensityWindow, ...]:
    """One intensity window for the whole movie, from planes spread over all its (t, z)
    planes (:func:`~.volume_io.sample_window` of its
    :class:`~napari_ifss.core.planes.PlaneStack`), so that every unit of a run sees the same
    grey values; for :class:`Channels` one per channel (a channel's own where it has one)."""
    if isinstance(movie, Channels):
        return run_window(Channels(tuple(PlaneStack(a) for a in movie.arrays), movie.windows,
                                   movie.names))
    return sample_window(PlaneStack(movie))  # type: ignore[return-value]


def propagate_movie(movie: Any, labels: Any, along: str, *, out: Any,
                    spacing: tuple[float, float, float] | None = None,
                    label_ids: int | Iterable[int] | None = None,
                    window: IntensityWindow | None = None,
                    **kwargs: Any) -> Iterator[MovieProgress]:
    """Propagate the annotations of ``labels`` through ``movie``, both ``(T, Z, Y, X)``,
    along ``"z"`` or ``"t"`` (see the module docstring), writing into ``out`` (``(T, Z, Y,
    X)`` integer, writable; may be ``labels`` itself). ``movie`` may be
    :class:`~napari_ifss.core.channels.Channels` of ``(T, Z, Y, X)`` channels. ``spacing``: ``(z, y, x)`` voxel size;
    ``label_ids``: which objects (default all; each unit runs those it holds); ``window``:
    default one for the whole movie (:func:`movie_window`); other keywords go to
    :func:`~.propagation.propagate`. A generator.

    Raises:
        InvalidInputError: another ``along``, shapes that are not one ``(T, Z, Y, X)``, no
            annotation (of ``label_ids``), NaN / inf in an in-memory movie; a unit that fails
            after others were written names the unit and those written.
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
    for arr in movie.arrays if isinstance(movie, Channels) else (movie,):
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InvalidInputError("the movie contains NaN or infinite values; replace them "
                                    "(e.g. np.nan_to_num) first")
    units = annotated_units(labels, along)
    if label_ids is not None:
        wanted = {int(label_ids)} if isinstance(label_ids, int | np.integer) else \
            {int(i) for i in label_ids}
        missing = wanted - {i for ids in units.values() for i in ids}
        if missing:
            raise InvalidInputError(f"label id(s) {sorted(missing)} do not occur in the labels")
        units = {u: [i for i in ids if i in wanted] for u, ids in units.items()}
        units = {u: ids for u, ids in units.items() if ids}
    if not units:
        raise InvalidInputError("nothing to follow: the labels are empty; draw the object on "
                                "a slice first")
    window = window if window is not None else movie_window(movie)
    axis = 0 if along == "z" else 1
    spacing = unit_spacing(spacing, along)
    noun = "time point" if along == "z" else "z plane"
    done: list[int] = []
    for i, (unit, ids) in enumerate(units.items()):
        try:
            for event in propagate(unit_of(movie, axis, unit),
                                   FixedIndex(labels, axis, unit), ids,
                                   out=FixedIndex(out, axis, unit), spacing=spacing,
                                   window=window, **kwargs):
                yield MovieProgress(along, unit, event, i + event.fraction, len(units))
        except InvalidInputError as err:
            written = f"; {noun}s already written to out: {done}" if done else ""
            raise InvalidInputError(f"{noun} {unit}: {err}{written}") from err
        done.append(unit)
