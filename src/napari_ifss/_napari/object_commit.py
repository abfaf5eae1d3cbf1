"""What the Interactive dock's *Commit* writes into the labels layer (no UI here).

The object is every slice with clicks or a box: its mask there. A new object takes the
current object's id unless that id already lies on a slice being committed (then it is
another object on that slice), else the next free id; it fills only unlabelled voxels
(:func:`~napari_ifss.core.labels_ops.free_indices`). An object being corrected
(:mod:`.object_edit`) replaces its own voxels instead. Indices are tuples of arrays, one per
axis of the labels (what ``np.nonzero`` returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.interactive.session import SessionState
from ..core.labels_ops import free_indices, next_free_id
from .object_edit import EditTarget, edit_writes
from .slice_context import SliceContext

Drawn = Sequence[tuple[SliceContext, SessionState]]  # each slice's view and its session state


@dataclass(frozen=True)
class CommitWrites:
    """One commit: ``values`` (one id, or one per voxel) at ``idx`` under ``label_id``, on
    ``slices`` slices."""

    label_id: int
    idx: tuple[np.ndarray, ...]
    values: int | np.ndarray
    slices: int


def drawn_slices(states: Drawn) -> list[tuple[SliceContext, SessionState]]:
    """The slices with clicks or a box (what a commit writes)."""
    return [(c, s) for c, s in states if s.clicks or s.box is not None]


def commit_id(drawn: Drawn, labels: np.ndarray, current: int | None) -> int:
    """``current``, unless it already lies on one of the ``drawn`` slices of ``labels`` (then
    this is another object on that slice) or is None: the next free id."""
    if current is not None and not any(
            np.any(labels[ctx.plane.slice_index(labels.ndim)] == current) for ctx, _ in drawn):
        return current
    return next_free_id(labels)


def commit_writes(states: Drawn, labels: np.ndarray, current: int | None,
                  editing: EditTarget | None) -> CommitWrites | None:
    """The writes of a commit into ``labels`` (the layer's data), or None when no slice is
    drawn.

    Raises:
        IfssError: the object being corrected cannot be written (see :func:`edit_writes`).
    """
    drawn = drawn_slices(states)
    if not drawn:
        return None
    parts = [c.plane.volume_indices(s.mask) for c, s in drawn]
    obj = tuple(np.concatenate(ax) for ax in zip(*parts, strict=True))
    if editing is not None:  # replace the object being corrected
        idx, values = edit_writes(labels, editing, obj)
        return CommitWrites(editing.label_id, idx, values, len(drawn))
    label_id = commit_id(drawn, labels, current)
    return CommitWrites(label_id, free_indices(labels, obj), label_id, len(drawn))
