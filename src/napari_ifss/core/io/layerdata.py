"""The in-memory result of reading a file: one array plus its geometry, as napari wants it.

Arrays are in napari's data order: ``(row, col)`` for 2D, ``(z, row, col)`` for 3D and
``(row, col, channel)`` for RGB(A). ``scale`` and ``translate`` have one entry per *spatial*
axis in the same order (so an RGB image has two). World coordinates of voxel ``i`` are
``direction @ (i * scale) + translate`` where ``direction`` is the identity unless the file
says otherwise (medical images with rotated or flipped axes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InvalidInputError

MOVIE_AXES = "TZYX"  # a 3D movie opened whole (time="all" on a file with z)

LayerKind = Literal["image", "labels"]


@dataclass(frozen=True, eq=False)
class LayerData:
    """One layer read from (or to be written to) a file.

    Attributes:
        data: ``(Y, X)``, ``(Z, Y, X)`` or RGB(A) ``(Y, X, 3|4)`` array.
        kind: ``"image"`` or ``"labels"`` (labels have an integer dtype, 0 is background).
        name: layer name (by default the file name without its extension).
        scale: voxel size per spatial axis, data order (e.g. ``(dz, dy, dx)``).
        translate: world position of voxel 0 per spatial axis, data order.
        rgb: True for an ``(Y, X, 3|4)`` colour image.
        direction: ``D x D`` direction cosines in data order, or None for the identity.
        metadata: free-form facts from the file (units, source path, series id, ...).
    """

    data: np.ndarray
    kind: LayerKind
    name: str
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    rgb: bool = False
    direction: tuple[tuple[float, ...], ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("image", "labels"):
            raise InvalidInputError(f"layer kind must be 'image' or 'labels', not {self.kind!r}")
        dtype = np.dtype(self.data.dtype)
        if dtype.kind not in "biuf" or dtype.fields is not None:
            hint = "; keep the magnitude (np.abs) or the real part" if dtype.kind == "c" else ""
            raise InvalidInputError(f"data of dtype {dtype} is not an image or labels; "
                                    f"napari-ifss handles integer, float and boolean arrays{hint}")
        n = self.spatial_ndim
        movie = n == 4 and self.metadata.get("axes") == MOVIE_AXES  # a 3D movie opened whole
        if (n not in (2, 3) and not movie) or (self.rgb and (n != 2 or self.data.shape[-1] not in (3, 4))):
            raise InvalidInputError(
                f"data of shape {self.data.shape} (rgb={self.rgb}) is not 2D, 3D, 2D RGB(A) or "
                "a 3D movie (axes TZYX)"
            )
        if 0 in self.data.shape:
            raise InvalidInputError(f"data of shape {self.data.shape} is empty")
        if len(self.scale) != n or len(self.translate) != n:
            raise InvalidInputError(
                f"scale {self.scale} and translate {self.translate} need {n} entries for "
                f"data of shape {self.data.shape}"
            )
        if any(not np.isfinite(s) or s <= 0 for s in self.scale):
            raise InvalidInputError(f"scale must be positive and finite, got {self.scale}")
        if self.direction is not None and np.asarray(self.direction).shape != (n, n):
            raise InvalidInputError(f"direction must be {n}x{n}, got {self.direction}")
        if self.kind == "labels" and not np.issubdtype(self.data.dtype, np.integer):
            raise InvalidInputError(f"labels need an integer dtype, got {self.data.dtype}")

    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        kind: LayerKind = "image",
        name: str = "",
        scale: tuple[float, ...] | None = None,
        translate: tuple[float, ...] | None = None,
        rgb: bool = False,
        direction: tuple[tuple[float, ...], ...] | None = None,
    ) -> LayerData:
        """Wrap an array; scale defaults to 1 and translate to 0 on every spatial axis."""
        arr = np.asarray(data)
        n = arr.ndim - 1 if rgb else arr.ndim
        return cls(
            arr, kind, name or kind,
            tuple(float(s) for s in scale) if scale is not None else (1.0,) * n,
            tuple(float(t) for t in translate) if translate is not None else (0.0,) * n,
            rgb=rgb, direction=direction,
        )

    @property
    def spatial_ndim(self) -> int:
        """Number of spatial axes: 2 or 3, 4 for a 3D movie (axes ``TZYX``)."""
        return self.data.ndim - 1 if self.rgb else self.data.ndim

    @property
    def axes(self) -> str:
        """The data's axis letters: ``"YX"``, ``"ZYX"``, ``"YXS"`` (colour samples last), or
        ``"TYX"`` / ``"TZYX"`` for the time points of a file opened whole (``time="all"``).
        A file's own axes (e.g. ``"TCZYX"``) and the time point / channel opened are in
        ``metadata["file_axes"]``, ``metadata["time"]`` and ``metadata["channel"]``."""
        stated = self.metadata.get("axes")
        if isinstance(stated, str) and len(stated) == self.data.ndim:
            return stated  # e.g. "TYX": time points opened as the stack
        return ("ZYX" if self.spatial_ndim == 3 else "YX") + ("S" if self.rgb else "")

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape without the colour axis."""
        return tuple(self.data.shape[: self.spatial_ndim])

    def napari_meta(self) -> dict[str, Any]:
        """Keyword arguments for the napari layer (``name``, ``scale``, ``translate``, ...).

        A non-identity ``direction`` becomes napari's ``affine`` so that the layer appears where
        the file places it: world = D (scale * i + translate) + (translate - D translate).
        """
        meta: dict[str, Any] = {
            "name": self.name,
            "scale": self.scale,
            "translate": self.translate,
            "metadata": dict(self.metadata),
        }
        if self.kind == "image":
            meta["rgb"] = self.rgb
        if "T" in self.axes:  # napari's slider says "t", not a z index
            meta["axis_labels"] = tuple(self.axes.lower()[: self.spatial_ndim])
        if self.direction is not None:
            d = np.asarray(self.direction, dtype=float)
            t = np.asarray(self.translate, dtype=float)
            affine = np.eye(d.shape[0] + 1)
            affine[:-1, :-1] = d
            affine[:-1, -1] = t - d @ t
            meta["affine"] = affine
        return meta


def source_name(path: Path) -> str:
    """A layer name from a file path: the name without (double) extensions like ``.nii.gz``."""
    name = path.name
    for ext in (".ome.tiff", ".ome.tif", ".nii.gz"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem if path.suffix else name


def is_identity(direction: np.ndarray, tol: float = 1e-6) -> bool:
    """True when a direction-cosine matrix is the identity (within ``tol``)."""
    d = np.asarray(direction, dtype=float)
    return bool(np.allclose(d, np.eye(d.shape[0]), atol=tol))


def spacing_of(scale: object) -> tuple[float, ...] | None:
    """The voxel size ``(z, y, x)``: the last three entries of a (napari layer's or
    :class:`LayerData`'s) ``scale`` as sizes (a flipped layer's negative scale counts by its
    size), or None for None or fewer than three entries."""
    if scale is None:
        return None
    values = tuple(abs(float(s)) for s in scale)  # type: ignore[attr-defined]
    return values[-3:] if len(values) >= 3 else None
