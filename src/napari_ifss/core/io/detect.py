"""Which format a path is, judged by its extension (or by being a folder: a DICOM series)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import UnsupportedFormatError

Format = Literal["tiff", "itk", "dicom", "ngff"]

# Extension -> format, longest first so that ".nii.gz" wins over ".gz".
READ_EXTENSIONS: dict[str, Format] = {
    ".ome.tiff": "tiff", ".ome.tif": "tiff", ".tiff": "tiff", ".tif": "tiff",
    ".nii.gz": "itk", ".nii": "itk", ".mha": "itk", ".mhd": "itk", ".nrrd": "itk",
    ".dcm": "dicom", ".ome.zarr": "ngff", ".zarr": "ngff",
}
WRITE_EXTENSIONS: dict[str, Format] = {
    ext: fmt for ext, fmt in READ_EXTENSIONS.items() if fmt not in ("dicom", "ngff")
}


def extension_of(path: str | Path) -> str:
    """The (possibly double) extension of ``path`` that we know, lower case, or its suffix."""
    name = Path(path).name.lower()
    for ext in READ_EXTENSIONS:
        if name.endswith(ext):
            return ext
    return Path(name).suffix


def read_format(path: str | Path) -> Format:
    """The reader for ``path``: a folder is an OME-Zarr image (``multiscales`` metadata) or
    else a DICOM series; files go by extension.

    Raises:
        UnsupportedFormatError: for an extension napari-ifss does not read.
    """
    p = Path(path)
    if p.is_dir():
        from .ngff import is_ngff

        # a *.zarr folder is read as OME-Zarr (its error says what is missing), not DICOM
        return "ngff" if is_ngff(p) or p.name.lower().endswith(".zarr") else "dicom"
    fmt = READ_EXTENSIONS.get(extension_of(p))
    if fmt is None:
        raise UnsupportedFormatError(
            f"{p}: unsupported file type {extension_of(p) or '(no extension)'!r}; napari-ifss "
            f"reads {', '.join(READ_EXTENSIONS)} and DICOM series folders"
        )
    return fmt


def write_format(path: str | Path) -> Format:
    """The writer for ``path``.

    Raises:
        UnsupportedFormatError: for an extension napari-ifss does not write.
    """
    fmt = WRITE_EXTENSIONS.get(extension_of(path))
    if fmt is None:
        raise UnsupportedFormatError(
            f"{path}: cannot write {extension_of(path) or '(no extension)'!r}; napari-ifss "
            f"writes {', '.join(WRITE_EXTENSIONS)}"
        )
    return fmt
