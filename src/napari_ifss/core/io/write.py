"""One entry point for writing a layer; the extension picks the format."""

from __future__ import annotations

from pathlib import Path

from ..errors import WriteError
from .detect import write_format
from .itk import write_itk
from .layerdata import LayerData
from .tiff import write_tiff


def write_layer(path: str | Path, layer: LayerData) -> list[Path]:
    """Write ``layer`` to ``path`` (.tif/.tiff/.ome.tif, .nii/.nii.gz, .mha/.mhd, .nrrd).

    Scale/translate (and direction, where the format has one) are stored as spacing/origin.
    Everything is checked before anything is written, so a refused call leaves no file.

    Returns:
        The paths written (two for ``.mhd``: header and pixel file).

    Raises:
        UnsupportedFormatError: an extension napari-ifss cannot write.
        InvalidInputError: 64-bit label ids too large for TIFF, a direction that is no rotation.
        WriteError: the folder does not exist or the file could not be written.
    """
    p = Path(path)
    fmt = write_format(p)
    if not p.parent.is_dir():
        raise WriteError(f"{p}: folder {p.parent} does not exist")
    if fmt == "tiff":
        return write_tiff(p, layer)
    return write_itk(p, layer)
