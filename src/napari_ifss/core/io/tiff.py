"""TIFF and OME-TIFF via tifffile.

Reading: the first image series, in its stored axis order. Voxel size comes from OME-XML
(``PhysicalSizeZ/Y/X``, converted to micrometres) or ImageJ metadata (``spacing`` for z,
``XResolution``/``YResolution`` for y/x, in the file's unit); the origin from OME ``Plane``
positions or ImageJ ``xorigin``/``yorigin``/``zorigin``. Plain TIFFs get unit scale (their
resolution tags are usually print DPI, not microscope pixels).

Writing: OME-TIFF (readable by Fiji/Bio-Formats, napari, QuPath), zlib-compressed, with
``PhysicalSize*`` and ``Plane`` positions so that :func:`read_tiff` restores scale and
translate. OME has no 64-bit integers: such labels are stored as (u)int32 when their values
fit, else refused. Direction cosines cannot be stored (a warning says so).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..errors import IfssError, InvalidInputError, ReadError
from .axes import channel_axes, choose_planes, count_along, movie_axes, stack_geometry
from .dims import to_supported
from .guards import check_pixel_type, check_size
from .labels import labels_or_image, looks_like_labels
from .layerdata import MOVIE_AXES, LayerData, is_identity, source_name
from .units import to_micrometre


def read_tiff(path: str | Path, as_labels: bool = False, *, channel: int | None = None,
              time: int | str | None = None) -> LayerData:
    """Read a TIFF/OME-TIFF file.

    The axes come from the file (OME-XML, ImageJ hyperstack metadata, tifffile's own shape
    record): a file with several channels or time points opens the one chosen with
    ``channel=`` / ``time=`` (:func:`~.axes.choose_planes`); a stack of pages whose meaning the
    file does not state is read as z slices with a warning. Interleaved samples count as a
    colour only for an RGB photometric: a fluorescence image stored ``(Y, X, C)`` has channels.

    Args:
        path: the file.
        as_labels: open as labels (content must be integral) regardless of the file name.
        channel, time: which channel / time point to open (see above); ``time="all"``: every
            time point, of a file without z as the stack (axes ``TYX``), of a file with z as
            a 3D movie (``TZYX``).

    Returns:
        A :class:`LayerData` with data in ``(Z, Y, X)`` / ``(Y, X)`` / ``(Y, X, 3|4)`` order.

    Raises:
        ReadError: unreadable, truncated or corrupt file; a header claiming more pixels than
            fit in memory (refused before reading them).
        UnsupportedFormatError: more dimensions than 3D / 2D RGB after squeezing singletons;
            complex or other pixel types.
        InvalidInputError: ``as_labels`` with non-integral content.
    """
    return _to_layer(_read_series(Path(path)), as_labels, channel, time)


def read_tiff_channels(path: str | Path, as_labels: bool = False, *,
                       time: int | str | None = None) -> list[LayerData]:
    """Every channel of a TIFF as its own layer (:func:`read_tiff` with ``channel=c``),
    the file read once. Raises as :func:`read_tiff`."""
    raw = _read_series(Path(path))
    n = count_along(channel_axes(raw.axes, raw.data.shape, raw.colour, str(raw.path)),
                    raw.data.shape, "C")
    return [_to_layer(raw, as_labels, c, time) for c in range(n)]


@dataclass(frozen=True)
class _Series:
    """A TIFF's first image series as read, before any axis is chosen."""

    path: Path
    data: np.ndarray
    axes: str
    colour: bool  # interleaved samples are an RGB(A) colour
    geometry: tuple | None
    n_series: int


def _read_series(p: Path) -> _Series:
    try:
        with _TifffileErrors() as logged, tifffile.TiffFile(p) as tf:
            check_complete(tf, p)
            series = tf.series[0]
            colour = tf.pages[0].photometric in (tifffile.PHOTOMETRIC.RGB,
                                                 tifffile.PHOTOMETRIC.YCBCR)
            dtype = check_pixel_type(series.dtype, str(p))
            check_size(series.shape, dtype.itemsize, str(p))
            data = series.asarray()
            geometry = _ome_geometry(tf) if tf.is_ome else None
            if geometry is None and tf.is_imagej:
                geometry = _imagej_geometry(tf)
            raw = _Series(p, data, series.axes, colour, geometry, len(tf.series))
    except IfssError:
        raise
    except Exception as exc:  # tifffile raises many types for corrupt input
        reason = logged.messages[0] if logged.messages else f"{type(exc).__name__}: {exc}"
        raise ReadError(f"{p}: could not read as TIFF, damaged or not a TIFF ({reason})"
                        ) from exc
    if logged.messages:  # tifffile skips damaged tags/pages with an error log: refuse instead
        raise ReadError(f"{p}: damaged or truncated TIFF ({logged.messages[0]})")
    return raw


