"""One entry point for writing a layer; the extension picks the format."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedFormatError, WriteError
from .atomic import atomic_write
from .detect import write_format
from .itk import write_itk
from .layerdata import LayerData
from .ngff_labels import labels_destination, ngff_labels_target, write_ngff_labels
from .tiff import write_tiff


def write_layer(path: str | Path, layer: LayerData) -> list[Path]:
    """Write ``layer`` to ``path`` (.tif/.tiff/.ome.tif, .nii/.nii.gz, .mha/.mhd, .nrrd), or
    labels to ``<OME-Zarr image>/labels/<name>`` (an NGFF labels group, :mod:`.ngff_labels`);
    labels given the OME-Zarr image itself as ``path`` go to ``labels/<the layer's name>``
    there, and ``<image>/<name>.zarr`` to ``labels/<name>`` (replacing a label of that name:
    saving the same layer again).

    Scale/translate (and direction, where the format has one) are stored as spacing/origin.
    Everything is checked before anything is written, so a refused call leaves no file, and
    the file appears whole or not at all (:func:`.atomic.atomic_write`): a failure while
    writing leaves an existing file at ``path`` as it was.

    Returns:
        The paths written (two for ``.mhd``: header and pixel file).

    Raises:
        UnsupportedFormatError: an extension napari-ifss cannot write.
        InvalidInputError: 64-bit label ids too large for TIFF, a direction that is no rotation.
        WriteError: the folder does not exist or the file could not be written.
    """
    p = Path(path)
    # an NGFF labels group in an OME-Zarr image (an image layer there is refused by it)
    target = labels_destination(p, layer.name) if layer.kind == "labels" else \
        ngff_labels_target(p)
    if target is not None:
        return write_ngff_labels(*target, layer, overwrite=True)
    if layer.kind == "labels" and p.name.lower().endswith(".zarr"):
        raise UnsupportedFormatError(
            f"{p}: napari-ifss writes labels into an existing OME-Zarr image: give the "
            "image's .zarr folder (the labels go to labels/<layer name> there) or "
            "<image>.zarr/labels/<name>; it does not make new OME-Zarr files (save as .tif)")
    fmt = write_format(p)
    if layer.spatial_ndim == 4 and fmt != "tiff":
        raise UnsupportedFormatError(f"{p}: a 3D movie (T, Z, Y, X) is saved as .tif "
                                     "(OME-TIFF, axes TZYX), which opens again as a movie")
    if not p.parent.is_dir():
        raise WriteError(f"{p}: folder {p.parent} does not exist")
    writer = write_tiff if fmt == "tiff" else write_itk
    return atomic_write(p, lambda tmp: writer(tmp, layer))
