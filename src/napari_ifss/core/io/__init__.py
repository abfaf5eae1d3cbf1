"""Reading and writing images and label maps with their geometry (no napari needed).

    >>> from napari_ifss.core.io import read_layer, write_layer
    >>> layer = read_layer("stack.ome.tif")       # LayerData: data (Z, Y, X), scale, ...
    >>> write_layer("stack_labels.nii.gz", labels_layer)
"""

from .detect import READ_EXTENSIONS, WRITE_EXTENSIONS, extension_of, read_format, write_format
from .dicom import list_dicom_series, read_dicom_series
from .itk import read_itk, write_itk
from .labels import as_label_array, check_labels_match, looks_like_labels
from .layerdata import LayerData
from .read import read_layer, read_layers
from .tiff import read_tiff, write_tiff
from .write import write_layer

__all__ = [
    "READ_EXTENSIONS", "WRITE_EXTENSIONS", "LayerData", "as_label_array", "check_labels_match",
    "extension_of", "list_dicom_series", "looks_like_labels", "read_dicom_series", "read_format",
    "read_itk", "read_layer", "read_layers", "read_tiff", "write_format", "write_itk",
    "write_layer", "write_tiff",
]
