"""Checks on what a file's header claims, made before any pixel is read or allocated.

A damaged or crafted header can claim a pixel type napari-ifss cannot handle (complex,
structured) or a size no computer holds (``100000 x 100000 x 100000`` voxels); both are refused
with a message that names the file, instead of a ``MemoryError``, an out-of-memory kill, or a
crash much later in the model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from ..errors import ReadError, UnsupportedFormatError

SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def memory_limit() -> int:
    """Bytes one read may allocate: the computer's physical memory (1 TiB when unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX (Windows)
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # optional; any failure means "unknown"
        return 1 << 40


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_size(shape: Sequence[int], itemsize: int, what: str) -> int:
    """Refuse a header whose pixels would not fit in memory; returns their size in bytes.

    Args:
        shape: the dimensions the header claims (any order, colour samples included).
        itemsize: bytes per sample.
        what: the file, for the message.

    Raises:
        ReadError: a negative dimension, or more bytes than :func:`memory_limit`.
    """
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims) or itemsize <= 0:
        raise ReadError(f"{what}: damaged header (dimensions {dims}, {itemsize}-byte samples)")
    nbytes = math.prod(dims) * int(itemsize)
    limit = memory_limit()
    if nbytes > limit:
        raise ReadError(
            f"{what}: header claims {' x '.join(map(str, dims))} samples of {itemsize} bytes "
            f"({human_bytes(nbytes)}), more than this computer's memory ({human_bytes(limit)}); "
            "the file is damaged, or too large to open whole (crop or downsample it first)")
    return nbytes


def check_pixel_type(dtype: object, what: str) -> np.dtype:
    """``dtype`` when napari-ifss can work with it (bool, integer, float).

    Raises:
        UnsupportedFormatError: complex, structured, string or other pixel types.
    """
    dt = np.dtype(dtype)  # type: ignore[call-overload]
    if dt.kind == "c":
        raise UnsupportedFormatError(
            f"{what}: complex pixels ({dt}) are not supported; save the magnitude (np.abs) or "
            "the real part as a separate image")
    if dt.kind not in SUPPORTED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise UnsupportedFormatError(
            f"{what}: pixel type {dt} is not supported; napari-ifss reads integer, float and "
            "boolean images")
    return dt
