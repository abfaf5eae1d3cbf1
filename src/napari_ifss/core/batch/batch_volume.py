"""Reading and writing the volumes of a batch run: every reader's format, plus zarr, streamed.

Inputs go through :func:`napari_ifss.open_image` (TIFF/OME-TIFF, NIfTI, MHA/MHD, NRRD, DICOM),
which reads a whole volume into memory, or, for a ``.zarr`` store (a zarr array, or an
OME-Zarr group whose first dataset is the full-resolution level), are opened lazily and read
one slice at a time. Labels outputs are written with the input's spacing, origin and
direction: a ``.zarr`` output slice by slice (chunks of one slice) into a temporary store
that is moved into place when complete; any other format is assembled in memory and written
through :func:`napari_ifss.save`. Either way an output appears complete or not at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IfssError, InvalidInputError, ReadError
from ..fewshot.support import check_labels_volume
from ..fewshot.volume_io import check_volume_shape
from ..io.atomic import atomic_write
from .batch_inputs import is_zarr


@dataclass(frozen=True)
class Geometry:
    """Voxel size, world position of voxel 0, direction cosines (None: identity), data order."""

    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    translate: tuple[float, ...] = (0.0, 0.0, 0.0)
    direction: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True)
class Volume:
    """An opened input: ``data`` ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)`` (numpy, or a lazily
    read zarr array) and its geometry."""

    data: Any
    geometry: Geometry
    path: Path


class _SliceReader:
    """A zarr array read one z slice at a time, read failures named as :class:`ReadError`."""

    def __init__(self, array: Any, path: Path) -> None:
        self.array, self.path = array, path
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), array.ndim

    def __getitem__(self, index: Any) -> np.ndarray:
        try:
            return np.asarray(self.array[index])
        except Exception as err:  # codecs and stores raise many types for damaged chunks
            raise ReadError(f"{self.path}: slice {index} could not be read ({err})") from err

    def __len__(self) -> int:
        return self.shape[0]


def _ome_dataset(path: Path) -> tuple[Any, Geometry]:
    """The first (full-resolution) array of an OME-Zarr group and its scale/translation
    (the metadata read by :mod:`napari_ifss.core.io.ngff`, the one OME-Zarr parser)."""
    from ..io.ngff import open_ngff

    try:
        image = open_ngff(path)
    except ReadError as err:
        raise ReadError(f"{path}: a zarr group must be OME-Zarr (multiscales) or hold an array; "
                        f"give the array's own path ({err})") from None
    scale, translate = image.transform()
    return image.array, _geometry(scale, translate, None, path)


def _geometry(scale: Any, translate: Any, direction: Any, path: Path) -> Geometry:
    """Geometry of the spatial axes ``(Z, Y, X)`` from attribute lists (missing: defaults);
    longer lists (OME axes such as ``c`` first) keep their last three entries."""
    n = 3
    try:
        s = tuple(float(v) for v in (scale or (1.0,) * n))[-n:]
        t = tuple(float(v) for v in (translate or (0.0,) * n))[-n:]
        d = None if direction is None else tuple(tuple(float(v) for v in row)
                                                 for row in direction)
    except (TypeError, ValueError):
        raise ReadError(f"{path}: scale/translate attributes must be lists of numbers") from None
    if len(s) != n or len(t) != n or any(not np.isfinite(v) or v <= 0 for v in s):
        raise ReadError(f"{path}: bad geometry attributes scale={scale} translate={translate}")
    if d is not None and np.asarray(d).shape != (n, n):
        raise ReadError(f"{path}: direction attribute must be 3x3, got {direction}")
    return Geometry(s, t, d)


def open_zarr(path: Path) -> tuple[Any, Geometry]:
    """A zarr store's array (lazy) and geometry (attributes ``scale``/``translate``/
    ``direction``, or OME-Zarr coordinate transformations).

    Raises:
        ReadError: not a zarr store, or attributes that make no sense.
    """
    import zarr

    if not path.exists():
        raise ReadError(f"{path}: no such file or folder")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:
        raise ReadError(f"{path}: not a readable zarr store ({err})") from err
    if isinstance(node, zarr.Group):
        return _ome_dataset(path)
    attrs = dict(node.attrs)
    return node, _geometry(attrs.get("scale"), attrs.get("translate"), attrs.get("direction"),
                           path)


def open_volume(path: str | os.PathLike) -> Volume:
    """An input volume: zarr lazily, anything else through :func:`napari_ifss.open_image`.

    Raises:
        ReadError, UnsupportedFormatError: unreadable or unknown input.
        InvalidInputError: not a ``(Z, Y, X)`` (or RGB ``(Z, Y, X, 3|4)``) volume.
    """
    from ...api import open_image

    p = Path(path)
    if is_zarr(p):
        array, geometry = open_zarr(p)
        data: Any = _SliceReader(array, p)
    else:
        layer = open_image(p)
        if layer.spatial_ndim != 3:
            raise InvalidInputError(f"{p}: expected a 3D volume (Z, Y, X); got shape "
                                    f"{layer.data.shape}")
        data = layer.data
        geometry = Geometry(tuple(layer.scale), tuple(layer.translate), layer.direction)
    check_volume_shape(tuple(data.shape))
    return Volume(data, geometry, p)


def open_labels(path: Path, shape: tuple[int, ...]) -> Any:
    """Labels ``(Z, Y, X)`` matching a volume of ``shape``: a labels file, a zarr store
    (lazy) or a saved session folder (its committed labels).

    Raises:
        ReadError: unreadable, or a session without labels.
        InvalidInputError: not integer, or another shape than the volume's.
    """
    from ...api import open_image
    from ..interactive.session_store import has_session, load_session

    if path.is_dir() and has_session(path):
        labels = load_session(path).labels
        if labels is None:
            raise ReadError(f"{path}: the saved session holds no labels; annotate and save "
                            "some slices first")
    elif is_zarr(path):
        labels = _SliceReader(open_zarr(path)[0], path)
    else:
        labels = open_image(path, as_labels=True).data
    check_labels_volume(labels)
    if tuple(labels.shape) != tuple(shape[:3]):
        raise InvalidInputError(f"labels {path} have shape {tuple(labels.shape)}; the image has "
                                f"{tuple(shape[:3])} (Z, Y, X)")
    return labels


def tree_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or of a folder's files (relative names and bytes, sorted).

    Raises:
        ReadError: missing or unreadable.
    """
    p = Path(path)
    digest = hashlib.sha256()
    if not p.exists():
        raise ReadError(f"{p}: no such file or folder")
    try:
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            if f != p:
                digest.update(f.relative_to(p).as_posix().encode() + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
    except IfssError:
        raise
    except OSError as err:
        raise ReadError(f"{p}: cannot be read ({err})") from err
    return digest.hexdigest()


def remove_output(path: Path) -> None:
    """Delete an output file or zarr folder (missing: nothing to do)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_labels(path: Path, shape: tuple[int, ...], dtype: np.dtype, geometry: Geometry,
                 fill: Callable[[Any], None]) -> Any:
    """Create labels ``shape`` at ``path``; ``fill(out)`` writes them slice by slice.

    ``.zarr``: ``out`` is a zarr array in a temporary store beside ``path`` (one chunk per
    slice), moved into place once ``fill`` returns. Other formats: ``out`` is a numpy array,
    then written by :func:`napari_ifss.save` (atomic too). Returns the labels, readable.
    """
    from ...api import save
    from ..io import LayerData

    if is_zarr(path):
        import zarr

        attrs = {"scale": list(geometry.scale), "translate": list(geometry.translate)}
        if geometry.direction is not None:
            attrs["direction"] = [list(r) for r in geometry.direction]

        def write(tmp: Path) -> None:
            fill(zarr.create_array(store=str(tmp), shape=shape, dtype=dtype, fill_value=0,
                                   chunks=(1, *shape[1:]), attributes=attrs))

        remove_output(path)
        atomic_write(path, write)
        return _SliceReader(zarr.open_array(str(path), mode="r"), path)
    out = np.zeros(shape, dtype=dtype)
    fill(out)
    save(path, LayerData(out, "labels", path.name.split(".")[0], geometry.scale,
                         geometry.translate, direction=geometry.direction))
    return out