def _to_layer(raw: _Series, as_labels: bool, channel: int | None,
              time: int | str | None) -> LayerData:
    p = raw.path
    sizes, origin, metadata = raw.geometry if raw.geometry is not None else ({}, {}, {})
    metadata = dict(metadata)
    notes = [f"file holds {raw.n_series} image series; the first one was read"] \
        if raw.n_series > 1 else []
    choice = choose_planes(raw.data, raw.axes, str(p), channel=channel, time=time,
                           samples_are_colour=raw.colour)
    for note in choice.notes:
        warnings.warn(f"{p}: {note}", stacklevel=3)
    notes += choice.notes
    if notes:
        metadata["note"] = "; ".join(notes)
    metadata["file_axes"], metadata["axes"] = choice.file_axes, choice.axes
    metadata.update(choice.picked)
    colour = choice.axes.endswith("S")
    spatial_axes = choice.axes[:-1] if colour else choice.axes
    scale, translate = stack_geometry(spatial_axes, sizes, origin)
    data, scale_t, trans_t, rgb = to_supported(choice.data, scale, translate, colour,
                                               what=str(p), max_spatial=movie_axes(choice.axes))
    data, kind = labels_or_image(data, rgb, looks_like_labels(p), as_labels, str(p))
    metadata["source"] = str(p)
    return LayerData(data, kind, source_name(p), scale_t, trans_t, rgb=rgb, metadata=metadata)


def tiff_axes(path: str | Path) -> tuple[str, tuple[int, ...]]:
    """The axes and shape of a TIFF's first image series, from its header, with interleaved
    samples that are not a colour named ``C`` (:func:`~.axes.channel_axes`); no pixel is read.

    Raises:
        ReadError: not a readable TIFF.
    """
    p = Path(path)
    try:
        with tifffile.TiffFile(p) as tf:
            series = tf.series[0]
            colour = tf.pages[0].photometric in (tifffile.PHOTOMETRIC.RGB,
                                                 tifffile.PHOTOMETRIC.YCBCR)
            shape = tuple(int(n) for n in series.shape)
            return channel_axes(series.axes, shape, colour, str(p)), shape
    except IfssError:
        raise
    except Exception as exc:
        raise ReadError(f"{p}: could not read as TIFF ({type(exc).__name__}: {exc})") from exc


def write_tiff(path: str | Path, layer: LayerData) -> list[Path]:
    """Write ``layer`` as a zlib-compressed OME-TIFF; returns ``[path]``.

    Raises:
        InvalidInputError: 64-bit labels whose values do not fit 32 bits.
    """
    p = Path(path)
    data = _ome_dtype(layer.data, layer.name)
    if layer.direction is not None and not is_identity(np.asarray(layer.direction)):
        warnings.warn(f"{p}: TIFF cannot store the layer's rotated/flipped axes (direction); "
                      "only scale and translate are written", stacklevel=2)
    n = layer.spatial_ndim
    axes = {2: "YX", 3: "ZYX", 4: MOVIE_AXES}[n]  # 4: a 3D movie
    planes = int(np.prod(layer.spatial_shape[:-2]))
    scale = dict(zip(axes, layer.scale, strict=True))
    origin = dict(zip(axes, layer.translate, strict=True))
    meta: dict[str, Any] = {
        "axes": axes + ("S" if layer.rgb else ""),
        "Name": layer.name,
        "PhysicalSizeX": scale["X"], "PhysicalSizeY": scale["Y"],
        "Plane": {"PositionX": [origin["X"]] * planes, "PositionY": [origin["Y"]] * planes},
    }
    if n >= 3:
        depth = layer.spatial_shape[-3]
        meta["PhysicalSizeZ"] = scale["Z"]
        meta["Plane"]["PositionZ"] = [origin["Z"] + (i % depth) * scale["Z"]
                                      for i in range(planes)]
    tifffile.imwrite(
        p, data, ome=True, compression="zlib", metadata=meta,
        photometric="rgb" if layer.rgb else "minisblack",
        bigtiff=data.nbytes > 2**31,
    )
    return [p]


