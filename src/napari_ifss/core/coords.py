"""The one place where coordinate conventions are converted.

Core code uses napari's data order: ``(row, col)`` in 2D and ``(z, row, col)`` in 3D, pixel
centres at integer positions. Other conventions that meet the core are converted here only:

* napari world coordinates: ``world = data * scale + translate`` (per axis, data order);
* ITK / SimpleITK geometry: spacing and origin are given in ``(x, y, z)`` order, the reverse of
  the array axes ``(z, y, x)`` that ``GetArrayFromImage`` returns;
* (x, y) points, e.g. from OpenCV-style tools, are ``(col, row)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def world_to_data(
    point: Sequence[float], scale: Sequence[float], translate: Sequence[float]
) -> np.ndarray:
    """Map a world point to data coordinates of a layer with ``scale`` and ``translate``.

    All three sequences are in data axis order and of equal length.
    """
    p = np.asarray(point, dtype=float)
    return (p - np.asarray(translate, dtype=float)) / np.asarray(scale, dtype=float)


def data_to_world(
    point: Sequence[float], scale: Sequence[float], translate: Sequence[float]
) -> np.ndarray:
    """Inverse of :func:`world_to_data`."""
    p = np.asarray(point, dtype=float)
    return p * np.asarray(scale, dtype=float) + np.asarray(translate, dtype=float)


def itk_to_array_order(values_xyz: Sequence[float]) -> tuple[float, ...]:
    """ITK ``(x, y[, z])`` spacing/origin -> array order ``([z,] y, x)``."""
    return tuple(float(v) for v in reversed(tuple(values_xyz)))


def array_to_itk_order(values_zyx: Sequence[float]) -> tuple[float, ...]:
    """Array order ``([z,] y, x)`` -> ITK ``(x, y[, z])``."""
    return tuple(float(v) for v in reversed(tuple(values_zyx)))


def xy_to_rowcol(x: float, y: float) -> tuple[float, float]:
    """An ``(x, y)`` point (x along columns) -> ``(row, col)``."""
    return float(y), float(x)


def rowcol_to_xy(row: float, col: float) -> tuple[float, float]:
    """``(row, col)`` -> ``(x, y)``."""
    return float(col), float(row)
