"""napari side of the public API (:mod:`napari_ifss.api`): find layers, write results back.

The API calls these only when napari is already imported (a viewer, napari's console or a
notebook using napari), so plain scripts never load Qt.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels, Layer

from ..core.errors import InvalidInputError, NotReadyError
from .labels_history import check_writable, write_labels

__all__ = ["check_writable", "find_layer", "is_labels_layer", "is_layer", "layer_names",
           "write_back"]
from .slice_context import full_resolution


def is_layer(obj: object) -> bool:
    """True for any napari layer."""
    return isinstance(obj, Layer)


def is_labels_layer(obj: object) -> bool:
    """True for a napari Labels layer."""
    return isinstance(obj, Labels)


def find_layer(name: str) -> Layer | None:
    """The layer called ``name`` in the current viewer, or None (no viewer, no such layer)."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None or name not in viewer.layers:
        return None
    return viewer.layers[name]


def layer_names() -> list[str]:
    """Names of the current viewer's layers (empty without a viewer)."""
    import napari

    viewer = napari.current_viewer()
    return [] if viewer is None else [ly.name for ly in viewer.layers]


def write_back(layer: Labels, new: np.ndarray) -> int:
    """Make the labels of ``layer`` (at full resolution) equal ``new`` in ONE undo step
    (Ctrl+Z restores it).

    Only the voxels that differ are written. Returns how many changed.

    Raises:
        InvalidInputError: ``new`` has another shape than the layer's data.
        NotReadyError: ``layer`` is not a Labels layer.
    """
    if not isinstance(layer, Labels):
        raise NotReadyError(f"layer {getattr(layer, 'name', layer)!r} is not a Labels layer")
    new, data = np.asarray(new), full_resolution(layer)
    if new.shape != tuple(np.shape(data)):
        raise InvalidInputError(
            f"result of shape {new.shape} does not fit labels layer {layer.name!r} of shape "
            f"{tuple(np.shape(data))}")
    changed = np.nonzero(np.asarray(data) != new)
    return write_labels(layer, changed, new[changed])
