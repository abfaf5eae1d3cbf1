"""Which slices of a labels volume hold propagated (not user-drawn) results.

Propagation treats every slice holding a label as the user's annotation. After a run, the
propagated slices hold labels too; a second run (say, after the user annotated one more slice)
must use only the user's slices as support and recompute the others. This module keeps the
record for that: for each slice index, the checksums of the states propagation left it in.

A slice counts as propagated while its content still equals one of those recorded states, so
undo/redo of a run keeps the record valid, and a slice the user edits afterwards (paints a
correction into) becomes a user slice again automatically.

The record is a plain ``dict[int, list[str]]`` (JSON-friendly), e.g. stored in a napari layer's
``metadata``. Arrays are ``(Z, Y, X)`` integer labels, or the planes of a 3D movie
(:class:`~napari_ifss.core.planes.PlaneStack`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

Record = dict[int, list[str]]
RECORD_KEY = "napari_ifss_propagated"  # where a labels layer's metadata keeps its record
# A 3D movie's planes (numbered t * Z + z) that runs *through time* filled: kept apart from
# those filled through z (RECORD_KEY), so that a run in one direction recomputes its own
# earlier results and takes the other direction's as annotations (draw on one slice, fill the
# time point through z, then follow that 3D object through time).
TIME_RECORD_KEY = "napari_ifss_propagated_through_time"
RECORD_KEYS = (RECORD_KEY, TIME_RECORD_KEY)
# States kept per slice (newest last); older ones are dropped beyond this.
MAX_STATES = 16


def slice_checksum(labels_slice: np.ndarray) -> str:
    """A short fingerprint of a ``(Y, X)`` slice's content, dtype and shape."""
    arr = np.ascontiguousarray(labels_slice)
    crc = zlib.crc32(arr.tobytes())
    return f"{arr.dtype.str}:{'x'.join(map(str, arr.shape))}:{crc:08x}"


def record_from_json(record: dict) -> Record:
    """A record read back from JSON (slice keys became strings) with int keys again."""
    return {int(z): list(states) for z, states in record.items()}


def record_states(record: Record, labels: np.ndarray, zs: Iterable[int]) -> Record:
    """A new record with the current content of slices ``zs`` added as propagated states.

    Slices that are empty now are not recorded (an empty slice is never support anyway).
    """
    out = {int(z): list(states) for z, states in record.items()}
    for z in sorted({int(z) for z in zs}):
        current = np.asarray(labels[z])
        if not current.any():
            continue
        states = [s for s in out.get(z, []) if s != slice_checksum(current)]
        out[z] = (states + [slice_checksum(current)])[-MAX_STATES:]
    return out


def propagated_slices(record: Record, labels: object) -> list[int]:
    """Indices of the slices whose content is still a recorded propagated state (``labels``:
    any ``(Z, Y, X)`` array-like: numpy, zarr, dask; only the recorded slices are read)."""
    depth = int(np.shape(labels)[0]) if hasattr(labels, "shape") else len(labels)  # type: ignore[arg-type]
    return [z for z, states in sorted(record.items())
            if 0 <= z < depth and slice_checksum(np.asarray(labels[z])) in states]  # type: ignore[index]


class UserSlices:
    """``labels`` ``(Z, Y, X)`` as the user drew them: the propagated slices read as zeros.

    A read-only view: indexing ``view[z]`` reads one slice of ``labels`` (numpy, zarr, dask),
    nothing is copied; ``np.asarray(view)`` builds the whole volume when asked.

    Attributes:
        labels: the labels volume viewed.
        stale: the propagated slices (read as zeros).
    """

    def __init__(self, labels: object, stale: Iterable[int]) -> None:
        self.labels = labels
        self.stale = frozenset(int(z) for z in stale)
        self.shape = tuple(int(n) for n in np.shape(labels))  # type: ignore[arg-type]
        self.dtype = np.dtype(labels.dtype)  # type: ignore[attr-defined]
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: object) -> np.ndarray:
        if isinstance(key, int | np.integer):
            z = int(key) + (self.shape[0] if key < 0 else 0)
            if z in self.stale:
                return np.zeros(self.shape[1:], self.dtype)
            return np.asarray(self.labels[z])  # type: ignore[index]
        return np.asarray(self)[key]  # type: ignore[index]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = np.array(self.labels, dtype=self.dtype, copy=True)
        for z in self.stale:
            out[z] = 0
        return out if dtype is None else out.astype(dtype)  # type: ignore[arg-type]


def user_labels(record: Record, labels: object) -> tuple[UserSlices, list[int]]:
    """``labels`` without the propagated slices (a :class:`UserSlices` view: what the user
    drew, or edited after propagation, the support of the next run) and those slices' indices.
    Nothing is copied: take ``np.array(view)`` for a writable copy."""
    stale = propagated_slices(record, labels)
    return UserSlices(labels, stale), stale


def record_key(along: str) -> str:
    """The metadata key of the record of runs along ``"z"`` (stacks, and movies through z)
    or ``"t"`` (movies through time)."""
    return TIME_RECORD_KEY if along == "t" else RECORD_KEY
