"""A private working copy of a ``(Z, Y, X)`` labels volume that costs little memory.

A run that must not write into the user's labels while it works (the Few-shot dock's worker,
its quality check) needs a copy. A numpy copy of a 300 x 1024 x 1024 int32 volume is 1.2 GB
beside the layer's own; label maps compress 50-100x, so the copy here is a zarr array held
in memory, compressed, one chunk per z slice: reading or writing a slice touches that slice
only. It reads and writes like the numpy array it replaces (``copy[z]``, ``copy[z] = ...``,
``.shape``, ``.dtype``).
"""

from __future__ import annotations

import numpy as np
import zarr
from zarr.storage import MemoryStore

from .planes import PlaneStack


def compressed_copy(volume: object, shape: tuple[int, ...] | None = None) -> zarr.Array:
    """A compressed in-memory copy of ``volume`` ``(Z, Y, X)`` (numpy, zarr, dask, or any
    array-like read one z slice at a time), with its dtype; filled slice by slice. ``shape``:
    the copy's own shape with the same planes, e.g. ``(T, Z, Y, X)`` for the ``(T * Z, Y,
    X)`` planes of a movie (:class:`~napari_ifss.core.planes.PlaneStack`); default
    ``volume``'s."""
    own = tuple(int(n) for n in np.shape(volume))  # type: ignore[arg-type]
    shape = own if shape is None else tuple(int(n) for n in shape)
    dtype = np.dtype(volume.dtype)  # type: ignore[attr-defined]
    copy = zarr.create_array(store=MemoryStore(), shape=shape, dtype=dtype,
                             chunks=(1,) * (len(shape) - 2) + shape[-2:], fill_value=0)
    planes = PlaneStack(copy)
    if planes.shape != own:
        raise ValueError(f"a copy of shape {shape} does not hold the planes of {own}")
    for z in range(own[0]):
        plane = np.asarray(volume[z])  # type: ignore[index]
        if plane.any():  # empty slices stay unwritten chunks (the fill value)
            planes[z] = plane
    return copy
