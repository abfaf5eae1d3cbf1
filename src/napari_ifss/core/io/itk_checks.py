"""What is checked before SimpleITK reads a file's pixels (NIfTI, MetaImage, NRRD, DICOM).

In order: the text header's data-file field (MetaImage/NRRD, see :mod:`.text_headers`), the
image information ITK reads from the header (pixel type, size: see :mod:`.guards`), and
that the file holds as many pixel bytes as the header promises (compressed MetaImage and
NIfTI, which ITK would otherwise read with garbage or zeros in place of the missing part).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import ReadError, UnsupportedFormatError
from .detect import extension_of
from .guards import check_size
from .nifti_check import check_nifti_complete
from .text_headers import (
    check_data_files,
    check_metaimage_complete,
    read_metaimage_header,
    read_nrrd_header,
)

# ITK pixel ids (scalar and vector) -> numpy sample type; others (complex, label maps) refused.
_SCALAR = {
    "UInt8": np.uint8, "Int8": np.int8, "UInt16": np.uint16, "Int16": np.int16,
    "UInt32": np.uint32, "Int32": np.int32, "UInt64": np.uint64, "Int64": np.int64,
    "Float32": np.float32, "Float64": np.float64,
}
PIXEL_DTYPES: dict[int, np.dtype] = {
    getattr(sitk, f"sitk{prefix}{name}"): np.dtype(dtype)
    for name, dtype in _SCALAR.items() for prefix in ("", "Vector")
}


def pixel_dtype(reader: sitk.ImageFileReader, what: str) -> np.dtype:
    """The numpy type of one sample of the image ``reader`` read the information of.

    Raises:
        UnsupportedFormatError: complex pixels, label-map or other pixel types.
    """
    pid = reader.GetPixelID()
    if pid in PIXEL_DTYPES:
        return PIXEL_DTYPES[pid]
    kind = sitk.GetPixelIDValueAsString(pid)
    if "complex" in kind:
        raise UnsupportedFormatError(f"{what}: complex pixels ({kind}) are not supported; save "
                                     "the magnitude (np.abs) or the real part as an image")
    raise UnsupportedFormatError(f"{what}: pixel type {kind!r} is not supported; napari-ifss "
                                 "reads integer and float images")


def image_information(path: Path) -> sitk.ImageFileReader:
    """A reader with the header of ``path`` read (no pixels).

    Raises:
        ReadError: ITK cannot read the header.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise ReadError(f"{path}: could not read ({itk_message(exc)})") from exc
    return reader


def check_itk_file(path: Path) -> None:
    """Everything that can be checked before ITK reads the pixels of ``path``.

    Raises:
        ReadError: a data file outside the folder, an unreadable header, a size beyond memory,
            a file with fewer pixel bytes than its header claims.
        UnsupportedFormatError: a pixel type napari-ifss does not handle.
    """
    ext = extension_of(path)
    header = None
    if ext in (".mha", ".mhd"):
        header = read_metaimage_header(path)
        missing = [k for k in ("NDims", "DimSize", "ElementType") if k.lower() not in
                   header.fields]
        if missing:  # ITK only prints the reason, its exception says "cannot be read"
            raise ReadError(f"{path}: damaged MetaImage header (no {', '.join(missing)})")
        check_data_files(path, header, local_ok=True)
    elif ext == ".nrrd":
        check_data_files(path, read_nrrd_header(path))
    reader = image_information(path)
    dtype = pixel_dtype(reader, str(path))
    shape = (*reader.GetSize(), reader.GetNumberOfComponents())
    expected = check_size(shape, dtype.itemsize, str(path))
    if header is not None:
        check_metaimage_complete(path, header, expected)
    if ext in (".nii", ".nii.gz"):
        check_nifti_complete(path)


def check_dicom_series(files: Sequence[str], what: str) -> None:
    """Check a DICOM series' first file's header and the size of the whole series.

    Raises:
        ReadError: unreadable first file, or a series larger than memory.
        UnsupportedFormatError: a pixel type napari-ifss does not handle.
    """
    reader = image_information(Path(files[0]))
    dtype = pixel_dtype(reader, what)
    per_file = math.prod(reader.GetSize()) * reader.GetNumberOfComponents()
    check_size((per_file, len(files)), dtype.itemsize, what)


def itk_message(exc: Exception) -> str:
    """ITK's messages are long multi-line traces; keep the informative line.

    That is the last line, unless it is an ``errno`` text ("Reason: No such file or
    directory") that ITK appends to unrelated failures: then the line before it.
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("Reason:")] or lines
    if not lines:
        return type(exc).__name__
    last = lines[-1]
    return last.split("): ", 1)[1] if last.startswith("ITK ERROR:") and "): " in last else last
