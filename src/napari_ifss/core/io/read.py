"""One entry point for reading any supported file or DICOM folder."""

from __future__ import annotations

from pathlib import Path

from ..errors import ReadError
from .detect import read_format
from .dicom import read_dicom_series
from .itk import read_itk
from .layerdata import LayerData
from .tiff import read_tiff


def read_layer(
    path: str | Path, as_labels: bool = False, series_id: str | None = None
) -> LayerData:
    """Read ``path`` (TIFF/OME-TIFF, NIfTI, MHA/MHD, NRRD, DICOM folder or ``.dcm``).

    Args:
        path: a file, or a folder holding a DICOM series.
        as_labels: open as labels (integer content required) whatever the file name says.
        series_id: DICOM only: which series to read from a folder holding several.

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
        return read_tiff(p, as_labels=as_labels)
    if fmt == "itk":
        return read_itk(p, as_labels=as_labels)
    return read_dicom_series(p, series_id=series_id, as_labels=as_labels)
