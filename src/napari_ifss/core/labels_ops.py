"""Writing objects into a label image without disturbing the others (pure numpy).

Label 0 is background. A new object gets the next free id (``max + 1``); committing writes only
where the object's mask is True and, unless ``overwrite=True``, where the label image is still
background, so other objects keep every voxel. ``labels`` may be a view (e.g. one 2D slice of a
3D array): writes go through to the base array.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInputError


def _check_labels(labels: np.ndarray) -> None:
    if not np.issubdtype(labels.dtype, np.integer):
        raise InvalidInputError(f"labels must have an integer dtype; got {labels.dtype}")


def next_free_id(labels: np.ndarray) -> int:
    """The id for a new object: one more than the largest label (1 for an all-background image).

    Raises:
        InvalidInputError: for a non-integer dtype, or when the dtype cannot hold a larger id.
    """
    arr = np.asarray(labels)
    _check_labels(arr)
    top = int(arr.max()) if arr.size else 0
    new = max(top, 0) + 1
    if new > np.iinfo(arr.dtype).max:
        raise InvalidInputError(
            f"labels of dtype {arr.dtype} are full (largest id {top}); convert to a wider dtype"
        )
    return new


def free_indices(
    labels: np.ndarray, indices: tuple[np.ndarray, ...], overwrite: bool = False
) -> tuple[np.ndarray, ...]:
    """The subset of ``indices`` (one int array per axis of ``labels``) that may be written.

    Without ``overwrite`` only background (0) positions are kept; with it, all of them.
    """
    if len(indices) != labels.ndim:
        raise InvalidInputError(
            f"got {len(indices)} index arrays for labels with {labels.ndim} dimensions"
        )
    idx = tuple(np.asarray(i, dtype=np.intp) for i in indices)
    for ax, (i, n) in enumerate(zip(idx, labels.shape, strict=True)):
        if i.size and (i.min() < 0 or i.max() >= n):
            raise InvalidInputError(f"index on axis {ax} outside labels of shape {labels.shape}")
    if overwrite or idx[0].size == 0:
        return idx
    keep = np.asarray(labels[idx]) == 0
    return tuple(i[keep] for i in idx)


def writable_indices(
    labels: np.ndarray, mask: np.ndarray, overwrite: bool = False
) -> tuple[np.ndarray, ...]:
    """Indices where committing ``mask`` (same shape as ``labels``) would write."""
    _check_labels(labels)
    mask = np.asarray(mask)
    if mask.shape != labels.shape:
        raise InvalidInputError(
            f"mask of shape {mask.shape} does not match labels of shape {labels.shape}"
        )
    return free_indices(labels, np.nonzero(mask.astype(bool, copy=False)), overwrite)


def commit_mask(
    labels: np.ndarray, mask: np.ndarray, label_id: int, overwrite: bool = False
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Write ``label_id`` into ``labels`` (in place) where ``mask`` is True.

    Args:
        labels: integer label image, any shape; a writable view (e.g. ``vol[z]``) is fine.
        mask: boolean (or 0/1) array of the same shape.
        label_id: the object's id, >= 1 and representable in ``labels.dtype``.
        overwrite: also replace other objects' voxels (default: only background is written).

    Returns:
        ``(indices, old_values)``: the positions written (one array per axis of ``labels``) and
        their previous values, enough to undo with ``labels[indices] = old_values``.

    Raises:
        InvalidInputError: on a shape mismatch, a non-integer dtype or an invalid id.
    """
    _check_labels(labels)
    if isinstance(label_id, bool) or not isinstance(label_id, int | np.integer):
        raise InvalidInputError(f"label_id must be an integer; got {label_id!r}")
    if not 1 <= int(label_id) <= np.iinfo(labels.dtype).max:
        raise InvalidInputError(
            f"label_id {label_id} must be >= 1 and fit in labels dtype {labels.dtype}"
        )
    indices = writable_indices(labels, mask, overwrite)
    old_values = np.array(labels[indices], copy=True)
    labels[indices] = label_id
    return indices, old_values


def replacement_writes(
    labels: np.ndarray, label_id: int, old: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The single write that replaces object ``label_id``'s voxels ``old`` by ``new``.

    Voxels of ``old`` that ``new`` leaves out go back to background (0); voxels of ``new``
    that are background or already ``label_id`` become ``label_id``; other objects keep
    every voxel. Apply with ``labels[indices] = values`` (or napari's ``data_setitem``, one
    undo step).

    Args:
        labels: integer label image, any shape.
        label_id: the object being corrected (>= 1).
        old, new: integer indices (one array per axis of ``labels``): where the object is now
            (only its own voxels are cleared) and where it should be.

    Returns:
        ``(indices, values)``: positions and the value each gets.

    Raises:
        InvalidInputError: a non-integer dtype, an invalid id, indices outside ``labels``.
    """
    _check_labels(labels)
    if isinstance(label_id, bool) or not 1 <= int(label_id) <= np.iinfo(labels.dtype).max:
        raise InvalidInputError(f"label_id {label_id} must be >= 1 and fit {labels.dtype}")
    old_i = free_indices(labels, old, overwrite=True)
    new_i = free_indices(labels, new, overwrite=True)
    keep_new = np.isin(np.asarray(labels[new_i]), (0, label_id))
    new_i = tuple(i[keep_new] for i in new_i)
    flat_new = np.ravel_multi_index(new_i, labels.shape)
    flat_old = np.ravel_multi_index(old_i, labels.shape)
    flat_old = flat_old[np.asarray(labels[old_i]) == label_id]
    erase = np.setdiff1d(flat_old, flat_new)
    flat = np.concatenate([np.unique(flat_new), erase])
    values = np.concatenate([np.full(np.unique(flat_new).size, label_id),
                             np.zeros(erase.size)]).astype(labels.dtype)
    return np.unravel_index(flat, labels.shape), values
