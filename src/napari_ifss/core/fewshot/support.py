"""Support slices: which slices of a labels volume are annotated, and the fixed selection rule.

A labels volume is ``(Z, Y, X)`` integer (0 = background). Everything here reads it one z slice
at a time (``np.asarray(labels[z])``), so it works on numpy, dask and zarr arrays alike without
materialising the volume.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..channels import Channels
from ..errors import InvalidInputError


@dataclass(frozen=True)
class LabelsIndex:
    """Where each label id occurs, by slice.

    Attributes:
        slices_of: label id -> sorted z indices of the slices that contain it.
        annotated: sorted z indices of the slices that contain any nonzero label.
        depth: number of slices ``Z``.
    """

    slices_of: dict[int, tuple[int, ...]]
    annotated: tuple[int, ...]
    depth: int

    @property
    def label_ids(self) -> tuple[int, ...]:
        """All nonzero ids present, ascending."""
        return tuple(sorted(self.slices_of))


def check_labels_volume(labels: object) -> tuple[int, int, int]:
    """The ``(Z, Y, X)`` shape of ``labels``; raises :class:`InvalidInputError` if it is not a
    3D integer (or bool) array-like."""
    shape = tuple(getattr(labels, "shape", ()))
    dtype = np.dtype(getattr(labels, "dtype", np.float64))
    if len(shape) != 3:
        raise InvalidInputError(f"labels must be a 3D (Z, Y, X) array; got shape {shape}")
    if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
        raise InvalidInputError(f"labels must hold integer ids; got dtype {dtype}")
    return shape  # type: ignore[return-value]


def index_labels(labels: object) -> LabelsIndex:
    """Scan ``labels`` ``(Z, Y, X)`` slice by slice and record where every id occurs."""
    depth = check_labels_volume(labels)[0]
    slices_of: dict[int, list[int]] = {}
    annotated: list[int] = []
    for z in range(depth):
        ids = np.unique(np.asarray(labels[z]))  # type: ignore[index]
        if ids.size and ids[0] < 0:
            raise InvalidInputError(f"label ids must be >= 0; slice {z} holds {ids[0]}")
        ids = ids[ids != 0]
        if ids.size:
            annotated.append(z)
        for i in ids.tolist():
            slices_of.setdefault(int(i), []).append(z)
    return LabelsIndex({k: tuple(v) for k, v in slices_of.items()}, tuple(annotated), depth)


def resolve_label_ids(index: LabelsIndex, label_ids: int | Iterable[int] | None) -> list[int]:
    """``label_ids`` as a list (all present ids when None); errors for ids not in the volume."""
    if label_ids is None:
        ids = list(index.label_ids)
        if not ids:
            raise InvalidInputError("the labels volume is empty: annotate at least one slice")
        return ids
    ids = [int(label_ids)] if np.isscalar(label_ids) else [int(i) for i in label_ids]  # type: ignore[arg-type]
    if not ids:
        raise InvalidInputError("label_ids is empty")
    for i in ids:
        if i == 0:
            raise InvalidInputError("label id 0 is background and cannot be propagated")
        if i not in index.slices_of:
            present = ", ".join(map(str, index.label_ids)) or "none"
            raise InvalidInputError(
                f"label id {i} does not occur in the labels volume (ids present: {present})")
    return list(dict.fromkeys(ids))


def evenly_spaced_slices(present: Sequence[int], k: int) -> list[int]:
    """The fixed support rule: ``k`` slices evenly spaced over an object's z-extent.

    The extent ``[z0, z1]`` (from the slices in ``present`` that contain the object) is cut into
    ``k`` equal bins and the centre of each bin is taken, ``z0 + floor((i + 0.5) * n / k)`` with
    ``n = z1 - z0 + 1``; a centre without the object moves to the nearest slice that has it
    (lower z on ties). Returns ``min(k, len(present))`` distinct sorted indices.

    Raises:
        InvalidInputError: if ``k < 1`` or ``present`` is empty.
    """
    if k < 1:
        raise InvalidInputError(f"the number of support slices must be >= 1, got {k}")
    zs = np.unique(np.asarray(list(present), dtype=int))
    if zs.size == 0:
        raise InvalidInputError("the object occurs on no slice")
    z0, n = int(zs[0]), int(zs[-1] - zs[0] + 1)
    chosen: list[int] = []
    for i in range(min(k, zs.size)):
        centre = z0 + int(np.floor((i + 0.5) * n / k))
        free = zs[~np.isin(zs, chosen)]
        chosen.append(int(free[np.argmin(np.abs(free - centre))]))
    return sorted(chosen)


def object_slices(mask_volume: object) -> list[int]:
    """z indices of the slices of a bool/int ``(Z, Y, X)`` volume with any nonzero voxel."""
    depth = check_labels_volume(mask_volume)[0]
    return [z for z in range(depth) if np.any(np.asarray(mask_volume[z]))]  # type: ignore[index]


def nearest(zs: Sequence[int], z: int) -> int:
    """The element of ``zs`` nearest to ``z`` (lower on ties)."""
    arr = np.asarray(sorted(zs))
    if arr.size == 0:
        raise InvalidInputError("no slices to choose from")
    return int(arr[np.argmin(np.abs(arr - z))])


def check_support(images: object, masks: object, positions: Sequence[float] | None = None,
                  min_side: int = 8) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate a support set: ``K >= 1`` slices ``(H, W)`` / ``(H, W, 3|4)`` (a single 2D
    array counts as K = 1), or :class:`~napari_ifss.core.channels.Channels` of one slice each
    (all with the same number of channels), their masks ``(H, W)`` (nonzero = object) and
    optional positions.

    Returns:
        the checked slices and the masks as bool arrays.

    Raises:
        InvalidInputError: empty support, count or shape mismatch, NaN, no object in any mask
            or no background in any mask.
    """
    if isinstance(images, Channels):
        imgs = [images]
    elif isinstance(images, list | tuple) and any(isinstance(i, Channels) for i in images):
        imgs = list(images)
    else:
        imgs = [np.asarray(images)] if np.ndim(images) == 2 else list(images)  # type: ignore[arg-type]
    msks = [np.asarray(masks)] if np.ndim(masks) == 2 else list(masks)  # type: ignore[arg-type]
    if not imgs:
        raise InvalidInputError("empty support: give at least one annotated slice")
    if len(imgs) != len(msks):
        raise InvalidInputError(f"{len(imgs)} support images but {len(msks)} masks")
    if positions is not None and len(positions) != len(imgs):
        raise InvalidInputError(f"{len(imgs)} support images but {len(positions)} positions")
    imgs = [checked_slice(im, f"support image {i}", min_side) for i, im in enumerate(imgs)]
    counts = {im.count if isinstance(im, Channels) else 0 for im in imgs}
    if len(counts) != 1:
        raise InvalidInputError("support images mix plain slices and channels, or "
                                "different numbers of channels")
    binary = []
    for i, (im, m) in enumerate(zip(imgs, msks, strict=True)):
        m = np.asarray(m)
        if m.shape != im.shape[:2]:
            raise InvalidInputError(
                f"support mask {i} has shape {m.shape}, image {i} has shape {im.shape[:2]}")
        binary.append(m != 0)
    if not any(b.any() for b in binary):
        raise InvalidInputError("every support mask is empty: mark the object on a slice")
    if all(b.all() for b in binary):
        raise InvalidInputError(
            "the support masks cover their whole slices: some background is needed")
    return imgs, binary


