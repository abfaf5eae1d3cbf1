"""Bring an array read from a file to a dimensionality napari-ifss supports.

Supported: 2D ``(Y, X)``, 3D ``(Z, Y, X)`` and 2D colour ``(Y, X, 3|4)``. Axes of length 1
(e.g. a single channel or time point) are squeezed away together with their scale/translate
entries; anything that still has more axes (time series, multichannel stacks, RGB volumes) is
refused with an error that names the shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UnsupportedFormatError

SUPPORTED = "2D (Y, X), 3D (Z, Y, X) or 2D RGB(A) (Y, X, 3|4)"


def to_supported(
    data: np.ndarray,
    scale: Sequence[float],
    translate: Sequence[float],
    colour_axis_last: bool = False,
    what: str = "file",
    max_spatial: int = 3,
) -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...], bool]:
    """Squeeze singleton axes and check the result.

    Args:
        data: the array as read, spatial axes first in data order, optionally a colour axis last.
        scale, translate: one entry per spatial axis of ``data`` (data order).
        colour_axis_last: True when the last axis holds colour samples (TIFF ``S``, ITK vector).
        what: how to name the source in error messages (e.g. the file path).
        max_spatial: 4 for a 3D movie ``(T, Z, Y, X)`` opened whole.

    Returns:
        ``(data, scale, translate, rgb)`` with singleton spatial axes removed.

    Raises:
        UnsupportedFormatError: for more than 3 spatial axes, RGB volumes, or colour axes that
            are not 3 or 4 samples long.
    """
    # lazy arrays (dask) stay lazy: squeezing and checking need their shape only
    arr = data if hasattr(data, "squeeze") and hasattr(data, "shape") else np.asarray(data)
    shape = arr.shape
    n_spatial = arr.ndim - 1 if colour_axis_last else arr.ndim
    scale_l, trans_l = list(scale)[:n_spatial], list(translate)[:n_spatial]
    if len(scale_l) != n_spatial or len(trans_l) != n_spatial:
        raise UnsupportedFormatError(f"{what}: geometry does not match data of shape {shape}")
    rgb = colour_axis_last
    if rgb and arr.shape[-1] == 1:
        arr, rgb = arr[..., 0], False
    if rgb and arr.shape[-1] not in (3, 4):
        raise UnsupportedFormatError(
            f"{what}: {arr.shape[-1]} colour channels in shape {shape}; supported: {SUPPORTED}"
        )
    spatial = list(arr.shape[: n_spatial])
    keep = kept_axes(spatial)
    drop = tuple(a for a in range(n_spatial) if a not in keep)
    if drop:
        arr = arr.squeeze(axis=drop)
    scale_t = tuple(float(scale_l[a]) for a in keep)
    trans_t = tuple(float(trans_l[a]) for a in keep)
    if not 2 <= len(keep) <= max_spatial or (rgb and len(keep) != 2) or min(spatial, default=0) == 0:
        raise UnsupportedFormatError(
            f"{what}: data of shape {shape} is not supported; napari-ifss reads {SUPPORTED} "
            "(a file with time points or channels: open one with time= / channel=, every "
            "time point with time='all', every channel with ifss.open_channels)"
        )
    return arr, scale_t, trans_t, rgb


def kept_axes(spatial_shape: Sequence[int]) -> list[int]:
    """Indices of the spatial axes :func:`to_supported` keeps: singleton axes are dropped,
    leading ones first, while at least two axes remain."""
    keep = list(range(len(spatial_shape)))
    for axis, size in enumerate(spatial_shape):
        if len(keep) > 2 and size == 1:
            keep.remove(axis)
    return keep
