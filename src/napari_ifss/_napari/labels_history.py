"""The one way the plugin writes into a napari Labels layer: as ONE step of its undo history.

Every write of the docks, the console helpers and the session restore goes through
:func:`write_labels` (napari's own ``Labels.data_setitem``, which records the old values, so
one Ctrl+Z on the layer takes the whole write back). A run that had to write straight into
``layer.data`` slice by slice (propagation into the layer, with progress) turns its writes into
one such step afterwards with :func:`record_as_one_step`.

Indices are tuples of equal-length integer arrays, one per axis of ``layer.data`` (what
``np.nonzero`` returns).
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels

Index = tuple[np.ndarray, ...]


def write_labels(layer: Labels, idx: Index, values: int | np.ndarray,
                 refresh: bool = True) -> int:
    """Write ``values`` (one id, or one per voxel) at ``idx`` as one undo step of ``layer``
    (or as part of one, inside ``layer.block_history()``); returns the number of voxels
    written (nothing is recorded for none). ``refresh=False`` leaves the redraw to the
    caller."""
    n = int(np.asarray(idx[0]).size) if idx else 0
    if n == 0:
        return 0
    if not np.isscalar(values):
        values = np.asarray(values).astype(layer.data.dtype, copy=False)
    layer.data_setitem(idx, values, refresh=refresh)
    return n


def record_as_one_step(layer: Labels, idx: Index, before: np.ndarray,
                       refresh: bool = True) -> int:
    """Voxels at ``idx`` were written straight into ``layer.data`` (no history) over the
    values ``before``; make that change one undo step: put ``before`` back, then write the
    new values again with :func:`write_labels`. Returns the number of voxels that changed.
    Several calls inside ``layer.block_history()`` make one step together."""
    after = np.asarray(layer.data[idx])
    changed = after != before
    idx = tuple(a[changed] for a in idx)
    layer.data[idx] = before[changed]  # the state before the run, not redrawn
    n = write_labels(layer, idx, after[changed], refresh=False)
    if refresh:
        layer.refresh()
    return n
