"""OME-Zarr (OME-NGFF 0.4 and 0.5) images, opened lazily.

An OME-Zarr image is a zarr group whose ``multiscales`` metadata lists its resolution levels
(finest first), its named axes (``t``, ``c``, ``z``, ``y``, ``x`` with their types and units)
and each level's scale and translation. :func:`read_ngff` opens level 0 (the full resolution
the models read) as a dask array: no pixel is read until a slice is used; the scale and origin
of that level become the layer's geometry (in micrometres when the units say so).

Why not ome-zarr-py or bioio-ome-zarr: both pull in an S3 stack (s3fs, aiobotocore,
botocore) and pin pydantic below the version napari runs with here, for what is one small,
documented JSON document; zarr-python (already needed) and dask open the arrays.

:func:`ngff_pyramid` gives all levels for display (napari's reader makes a multiscale layer;
the models read its level 0). Labels are written as an NGFF ``labels`` group by
:mod:`.ngff_labels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReadError, UnsupportedFormatError
from .axes import choose_planes, movie_axes, stack_geometry
from .dims import to_supported
from .labels import looks_like_labels
from .layerdata import LayerData, source_name
from .units import to_micrometre


def is_ngff(path: str | Path) -> bool:
    """True for a folder holding an OME-Zarr image (``multiscales`` in its zarr metadata)."""
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        return _multiscales(p) is not None
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _attributes(path: Path) -> dict[str, Any]:
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a folder that is not a group
        raise ReadError(f"{path}: not a zarr group ({type(exc).__name__}: {exc})") from exc
    return dict(group.attrs)


def _image_metadata(path: Path) -> tuple[Path, dict[str, Any] | None]:
    """``(image group, its first multiscales entry or None)``: ``path`` itself, or its image
    ``0`` in a bioformats2raw layout (``bioformats2raw.layout`` at the root)."""
    attrs = _attributes(path)
    ome = attrs.get("ome", attrs)  # 0.5 nests the metadata under "ome"
    if isinstance(ome, dict) and "bioformats2raw.layout" in ome and (path / "0").is_dir():
        return _image_metadata(path / "0")
    multiscales = ome.get("multiscales") if isinstance(ome, dict) else None
    return path, (multiscales[0] if multiscales else None)


def _multiscales(path: Path) -> dict[str, Any] | None:
    return _image_metadata(path)[1]


def _letter(axis: dict[str, Any], path: Path) -> str:
    """One axis's letter: T for time, C for channel, Z/Y/X for space (by name).

    Raises:
        UnsupportedFormatError: any other axis (named in the message)."""
    kind, name = str(axis.get("type", "")).lower(), str(axis.get("name", "")).lower()
    if kind == "time" or name == "t":
        return "T"
    if kind == "channel" or name == "c":
        return "C"
    if name in ("z", "y", "x"):
        return name.upper()
    raise UnsupportedFormatError(
        f"{path}: axis {axis.get('name')!r} ({axis.get('type') or 'no type'}) is not one "
        "napari-ifss reads; it reads time, channel, z, y and x")


@dataclass(frozen=True)
class NgffImage:
    """An OME-Zarr image, opened once: its metadata and its level-0 (zarr) array.

    Attributes:
        path: the image group (the ``0`` image of a bioformats2raw layout).
        meta: its first ``multiscales`` entry.
        array: level 0, a zarr array (nothing read).
        letters: one axis letter per dimension (``T``, ``C``, ``Z``, ``Y``, ``X``).
    """

    path: Path
    meta: dict[str, Any]
    array: Any
    letters: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.array.shape)

    def transform(self) -> tuple[list[float], list[float]]:
        """Level 0's per-axis scale and translation (:func:`level_transform`)."""
        return level_transform(self.meta["datasets"][0], self.array.ndim, self.meta)

    @property
    def levels(self) -> int:
        """Number of resolution levels."""
        return len(self.meta["datasets"])

    def level(self, k: int) -> Any:
        """Resolution level ``k`` (0: full resolution), a zarr array (nothing read).

        Raises:
            ReadError: the level cannot be opened or has other axes than level 0.
        """
        if k == 0:
            return self.array
        import zarr

        path = self.path / str(self.meta["datasets"][k]["path"])
        try:
            array = zarr.open_array(str(path), mode="r")
        except Exception as exc:
            raise ReadError(f"{self.path}: level {k} cannot be opened ({exc})") from exc
        if array.ndim != self.array.ndim:
            raise ReadError(f"{self.path}: level {k} has {array.ndim} axes, level 0 "
                            f"{self.array.ndim}")
        return array


def open_ngff(path: str | Path) -> NgffImage:
    """Open the OME-Zarr image at ``path`` (metadata and the level-0 array; no pixel read).

    Raises:
        ReadError: not a zarr group, no ``multiscales`` metadata, a level missing.
        UnsupportedFormatError: an axis napari-ifss does not read.
    """
    import zarr

    p, meta = _image_metadata(Path(path))
    if meta is None:
        raise ReadError(f"{path}: a zarr folder without OME-Zarr 'multiscales' metadata; open "
                        "a plain zarr array with dask.array.from_zarr and pass it as an image")
    datasets = list(meta.get("datasets") or [])
    if not datasets:
        raise ReadError(f"{p}: OME-Zarr metadata lists no resolution level")
    try:
        array = zarr.open_array(str(p / str(datasets[0]["path"])), mode="r")
    except Exception as exc:
        raise ReadError(f"{p}: level {datasets[0].get('path')!r} cannot be opened ({exc})"
                        ) from exc
    axes_meta = list(meta.get("axes") or [])
    letters = "".join(_letter(a, p) for a in axes_meta) if axes_meta else "TCZYX"[-array.ndim:]
    return NgffImage(p, meta, array, letters)


