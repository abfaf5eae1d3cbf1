"""Which slices of a labels volume hold propagated (not user-drawn) results.

Propagation treats every slice holding a label as the user's annotation. After a run, the
propagated slices hold labels too; a second run (say, after the user annotated one more slice)
must use only the user's slices as support and recompute the others. This module keeps the
record for that: for each slice index, the checksums of the states propagation left it in.

A slice counts as propagated while its content still equals one of those recorded states, so
undo/redo of a run keeps the record valid, and a slice the user edits afterwards (paints a
correction into) becomes a user slice again automatically.

The record is a plain ``dict[int, list[str]]`` (JSON-friendly), e.g. stored in a napari layer's
``metadata``. Arrays are ``(Z, Y, X)`` integer labels.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

Record = dict[int, list[str]]
RECORD_KEY = "napari_ifss_propagated"  # where a labels layer's metadata keeps its record
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


def propagated_slices(record: Record, labels: np.ndarray) -> list[int]:
    """Indices of the slices whose content is still a recorded propagated state."""
    depth = len(labels)
    return [z for z, states in sorted(record.items())
            if 0 <= z < depth and slice_checksum(np.asarray(labels[z])) in states]


def user_labels(record: Record, labels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """A copy of ``labels`` without the propagated slices, and those slices' indices.

    The copy holds only what the user drew (or edited after propagation): the support for the
    next run.
    """
    stale = propagated_slices(record, labels)
    out = np.array(labels, copy=True)
    for z in stale:
        out[z] = 0
    return out, stale
