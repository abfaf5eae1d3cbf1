"""Correcting an existing object with clicks (the Interactive dock's "Edit selected label").

The object's mask on the current slice becomes the session's starting mask (previous-mask
feedback, see :meth:`~napari_ifss.core.interactive.session.InteractiveSession.start_from_mask`); clicks
correct it; committing replaces the object's voxels on that slice by the corrected mask, in one
undo step, without touching other objects (:func:`~napari_ifss.core.labels_ops.replacement_writes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from napari.layers import Labels

from ..core.errors import InvalidInputError
from ..core.labels_ops import replacement_writes
from .slice_context import SliceContext, full_resolution


@dataclass(frozen=True)
class EditTarget:
    """The object being corrected: its id and the slice it was loaded from."""

    label_id: int
    ctx: SliceContext


def start_edit(labels: Labels, ctx: SliceContext, label_id: int) -> tuple[EditTarget, np.ndarray]:
    """The edit target and the object's bool ``(H, W)`` mask on ``ctx``'s slice.

    Raises:
        InvalidInputError: background (0) selected, or the label is not on this slice.
    """
    if label_id < 1:
        raise InvalidInputError("select the label to edit (the labels layer's current label "
                                "is background)")
    mask = np.asarray(full_resolution(labels)[ctx.plane.slicer()]) == label_id
    if not mask.any():
        raise InvalidInputError(f"label {label_id} is not on {ctx.description}")
    return EditTarget(int(label_id), ctx), mask


def edit_writes(labels: np.ndarray, target: EditTarget, new: tuple[np.ndarray, ...]
                ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The one write that puts the corrected object (``new``: its volume indices, one array
    per axis) in place of ``target``'s voxels on its slice."""
    here = np.asarray(labels[target.ctx.plane.slicer()]) == target.label_id
    old = target.ctx.plane.volume_indices(here)
    return replacement_writes(labels, target.label_id, old, new)
