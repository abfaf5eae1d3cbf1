"""One entry point for reading any supported file or DICOM folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import ReadError, UnsupportedFormatError
from .axes import count_along
from .detect import read_format
from .dicom import read_dicom_series
from .itk import read_itk
from .layerdata import LayerData
from .ngff import ngff_axes, read_ngff
from .tiff import read_tiff, read_tiff_channels, tiff_axes


def read_layer(
    path: str | Path, as_labels: bool = False, series_id: str | None = None, *,
    channel: int | None = None, time: int | str | None = None
) -> LayerData:
    """Read ``path`` (TIFF/OME-TIFF, NIfTI, MHA/MHD, NRRD, OME-Zarr (lazily, level 0), DICOM
    folder or ``.dcm``).

    Args:
        path: a file, or a folder holding a DICOM series.
        as_labels: open as labels (integer content required) whatever the file name says.
        series_id: DICOM only: which series to read from a folder holding several.
        channel, time: TIFF and OME-Zarr: which channel / time point to open from a file that has
            several (:func:`~.axes.choose_planes`; the file's axes are named in the error
            when the choice is missing).

    Returns:
        :class:`LayerData` with arrays in ``(Z, Y, X)`` / ``(Y, X)`` / ``(Y, X, 3|4)`` order.

    Raises:
        UnsupportedFormatError: unknown extension, or more dimensions than supported.
        ReadError: missing, unreadable, truncated or corrupt file; ambiguous DICOM folder.
        InvalidInputError: ``as_labels`` with non-integral content.
    """
    p = Path(path)
    fmt = read_format(p)
    if not p.exists():
        raise ReadError(f"{p}: no such file or folder")
    if not (p.is_file() or p.is_dir()):  # a device or pipe (e.g. a link to /dev/zero)
        raise ReadError(f"{p}: not a regular file")
    if fmt == "tiff":
        return read_tiff(p, as_labels=as_labels, channel=channel, time=time)
    if fmt == "ngff":
        return read_ngff(p, as_labels=as_labels, channel=channel, time=time)
    if channel is not None or time is not None:
        raise UnsupportedFormatError(f"{p}: channel= and time= apply to TIFF and OME-Zarr "
                                     f"files; this {fmt.upper()} file is read as one image")
    if fmt == "itk":
        return read_itk(p, as_labels=as_labels)
    return read_dicom_series(p, series_id=series_id, as_labels=as_labels)


def file_axes(path: str | Path) -> tuple[str, str, tuple[int, ...]] | None:
    """``(format, axes, shape)`` of a TIFF file or OME-Zarr image from its metadata (no pixel
    read), or None for formats without named axes."""
    p = Path(path)
    fmt = read_format(p) if p.exists() else None
    if fmt not in ("tiff", "ngff") or (fmt == "tiff" and not p.is_file()):
        return None
    axes, shape = tiff_axes(p) if fmt == "tiff" else ngff_axes(p)
    return fmt, axes, tuple(shape)


def channel_count(path: str | Path) -> int:
    """How many channels the file at ``path`` has (1 for formats without channels)."""
    found = file_axes(path)
    return 1 if found is None else max(1, count_along(found[1], found[2], "C"))


def read_layers(path: str | Path, as_labels: bool = False) -> list[LayerData]:
    """Every channel of ``path`` as its own layer (named ``"<name> [channel c]"``), in channel
    order; one layer for a file without channels. A movie opens whole (``time="all"``):
    a 2D movie with its time points as the stack (axes ``TYX``), a 3D movie as ``TZYX``.
    What napari's reader opens: each channel can then be picked in the docks.

    Raises:
        as :func:`read_layer` (several time points are refused with the choices named).
    """
    p = Path(path)
    found = file_axes(p)
    if found is None:
        return [read_layer(p, as_labels=as_labels)]
    fmt, axes, shape = found
    channels = count_along(axes, shape, "C")
    # a movie opens whole: time points as the stack (TYX) or beside z (TZYX, a 3D movie)
    time = "all" if count_along(axes, shape, "T") > 1 else None
    if channels <= 1:
        return [read_layer(p, as_labels=as_labels, time=time)]
    if fmt == "tiff":  # the file is read once for all its channels
        layers = read_tiff_channels(p, as_labels=as_labels, time=time)
    else:  # OME-Zarr: lazy, each channel a view
        layers = [read_layer(p, as_labels=as_labels, channel=c, time=time)
                  for c in range(channels)]
    return [replace(layer, name=f"{layer.name} [channel {c}]")
            for c, layer in enumerate(layers)]
