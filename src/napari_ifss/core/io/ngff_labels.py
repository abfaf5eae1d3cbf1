"""Labels saved into an OME-Zarr image as an NGFF ``labels`` group, so that napari-ome-zarr
and other NGFF tools find them with the image.

``<image>.zarr/labels/<name>`` is written as a one-level OME-Zarr label image of the image's
z, y, x axes (its time and channel axes dropped: one label map per image), on the image's
full-resolution grid (the level-0 scale and translation), in the image's NGFF version (0.4
as zarr v2, 0.5 as zarr v3), with ``image-label`` metadata pointing back at the image, and
``<name>`` listed in ``labels/``'s ``labels`` attribute. One chunk per z slice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, WriteError
from .layerdata import LayerData
from .ngff import NgffImage, is_ngff, open_ngff


def ngff_labels_target(path: str | Path) -> tuple[Path, str] | None:
    """``(image folder, label name)`` when ``path`` is ``<OME-Zarr image>/labels/<name>``,
    else None."""
    p = Path(path)
    if p.parent.name == "labels" and is_ngff(p.parent.parent):
        return p.parent.parent, p.name
    return None


def labels_destination(path: str | Path, layer_name: str) -> tuple[Path, str] | None:
    """``(image folder, label name)`` for labels written to ``path``: ``<image>/labels/<name>``
    (:func:`ngff_labels_target`), the OME-Zarr image itself (the layer's name) or
    ``<image>/<name>.zarr`` (a name typed inside the image's folder in a save dialog); None
    for any other path."""
    p = Path(path)
    target = ngff_labels_target(p)
    if target is not None:
        return target
    if is_ngff(p):
        return p, label_name(layer_name)
    if p.suffix.lower() == ".zarr" and is_ngff(p.parent):
        return p.parent, label_name(p.stem)
    return None


def label_name(layer_name: str) -> str:
    """A labels group name from a layer's name: path separators and characters zarr keys
    should not hold become ``_``; empty -> ``labels``."""
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", layer_name).strip(" .")
    reserved = name.lower() in ("zarr.json", "labels") or name.lower().startswith(".z")
    return "labels" if not name or reserved else name


def labels_shape(image: str | Path | NgffImage) -> tuple[int, ...]:
    """The shape labels must have to go into the OME-Zarr image: its z (when longer than 1),
    y and x at full resolution."""
    img = image if isinstance(image, NgffImage) else open_ngff(image)
    return tuple(img.shape[i] for i in _label_axes(img))


def _label_axes(img: NgffImage) -> list[int]:
    """The image's axes the labels keep: y, x and a z longer than 1."""
    return [i for i, a in enumerate(img.letters) if a in "YX" or (a == "Z" and img.shape[i] > 1)]


def check_labels_fit(image: str | Path | NgffImage, shape: tuple[int, ...]) -> None:
    """Raise :class:`InvalidInputError` unless labels of ``shape`` fit the image (checked
    before a run, so that nothing is computed for a file that cannot be written)."""
    want = labels_shape(image)
    if tuple(shape) != want:
        where = image.path if isinstance(image, NgffImage) else image
        raise InvalidInputError(f"labels of shape {tuple(shape)} do not fit image {where} "
                                f"(its z/y/x shape is {want})")


def write_ngff_labels(image: str | Path, name: str, layer: LayerData,
                      overwrite: bool = False) -> list[Path]:
    """Write ``layer`` (labels ``(Z, Y, X)`` or ``(Y, X)``) as ``<image>/labels/<name>``.

    Raises:
        InvalidInputError: not labels, or a shape other than the image's z, y, x.
        WriteError: the label exists (without ``overwrite``) or cannot be written.
    """
    import zarr

    image = Path(image)
    if layer.kind != "labels":
        raise InvalidInputError(f"{name}: only labels go into an OME-Zarr 'labels' group")
    img = open_ngff(image)
    check_labels_fit(img, tuple(layer.data.shape))
    meta, keep = img.meta, _label_axes(img)
    version = str(meta.get("version") or _version(image))
    scale, shift = img.transform()
    axes_meta = list(meta.get("axes") or [{"name": a.lower(), "type": "space"}
                                          for a in img.letters])
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": [scale[i] for i in keep]}]
    if any(shift[i] for i in keep):
        transforms.append({"type": "translation", "translation": [shift[i] for i in keep]})
    label_meta = {"multiscales": [{"version": version, "name": name,
                                   "axes": [axes_meta[i] for i in keep],
                                   "datasets": [{"path": "0",
                                                 "coordinateTransformations": transforms}]}],
                  "image-label": {"version": version, "source": {"image": "../../"}}}
    fmt = 3 if version.startswith("0.5") else 2
    try:
        labels_group = zarr.open_group(str(image / "labels"), mode="a", zarr_format=fmt)
        listed = list(_ome(dict(labels_group.attrs), fmt).get("labels", []))
        if name in listed and not overwrite:
            raise WriteError(f"{image}/labels/{name} exists; pass overwrite=True to replace it")
        group = zarr.open_group(str(image / "labels" / name), mode="w", zarr_format=fmt)
        data = np.asarray(layer.data)
        chunks = (1, *data.shape[1:]) if data.ndim == 3 else data.shape
        group.create_array("0", data=data, chunks=chunks)
        _set_ome(group, label_meta, fmt, version)
        _set_ome(labels_group, {"labels": [*[n for n in listed if n != name], name]}, fmt,
                 version)
    except (WriteError, InvalidInputError):
        raise
    except Exception as exc:
        raise WriteError(f"{image}/labels/{name}: could not write ({exc})") from exc
    return [image / "labels" / name]


def _version(image: Path) -> str:
    import zarr

    return "0.5" if zarr.open_group(str(image), mode="r").metadata.zarr_format == 3 else "0.4"


def _ome(attrs: dict[str, Any], fmt: int) -> dict[str, Any]:
    return dict(attrs.get("ome") or {}) if fmt == 3 else attrs


def _set_ome(group: Any, values: dict[str, Any], fmt: int, version: str) -> None:
    """Put NGFF metadata on ``group``: top level (0.4) or under ``ome`` (0.5)."""
    if fmt == 3:
        group.attrs["ome"] = {**_ome(dict(group.attrs), fmt), "version": version, **values}
    else:
        group.attrs.update(values)
