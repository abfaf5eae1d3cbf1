"""Writing an OME-Zarr (OME-NGFF 0.4 or 0.5) image pyramid of synthetic data, for tests,
benchmarks and the documentation's screenshots (users bring their own OME-Zarr files; the
plugin only writes *labels* into them, :mod:`napari_ifss.core.io.ngff_labels`).

Level ``k`` takes every ``2**k``-th pixel of level 0 in y and x, written band by band so that
a large level 0 is never copied whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

SPACE_UM = {"type": "space", "unit": "micrometer"}


def ngff_axes(letters: str) -> list[dict]:
    """NGFF axis entries for ``letters`` (e.g. ``"CZYX"``): c a channel axis, t time, the
    others space in micrometres."""
    kinds = {"C": {"type": "channel"}, "T": {"type": "time"}}
    return [{"name": letter.lower(), **kinds.get(letter, SPACE_UM)} for letter in letters]


def write_ngff_image(path: str | Path, data: np.ndarray, axes: Sequence[dict],
                     scale: Sequence[float], *, version: str = "0.4", levels: int = 2,
                     translation: Sequence[float] | None = None, name: str = "cells") -> Path:
    """Write ``data`` (axes as ``axes``, NGFF entries) as an OME-Zarr image of ``levels``
    resolution levels at ``path``; ``scale`` (one per axis) is level 0's voxel size."""
    import zarr

    fmt = 2 if version == "0.4" else 3
    group = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    datasets = []
    for k in range(levels):
        step = 2 ** k
        shape = (*data.shape[:-2], -(-data.shape[-2] // step), -(-data.shape[-1] // step))
        chunks = (1,) * (data.ndim - 2) + tuple(min(n, 1024) for n in shape[-2:])
        level = group.create_array(str(k), shape=shape, dtype=data.dtype, chunks=chunks)
        band = 1024 * step
        for top in range(0, data.shape[-2], band):
            level[..., top // step:(top + band) // step, :] = \
                data[..., top:top + band:step, ::step]
        s = [*scale[:-2], scale[-2] * step, scale[-1] * step]
        transforms: list[dict] = [{"type": "scale", "scale": s}]
        if translation is not None:
            transforms.append({"type": "translation", "translation": list(translation)})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    multiscales = [{"version": version, "name": name, "axes": list(axes),
                    "datasets": datasets}]
    if version == "0.4":
        group.attrs["multiscales"] = multiscales
    else:
        group.attrs["ome"] = {"version": version, "multiscales": multiscales}
    return Path(path)