def ngff_axes(path: str | Path) -> tuple[str, tuple[int, ...]]:
    """The axis letters and shape of level 0 of the OME-Zarr image at ``path`` (metadata
    only; no pixel is read).

    Raises:
        ReadError, UnsupportedFormatError: as :func:`open_ngff`."""
    image = open_ngff(path)
    return image.letters, image.shape


def read_ngff(path: str | Path, as_labels: bool = False, *, channel: int | None = None,
              time: int | str | None = None) -> LayerData:
    """Open level 0 of the OME-Zarr image at ``path`` lazily (a dask array).

    Args:
        path: the image's zarr folder (e.g. ``cells.ome.zarr`` or ``plate.zarr/A/1/0``).
        as_labels: open as labels (integer content required).
        channel, time: which channel / time point (:func:`~.axes.choose_planes`).

    Raises:
        ReadError: not a zarr group, no ``multiscales`` metadata, a level missing.
        UnsupportedFormatError: axes napari-ifss does not read, several channels or time
            points without a choice.
    """
    import dask.array as da

    p = Path(path)
    image = open_ngff(p)
    letters, axes_meta = image.letters, list(image.meta.get("axes") or [])
    scale_all, shift_all = image.transform()
    choice = choose_planes(da.from_zarr(image.array), letters, str(p), channel=channel,
                           time=time)
    spatial = [letters.index(a) for a in choice.axes]
    unit, factors = _units([axes_meta[i] if axes_meta else {} for i in spatial])
    sizes = {letters[i]: scale_all[i] * f for i, f in zip(spatial, factors, strict=True)}
    origin = {letters[i]: shift_all[i] * f for i, f in zip(spatial, factors, strict=True)}
    scale, translate = stack_geometry(choice.axes, sizes, origin)
    arr, scale_t, trans_t, _ = to_supported(choice.data, scale, translate, False, what=str(p),
                                            max_spatial=movie_axes(choice.axes))
    kind = "labels" if as_labels or looks_like_labels(p) else "image"
    if kind == "labels" and arr.dtype.kind not in "iub":
        raise UnsupportedFormatError(f"{p}: labels need integers, the array holds {arr.dtype}")
    metadata = {"format": "OME-Zarr", "unit": unit, "file_axes": choice.file_axes,
                "axes": choice.axes, "source": str(p),
                "levels": image.levels, **choice.picked}
    name = str(image.meta.get("name")
               or source_name(p).removesuffix(".ome").removesuffix(".zarr"))
    return LayerData(arr, kind, name, scale_t, trans_t, metadata=metadata)


def ngff_pyramid(layer: LayerData) -> list[Any]:
    """For display: every resolution level of the OME-Zarr image ``layer`` was read from
    (:func:`read_ngff`; its ``metadata`` names the source and the channel / time picked), the
    same choice applied to each, finest first, as lazy dask arrays (napari's multiscale data,
    with level 0's geometry). ``[layer.data]`` when there is one level.

    Raises:
        ReadError: a level cannot be opened.
    """
    import dask.array as da

    meta = layer.metadata
    if meta.get("format") != "OME-Zarr" or int(meta.get("levels", 1)) <= 1:
        return [layer.data]
    image = open_ngff(meta["source"])
    levels = [layer.data]
    for k in range(1, image.levels):
        choice = choose_planes(da.from_zarr(image.level(k)), image.letters, str(image.path),
                               channel=meta.get("channel"), time=meta.get("time"))
        ones = [1.0] * len(choice.axes)
        level = to_supported(choice.data, ones, [0.0] * len(ones), False,
                             what=str(image.path), max_spatial=movie_axes(choice.axes))[0]
        if level.ndim != layer.data.ndim:  # an axis shrunk to one pixel: no coarser level
            break
        levels.append(level)
    return levels


def level_transform(level: dict[str, Any], ndim: int, meta: dict[str, Any]
                    ) -> tuple[list[float], list[float]]:
    """Per-axis scale and translation of a level (its own transforms, then the image's)."""
    scale, shift = [1.0] * ndim, [0.0] * ndim
    for transforms in (level.get("coordinateTransformations") or [],
                       meta.get("coordinateTransformations") or []):
        for t in transforms:
            if t.get("type") == "scale" and len(t.get("scale", [])) == ndim:
                shift = [s * float(v) for s, v in zip(shift, t["scale"], strict=True)]
                scale = [s * float(v) for s, v in zip(scale, t["scale"], strict=True)]
            elif t.get("type") == "translation" and len(t.get("translation", [])) == ndim:
                shift = [s + float(v) for s, v in zip(shift, t["translation"], strict=True)]
    return scale, shift


def _units(axes: list[dict[str, Any]]) -> tuple[str | None, list[float]]:
    """``(unit, factor per axis)``: micrometres when every space axis names a known length
    unit (each converted by its own), else the numbers as stored and None. Time axes (the
    stack of a movie) keep factor 1."""
    factors = [1.0 if a.get("type") == "time" else
               (to_micrometre(unit) if (unit := str(a.get("unit", "")).lower()) else None)
               for a in axes]  # no unit: unknown (not OME-XML's micrometre default)
    if any(a.get("type") != "time" for a in axes) and None not in factors:
        return "µm", factors
    return None, [1.0] * len(axes)
