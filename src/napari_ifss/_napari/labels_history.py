"""The one way the plugin writes into a napari Labels layer: as ONE step of its undo history.

Every write of the docks, the console helpers and the session restore goes through
:func:`write_labels` (napari's own ``Labels.data_setitem``, which records the old values, so
one Ctrl+Z on the layer takes the whole write back). A run that had to write straight into
the layer's data slice by slice (propagation into the layer, with progress) turns its writes
into one such step afterwards with :func:`record_as_one_step`; several writes inside
:func:`one_undo_step` make one step together.

A *pyramid* labels layer (napari multiscale: a huge slide's labels, OME-Zarr labels) is read
and written at full resolution (:func:`~.slice_context.full_resolution`, level 0); each
write also reaches the coarser levels (:func:`~napari_ifss.core.pyramid.write_levels`). napari keeps no undo
history for such layers, so the history is kept here (:class:`PyramidHistory`) and bound to
the layer's own Ctrl+Z / Ctrl+Shift+Z. Each finished step, undo and redo emits the layer's
``paint`` event, as napari does for its own history (the docks and autosave listen to it).

Indices are tuples of equal-length integer arrays, one per axis of the labels at full
resolution (what ``np.nonzero`` returns).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from napari.layers import Labels
from napari.utils.key_bindings import KeyCode, KeyMod

from ..core.pyramid import check_writable_levels, write_levels
from .slice_context import full_resolution

Index = tuple[np.ndarray, ...]
Atom = tuple[Index, np.ndarray, np.ndarray]  # indices, values before, values after


def check_writable(layer: Labels) -> None:
    """Refuse a pyramid labels layer with a read-only level (e.g. dask levels of an
    OME-Zarr opened by another reader), before any work.

    Raises:
        InvalidInputError: naming the layer and the level.
    """
    if layer.multiscale:
        check_writable_levels(list(layer.data), layer.name)


@dataclass
class PyramidHistory:
    """Undo and redo steps of one pyramid labels layer (napari keeps none for them)."""

    undo_steps: list[list[Atom]] = field(default_factory=list)
    redo_steps: list[list[Atom]] = field(default_factory=list)
    open_step: list[Atom] | None = None  # atoms of the step being gathered, if any

    def record(self, atom: Atom) -> list[Atom] | None:
        """Add one write to the step being gathered (returns None), or as a step of its own
        (returns that step)."""
        self.redo_steps.clear()
        if self.open_step is not None:
            self.open_step.append(atom)
            return None
        self.undo_steps.append([atom])
        return self.undo_steps[-1]

    def replay(self, layer: Labels, undoing: bool) -> bool:
        """Undo (or redo) the last step on ``layer``; False when there is none."""
        source, target = ((self.undo_steps, self.redo_steps) if undoing
                          else (self.redo_steps, self.undo_steps))
        if not source:
            return False
        step = source.pop()
        levels = list(layer.data)
        for idx, before, after in (reversed(step) if undoing else step):
            write_levels(levels, idx, before if undoing else after)
        target.append(step)
        layer.refresh()
        layer.events.paint(value=step)
        return True


_HISTORIES: weakref.WeakKeyDictionary[Labels, PyramidHistory] = weakref.WeakKeyDictionary()


def pyramid_history(layer: Labels) -> PyramidHistory:
    """The undo history of the pyramid labels ``layer``, made (and bound to the layer's
    Ctrl+Z and Ctrl+Shift+Z) on first use."""
    history = _HISTORIES.get(layer)
    if history is None:
        history = _HISTORIES[layer] = PyramidHistory()
        # napari's own keys for a Labels layer's undo / redo (Cmd on macOS)
        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, undo_labels, overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, redo_labels,
                       overwrite=True)
    return history


def undo_labels(layer: Labels) -> None:
    """Undo the last step of ``layer`` (what Ctrl+Z does; a pyramid's from this module)."""
    if layer.multiscale:
        pyramid_history(layer).replay(layer, undoing=True)
    else:
        layer.undo()


def redo_labels(layer: Labels) -> None:
    """Redo the last undone step of ``layer`` (Ctrl+Shift+Z)."""
    if layer.multiscale:
        pyramid_history(layer).replay(layer, undoing=False)
    else:
        layer.redo()


@contextlib.contextmanager
def one_undo_step(layer: Labels) -> Iterator[None]:
    """Writes of :func:`write_labels` / :func:`record_as_one_step` inside this block make
    one undo step of ``layer`` (napari's ``block_history`` for a plain layer)."""
    if not layer.multiscale:
        with layer.block_history():
            yield
        return
    history = pyramid_history(layer)
    outer = history.open_step is not None
    if not outer:
        history.open_step = []
    try:
        yield
    finally:
        if not outer:
            step, history.open_step = history.open_step, None
            if step:
                history.undo_steps.append(step)
                layer.events.paint(value=step)


def write_labels(layer: Labels, idx: Index, values: int | np.ndarray,
                 refresh: bool = True) -> int:
    """Write ``values`` (one id, or one per voxel) at ``idx`` as one undo step of ``layer``
    (or as part of one, inside :func:`one_undo_step`); returns the number of voxels
    written (nothing is recorded for none). ``refresh=False`` leaves the redraw to the
    caller.

    Raises:
        InvalidInputError: a pyramid layer with a read-only level (:func:`check_writable`).
    """
    n = int(np.asarray(idx[0]).size) if idx else 0
    if n == 0:
        return 0
    data = full_resolution(layer)
    if not np.isscalar(values):
        values = np.asarray(values).astype(data.dtype, copy=False)  # type: ignore[attr-defined]
    if not layer.multiscale:
        layer.data_setitem(idx, values, refresh=refresh)
        return n
    check_writable(layer)
    before = np.asarray(data[idx])  # type: ignore[index]
    after = np.broadcast_to(np.asarray(values, dtype=before.dtype), before.shape)
    changed = before != after
    idx = tuple(np.asarray(a)[changed] for a in idx)
    if idx[0].size:
        step = pyramid_history(layer).record((idx, before[changed], after[changed].copy()))
        write_levels(list(layer.data), idx, after[changed])
        if refresh:
            layer.refresh()
        if step is not None:  # a step of its own: done (else at the end of one_undo_step)
            layer.events.paint(value=step)
    return n


def record_as_one_step(layer: Labels, idx: Index, before: np.ndarray,
                       refresh: bool = True) -> int:
    """Voxels at ``idx`` were written straight into the layer's full-resolution data (no
    history; a pyramid's coarser levels not yet) over the values ``before``; make that
    change one undo step: put ``before`` back, then write the new values again with
    :func:`write_labels`. Returns the number of voxels that changed. Several calls inside
    :func:`one_undo_step` make one step together."""
    data = full_resolution(layer)
    after = np.asarray(data[idx])  # type: ignore[index]
    changed = after != before
    idx = tuple(a[changed] for a in idx)
    data[idx] = before[changed]  # type: ignore[index]  # the state before the run, not redrawn
    n = write_labels(layer, idx, after[changed], refresh=False)
    if refresh:
        layer.refresh()
    return n
