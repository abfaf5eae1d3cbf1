"""Which files are label maps, which dtype they get, and whether they fit an image.

A file is opened as labels when its name (without extension) contains one of the words
``label(s)``, ``seg``, ``segmentation(s)``, ``mask(s)`` as a separate word (``labels.tif``,
``cells_seg.nii.gz``, ``Mask-01.nrrd``; not ``segment.tif`` or ``labelled.tif``), or when the
caller asks for labels. Label content must be integral.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .layerdata import source_name

_LABEL_WORD = re.compile(r"(?<![a-z])(labels?|seg|segmentations?|masks?)(?![a-z])", re.IGNORECASE)


def looks_like_labels(path: str | Path) -> bool:
    """True when the file name marks a label map (see module docstring)."""
    return _LABEL_WORD.search(source_name(Path(path))) is not None


def as_label_array(data: np.ndarray, what: str = "data") -> np.ndarray:
    """``data`` as an integer label array napari accepts.

    Integer dtypes are kept; booleans become ``uint8``; floats whose values are all whole
    numbers become the smallest of ``int32``/``int64`` holding them.

    Raises:
        InvalidInputError: for non-integral or non-finite values (e.g. a probability map).
    """
    arr = np.asarray(data)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise InvalidInputError(
                f"{what}: labels must hold whole numbers, but the {arr.dtype} values are not "
                "integral (is this an image or a probability map?)"
            )
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        info = np.iinfo(np.int32)
        dtype = np.int32 if info.min <= lo and hi <= info.max else np.int64
        return arr.astype(dtype)
    raise InvalidInputError(f"{what}: dtype {arr.dtype} cannot hold labels")


def labels_or_image(data: np.ndarray, rgb: bool, by_name: bool, requested: bool, what: str):
    """Decide the layer kind of freshly read content; returns ``(data, kind)``.

    ``requested`` (the caller asked for labels) makes bad content an error; a name-based guess
    (``by_name``) that the content contradicts (colour, fractional values) falls back to an
    image with a warning.
    """
    if not (requested or by_name):
        return data, "image"
    if rgb:
        if requested:
            raise InvalidInputError(f"{what}: a colour image cannot be opened as labels")
        warnings.warn(f"{what}: name suggests labels but it is a colour image; opened as image",
                      stacklevel=3)
        return data, "image"
    try:
        return as_label_array(data, what), "labels"
    except InvalidInputError:
        if requested:
            raise
        warnings.warn(f"{what}: name suggests labels but values are not integral; opened as "
                      "image", stacklevel=3)
        return data, "image"


def check_labels_match(labels_shape: Sequence[int], image_shape: Sequence[int],
                       rgb: bool = False) -> None:
    """Raise unless a label map of ``labels_shape`` fits an image of ``image_shape``.

    For an RGB(A) image the colour axis is ignored.

    Raises:
        InvalidInputError: naming both shapes.
    """
    spatial = tuple(image_shape[:-1]) if rgb else tuple(image_shape)
    if tuple(labels_shape) != spatial:
        raise InvalidInputError(
            f"label shape {tuple(labels_shape)} does not match image shape {spatial}; "
            "labels must have one value per image voxel"
        )