def checked_slice(image: object, what: str, min_side: int = 2) -> np.ndarray | Channels:
    """A slice ``(H, W)`` / ``(H, W, 3|4)`` checked (:func:`~..normalize.check_slice`), or
    :class:`Channels` of one slice with every channel checked as an ``(H, W)`` slice."""
    from ..normalize import check_slice

    if not isinstance(image, Channels):
        return check_slice(image, what, min_side=min_side)
    if image.ndim != 2:
        raise InvalidInputError(f"{what}: expected the channels of one 2D slice; got shape "
                                f"{image.shape}")
    return Channels(tuple(check_slice(a, f"{what} ({n})", min_side=min_side)
                          for a, n in zip(image.arrays, image.names, strict=True)),
                    image.windows, image.names)


def check_query(image: object, window: object) -> np.ndarray | Channels:
    """A query slice for a model fitted under ``window`` (a tuple for channels): checked, and
    channels only where the support had them, as many.

    Raises:
        InvalidInputError: a bad slice, or channels that do not match the support's.
    """
    image = checked_slice(image, "query image")
    fitted = len(window) if isinstance(window, tuple) else 0
    given = image.count if isinstance(image, Channels) else 0
    if fitted != given:
        raise InvalidInputError(f"the query has {given or 'no'} channels, the support "
                                f"{fitted or 'none'}: give slices of the same channels")
    return image
