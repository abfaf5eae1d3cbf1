"""Label pyramids: one image kept at several resolutions, written at full resolution.

napari draws a huge slice from the coarsest resolution level that suits the zoom, so a label
image of a 20000 x 20000 slide is shown as a *pyramid* (a multiscale layer, as OME-Zarr stores
labels). :func:`strided_levels` makes one from a single zero array: the coarser levels are
strided *views* of it, so a write at full resolution shows at every level and costs nothing
more. :func:`write_levels` writes into any pyramid: level 0, and each coarser level that is a
separate array at the voxels that fall on its grid (what nearest-neighbour downsampling keeps).

Levels are ordered from full resolution to coarse; indices are tuples of equal-length integer
arrays, one per axis of level 0 (what ``np.nonzero`` returns).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import InvalidInputError

PYRAMID_ABOVE = 4096  # px: a slice with a longer side is shown from a pyramid
COARSEST_SIDE = 1024  # px: the coarsest level's long side is at least this


def strided_levels(shape: Sequence[int], dtype: np.dtype | type = np.uint8,
                   above: int = PYRAMID_ABOVE) -> list[np.ndarray]:
    """A zero array of ``shape`` (its last two axes the slice, (rows, cols)) and, when the
    slice's long side exceeds ``above``, strided views of it 2x, 4x, ... coarser in those
    axes down to about :data:`COARSEST_SIDE` px. Untouched zero pages cost no memory."""
    base = np.zeros(tuple(int(n) for n in shape), dtype)
    levels, k = [base], 1
    long_side = max(base.shape[-2:])
    while long_side > above and long_side // 2 ** k >= COARSEST_SIDE:
        levels.append(base[..., :: 2 ** k, :: 2 ** k])
        k += 1
    return levels


def is_writable(array: object) -> bool:
    """Whether ``array`` is known to take writes: a numpy array with the writeable flag, a
    zarr array not opened read-only. dask arrays and other lazy views do not (a pyramid level
    must be one of the former)."""
    if isinstance(array, np.ndarray):
        return bool(array.flags.writeable)
    if hasattr(array, "read_only"):  # zarr
        return not bool(array.read_only)
    return False


def is_read_only(array: object) -> bool:
    """Whether ``array`` is known to refuse writes: a ``read_only`` attribute (zarr) or
    ``flags.writeable`` False (numpy, and views that pass their array's flags on). Other
    array-likes are given the benefit of the doubt (an ``out=`` the user chose)."""
    flags = getattr(array, "flags", None)
    return bool(getattr(array, "read_only", False)) or (
        flags is not None and not getattr(flags, "writeable", True))


def check_writable_levels(levels: Sequence[object], name: str) -> None:
    """Refuse a label pyramid one of whose levels cannot be written.

    Raises:
        InvalidInputError: naming the first such level of the layer called ``name``.
    """
    for k, level in enumerate(levels):
        if not is_writable(level):
            raise InvalidInputError(
                f"labels {name!r} cannot be written: its resolution level {k} is read-only "
                f"({type(level).__name__}); pick another labels layer or make a new one")


def _axis_factor(n0: int, n: int) -> int | None:
    """The integer factor ``f`` that takes an axis of ``n0`` pixels to ``n`` (``n0 // f`` or
    ``ceil(n0 / f)``, as downsampling rounds either way), a power of two where one fits;
    None when no factor does."""
    if n == n0:
        return 1
    fits = [f for f in range(max(2, n0 // (n + 1)), n0 // max(n - 1, 1) + 2)
            if n in (n0 // f, -(-n0 // f))]
    powers = [f for f in fits if f & (f - 1) == 0]
    return (powers or fits or [None])[0]


def level_factors(shape0: Sequence[int], shape: Sequence[int]) -> tuple[int, ...]:
    """Integer downsampling factor of each axis from a level of ``shape0`` to one of
    ``shape`` (1 where an axis keeps its size; a level's side may be rounded down or up).

    Raises:
        InvalidInputError: a level larger than level 0, with another number of axes, or
            that no integer factor makes.
    """
    factors = [_axis_factor(int(n0), int(n)) if 1 <= int(n) <= int(n0) else None
               for n0, n in zip(shape0, shape, strict=True)] if len(shape) == len(shape0) \
        else [None]
    if any(f is None for f in factors):
        raise InvalidInputError(f"resolution level of shape {tuple(shape)} does not fit a "
                                f"pyramid whose full resolution is {tuple(shape0)}")
    return tuple(int(f) for f in factors)  # type: ignore[arg-type]


def _views_of(level: object, base: object) -> bool:
    return (isinstance(level, np.ndarray) and isinstance(base, np.ndarray)
            and np.may_share_memory(level, base))


def write_levels(levels: Sequence[object], idx: tuple[np.ndarray, ...],
                 values: int | np.ndarray) -> None:
    """Write ``values`` (one value, or one per voxel of ``idx``) at ``idx`` of level 0 of
    ``levels``, and into each coarser level that is not a view of level 0 at the voxels on
    its grid (index divisible by the level's factor on every axis)."""
    base = levels[0]
    base[idx] = values  # type: ignore[index]
    per_voxel = not np.isscalar(values)
    for level in levels[1:]:
        if _views_of(level, base):
            continue  # a strided view: already written
        factors = level_factors(np.shape(base), np.shape(level))
        shape = np.shape(level)
        on = np.ones(idx[0].shape, bool)
        for i, f, n in zip(idx, factors, shape, strict=True):
            on &= (i % f == 0) & (i // f < n)
        if on.any():
            level[tuple(i[on] // f for i, f in zip(idx, factors, strict=True))] = (  # type: ignore[index]
                np.asarray(values)[on] if per_voxel else values)
