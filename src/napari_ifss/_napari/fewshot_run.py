"""The state of one few-shot propagation run of the Few-shot dock, typed.

:class:`RunPlan` is what the dock's validated selection runs; :class:`RunState` is what the UI
thread keeps while the run writes its slices (what it cleared and wrote, for the one undo
step that ends it). :func:`clear_slices` zeroes earlier propagated results a run recomputes;
:func:`propagated_record` and :func:`parse_ids` read the run's inputs from the layer and the
dock's text. All of it runs in the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from napari.layers import Labels

from ..core.errors import InvalidInputError
from ..core.fewshot.support import LabelsIndex, resolve_label_ids
from ..core.planes import PlaneStack
from ..core.provenance import (
    RECORD_KEY,
    RECORD_KEYS,
    Record,
    UserSlices,
    record_key,
    user_labels,
)
from .labels_history import one_undo_step, record_as_one_step
from .propagation_worker import Starter
from .quality_worker import ScoringRequest
from .slice_context import full_resolution

# Slices are numbered as the planes of the layer (:class:`~napari_ifss.core.planes.PlaneStack`:
# z for a (Z, Y, X) layer, t * Z + z for a 3D movie).
# (z, flat indices into the (Y, X) slice, the values they held before): voxels a run zeroed
Cleared = tuple[int, np.ndarray, np.ndarray]
# (z, flat indices into the (Y, X) slice, the label id written there; they held 0 before)
Written = tuple[int, np.ndarray, int]


@dataclass(frozen=True)
class RunPlan:
    """What a validated selection runs.

    Attributes:
        start: ``start(segmenter)`` returns the propagation's generator of progress events.
        total: the number of (slice, label id) steps it yields.
        layer: the labels layer written (``(Z, Y, X)``; a new one for another target image).
        clear: zeroes the earlier propagated results the run recomputes; returns them.
        scoring: what JFS scores after the run (None: no scoring, for another target).
        unit: what the run's steps are called in the status line, plural (empty: the
            layer's slices or time points); a 3D movie runs "time points" or "z planes".
        record_key: the metadata key of the record the run adds its slices to.
    """

    start: Starter
    total: int
    layer: Labels
    clear: Callable[[], list[Cleared]]
    scoring: ScoringRequest | None
    unit: str = ""
    record_key: str = RECORD_KEY


@dataclass
class RunState:
    """A running propagation, as the UI thread sees it.

    Attributes:
        layer: the labels layer the run writes into.
        total: the number of steps the run yields.
        scoring: what JFS scores after a finished run (None: nothing).
        cleared: the voxels the run zeroed before it started (earlier propagated results).
        written: the voxels the run wrote, slice by slice, in order.
        done: the number of steps come back so far (a 3D movie's: units, with the running
            unit's fraction).
        unit: the steps' name, plural (see :attr:`RunPlan.unit`).
        record_key: see :attr:`RunPlan.record_key`.
    """

    layer: Labels
    total: int
    scoring: ScoringRequest | None
    cleared: list[Cleared]
    written: list[Written] = field(default_factory=list)
    done: float = 0
    unit: str = "slices"
    record_key: str = RECORD_KEY

    @property
    def touched(self) -> set[int]:
        """The z indices of the slices the run cleared or wrote."""
        return {z for z, _, _ in self.written} | {z for z, _, _ in self.cleared}

    def record_undo(self) -> None:
        """Turn the run's direct writes (and clearings) into one undo step of its layer.

        Slice by slice, inside :func:`~.labels_history.one_undo_step` (one Ctrl+Z), with the
        smallest integer type that holds the indices (16 bits up to 32767 pixels a side): the
        history holds about 10 bytes per changed voxel of a uint16 layer, and no array spans
        the whole run (a 300 x 1024 x 1024 run may change 30 million voxels)."""
        layer = self.layer
        data = full_resolution(layer)
        by_z: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for z, flat, old in self.cleared:  # cleared voxels first: their value before wins
            by_z.setdefault(int(z), []).append((flat, old))
        for z, flat, _ in self.written:
            by_z.setdefault(int(z), []).append((flat, np.zeros(flat.size, data.dtype)))
        if not by_z:
            return
        planes = PlaneStack(data)
        yx = planes.shape[1:]
        itype = np.int16 if max(data.shape) <= np.iinfo(np.int16).max else np.int32
        with one_undo_step(layer):
            for z in sorted(by_z):
                flat = np.concatenate([f for f, _ in by_z[z]])
                before = np.concatenate([b for _, b in by_z[z]])
                flat, first = np.unique(flat, return_index=True)
                rows, cols = np.unravel_index(flat, yx)
                idx = (*(np.full(flat.size, i, itype) for i in planes.index(z)),
                       rows.astype(itype), cols.astype(itype))
                record_as_one_step(layer, idx, before[first], refresh=False)
        layer.refresh()


def clear_slices(layer: Labels, zs: list[int], ids: list[int]) -> list[Cleared]:
    """Zero the voxels of ``ids`` on slices ``zs`` of ``layer`` ``(Z, Y, X)`` (planes of a
    movie, :class:`~napari_ifss.core.planes.PlaneStack`) (earlier propagated results that a
    run recomputes); returns what was zeroed, for the undo."""
    cleared: list[Cleared] = []
    planes = PlaneStack(full_resolution(layer))
    for z in zs:
        current = np.array(planes[z])
        flat = np.flatnonzero(np.isin(current, ids))
        if flat.size:
            cleared.append((z, flat, current.reshape(-1)[flat].copy()))
            current.reshape(-1)[flat] = 0
            planes[z] = current
    if cleared:
        layer.refresh()
    return cleared


def user_support(layer: Labels, along: str = "z") -> tuple[UserSlices, list[int]]:
    """The user's part of ``layer``'s labels (a view numbered as its planes,
    :class:`~napari_ifss.core.planes.PlaneStack`) and the planes that runs along ``along``
    filled (a next run in that direction recomputes them).

    Raises:
        InvalidInputError: a layer that is neither a stack nor a 3D movie.
    """
    return user_labels(propagated_record(layer, record_key(along)),
                       PlaneStack(full_resolution(layer)))


def propagated_record(layer: Labels, key: str = RECORD_KEY) -> Record:
    """The record of propagated slices kept in ``layer.metadata`` under ``key`` (empty if
    none; :data:`~napari_ifss.core.provenance.TIME_RECORD_KEY`: a movie's runs through
    time)."""
    return dict(layer.metadata.get(key, {}))


def every_propagated(layer: Labels) -> Record:
    """The planes runs in either direction filled (a stack's: its one record; a 3D movie's
    runs through z and through time together): what the quality panel does not count as
    the user's."""
    merged: Record = {}
    for key in RECORD_KEYS:
        for p, states in propagated_record(layer, key).items():
            merged[p] = [*merged.get(p, []), *states]
    return merged


def parse_ids(text: str, index: LabelsIndex) -> list[int]:
    """Comma/space-separated ids (empty: all present) checked against ``index``."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        ids = [int(p) for p in parts]
    except ValueError:
        raise InvalidInputError(f"label ids must be whole numbers, got {text!r}") from None
    return resolve_label_ids(index, ids or None)
