"""npe2 writers: save an Image or Labels layer with its geometry (see ``core.io.write``).

napari hands a writer the layer's data and its state dict (``scale``, ``translate``,
``rotate``, ``affine``, ...). A pure rotation/flip in ``rotate``/``affine`` becomes the file's
direction matrix (NIfTI/MHA/NRRD; TIFF keeps only scale and translate, with a warning);
shear cannot be stored and is dropped with a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InvalidInputError
from ..core.interactive.plane import is_time_label
from ..core.io import LayerData, write_layer
from ..core.io.labels import as_label_array
from ..core.io.layerdata import MOVIE_AXES


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write a Labels layer; returns the written paths."""
    arr = as_label_array(_full_resolution(data, meta), meta.get("name", "labels"))
    return _write(path, layer_from_meta(arr, "labels", meta))


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write an Image layer; returns the written paths."""
    return _write(path, layer_from_meta(_full_resolution(data, meta), "image", meta))


def _full_resolution(data: Any, meta: dict[str, Any]) -> np.ndarray:
    """The array to save: level 0 of a multiscale layer, else the data itself."""
    return np.asarray(data[0] if meta.get("multiscale") else data)


def layer_from_meta(data: np.ndarray, kind: str, meta: dict[str, Any]) -> LayerData:
    """Build a :class:`LayerData` from napari layer state.

    napari maps data to world as ``A (R Sh (scale * i) + translate) + a`` (``A``/``a`` the affine,
    ``R`` rotate, ``Sh`` shear). For a file we need spacing, origin (world position of voxel 0,
    ``A translate + a``) and direction (``A R``, when that is a rotation/flip).
    """
    rgb = bool(meta.get("rgb", False)) and kind == "image"
    n = data.ndim - 1 if rgb else data.ndim
    scale = np.asarray(meta.get("scale", np.ones(n)), dtype=float)[-n:]
    translate = np.asarray(meta.get("translate", np.zeros(n)), dtype=float)[-n:]
    affine = np.asarray(meta.get("affine", np.eye(n + 1)), dtype=float)[-n - 1 :, -n - 1 :]
    rotate = np.asarray(meta.get("rotate", np.eye(n)), dtype=float)[-n:, -n:]
    shear = np.asarray(meta.get("shear", np.zeros(n * (n - 1) // 2)), dtype=float)
    name = str(meta.get("name", kind))
    if shear.size and np.any(np.abs(shear) > 1e-9):
        warnings.warn(f"{name}: the layer's shear cannot be saved and is dropped", stacklevel=3)
    direction = affine[:n, :n] @ rotate
    origin = affine[:n, :n] @ translate + affine[:n, n]
    if not np.allclose(direction @ direction.T, np.eye(n), atol=1e-6):
        warnings.warn(f"{name}: the layer's affine transform is not a rotation/flip; only "
                      "scale and translate are saved", stacklevel=3)
        direction, origin = np.eye(n), translate
    direction_t = None
    if not np.allclose(direction, np.eye(n), atol=1e-9):
        direction_t = tuple(tuple(float(v) for v in row) for row in direction)
    metadata = {}
    if n == 4:  # a 3D movie when napari labels its first axis as time
        if not is_time_label((meta.get("axis_labels") or (None,))[0]):
            raise InvalidInputError(f"{name}: a 4D layer is saved as a 3D movie (T, Z, Y, X) "
                                    "when its first axis is labelled t or time")
        metadata["axes"] = MOVIE_AXES
    return LayerData(data, kind, name, tuple(scale), tuple(origin), rgb=rgb,  # type: ignore[arg-type]
                     direction=direction_t, metadata=metadata)


def _write(path: str, layer: LayerData) -> list[str]:
    return [str(p) for p in write_layer(Path(path), layer)]