class _TifffileErrors(logging.Handler):
    """Collects the error messages tifffile logs (it logs, rather than raises, for damaged
    tags and pages) while the ``with`` block runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> _TifffileErrors:
        logging.getLogger("tifffile").addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger("tifffile").removeHandler(self)


def check_complete(tf: tifffile.TiffFile, path: Path) -> None:
    """Raise ReadError when a page's pixel data lies beyond the end of the file (truncated),
    or the chain of pages loops (tifffile would follow such a chain forever)."""
    size = tf.filehandle.size
    seen: set[int] = set()
    for page in tf.pages:
        offset = int(getattr(page, "offset", -1))
        if offset in seen or len(seen) > size // 12:  # an IFD takes at least 12 bytes
            raise ReadError(f"{path}: damaged TIFF (its chain of pages loops back to byte "
                            f"{offset})")
        seen.add(offset)
        offsets = getattr(page, "dataoffsets", ())
        counts = getattr(page, "databytecounts", ())
        for off, cnt in zip(offsets, counts, strict=False):
            if off + cnt > size:
                raise ReadError(f"{path}: file is truncated (pixel data ends at byte {off + cnt}, "
                                f"file has {size} bytes)")


def _ome_geometry(tf: tifffile.TiffFile):
    """``(sizes, origin, metadata)`` by axis letter from OME-XML, in micrometres."""
    pixels = tifffile.xml2dict(tf.ome_metadata)["OME"]["Image"]
    pixels = (pixels[0] if isinstance(pixels, list) else pixels)["Pixels"]
    sizes: dict[str, float] = {}
    metadata: dict[str, Any] = {"format": "OME-TIFF", "unit": "µm"}
    for a in "XYZ":
        value = pixels.get(f"PhysicalSize{a}")
        factor = to_micrometre(pixels.get(f"PhysicalSize{a}Unit"))
        if value is not None and factor is not None and float(value) > 0:
            sizes[a] = float(value) * factor
        elif value is not None:
            metadata["unit"] = None  # unknown unit: keep the numbers, but say we don't know
            sizes[a] = float(value)
    origin: dict[str, float] = {}
    plane = pixels.get("Plane")
    if isinstance(plane, list):
        plane = next((q for q in plane if q.get("TheZ", 0) == 0 and q.get("TheT", 0) == 0
                      and q.get("TheC", 0) == 0), plane[0])
    if isinstance(plane, dict):
        for a in "XYZ":
            if f"Position{a}" in plane:
                factor = to_micrometre(plane.get(f"Position{a}Unit")) or 1.0
                origin[a] = float(plane[f"Position{a}"]) * factor
    return sizes, origin, metadata


def _imagej_geometry(tf: tifffile.TiffFile):
    """``(sizes, origin, metadata)`` by axis letter from ImageJ metadata, in its unit."""
    ij = tf.imagej_metadata or {}
    tags = tf.pages[0].tags
    sizes: dict[str, float] = {}
    for a, tag in (("X", "XResolution"), ("Y", "YResolution")):
        if tag in tags:
            num, den = tags[tag].value
            if num > 0 and den > 0:
                sizes[a] = den / num
    if ij.get("spacing"):
        sizes["Z"] = float(ij["spacing"])
    origin = {a.upper(): -float(ij[f"{a}origin"]) * sizes.get(a.upper(), 1.0)
              for a in "xyz" if f"{a}origin" in ij}
    return sizes, origin, {"format": "ImageJ TIFF", "unit": ij.get("unit")}


def _ome_dtype(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` in a pixel type OME-TIFF can store (64-bit ints narrowed when they fit)."""
    arr = np.asarray(data)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    if arr.dtype in (np.int64, np.uint64):
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        for target in (np.int32, np.uint32):
            info = np.iinfo(target)
            if info.min <= lo and hi <= info.max:
                return arr.astype(target)
        raise InvalidInputError(f"{name}: values {lo}..{hi} do not fit the 32-bit integers "
                                "TIFF can store; save as .nii.gz, .mha or .nrrd instead")
    return arr
