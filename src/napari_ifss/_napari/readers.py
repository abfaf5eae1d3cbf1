"""npe2 reader: napari opens our formats through :func:`napari_ifss.core.io.read_layers`.

``get_reader`` claims files by extension, OME-Zarr folders (opened lazily, one layer per
channel, its resolution levels as a multiscale layer) and folders that hold a DICOM series. Reading a
broken file raises the core's :class:`~napari_ifss.core.errors.ReadError` (napari shows its
message, which names the file) rather than returning garbage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import UnsupportedFormatError
from ..core.io import list_dicom_series, read_format, read_layers
from ..core.io.layerdata import LayerData
from ..core.io.ngff import ngff_pyramid

LayerDataTuple = tuple[Any, dict[str, Any], str]
ReaderFunction = Callable[[str | list[str]], list[LayerDataTuple]]


def get_reader(path: str | list[str]) -> ReaderFunction | None:
    """Return :func:`read_paths` when every path is one of ours, else None (napari asks the
    next plugin)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths or not all(_is_ours(p) for p in paths):
        return None
    return read_paths


def read_paths(path: str | list[str]) -> list[LayerDataTuple]:
    """Read one or several paths into napari layer-data tuples ``(data, meta, layer_type)``;
    a file with several channels gives one layer per channel (core ``read_layers``)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    return [to_layer_tuple(layer) for p in paths for layer in read_layers(p)]


def to_layer_tuple(layer: LayerData) -> LayerDataTuple:
    """A :class:`LayerData` as napari's ``(data, meta, layer_type)``; an OME-Zarr image with
    several resolution levels becomes a multiscale layer (its pyramid for display; the models
    read level 0)."""
    levels = ngff_pyramid(layer) if layer.kind == "image" else [layer.data]
    if len(levels) > 1:  # (labels stay one level: the docks paint and read them as arrays)
        return levels, {**layer.napari_meta(), "multiscale": True}, layer.kind
    return layer.data, layer.napari_meta(), layer.kind


def _is_ours(path: str | Path) -> bool:
    """True for files with one of our extensions and folders holding a DICOM series."""
    p = Path(path)
    try:
        fmt = read_format(p)
    except UnsupportedFormatError:
        return False
    if fmt == "ngff":
        return True
    if p.is_dir():
        try:
            return bool(list_dicom_series(p))
        except OSError:
            return False
    return True
