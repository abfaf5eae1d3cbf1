"""Axis-order conversion between ITK geometry and the core's array order.

Core code uses napari's data order: ``(row, col)`` in 2D and ``(z, row, col)`` in 3D, pixel
centres at integer positions. ITK / SimpleITK give spacing and origin in ``(x, y, z)`` order,
the reverse of the array axes ``(z, y, x)`` that ``GetArrayFromImage`` returns. (napari world
coordinates are converted by the layers' own ``world_to_data`` / ``data_to_world``, see
``_napari/slice_context.py``.)
"""

from __future__ import annotations

from collections.abc import Sequence


def itk_to_array_order(values_xyz: Sequence[float]) -> tuple[float, ...]:
    """ITK ``(x, y[, z])`` spacing/origin -> array order ``([z,] y, x)``."""
    return tuple(float(v) for v in reversed(tuple(values_xyz)))


def array_to_itk_order(values_zyx: Sequence[float]) -> tuple[float, ...]:
    """Array order ``([z,] y, x)`` -> ITK ``(x, y[, z])``."""
    return tuple(float(v) for v in reversed(tuple(values_zyx)))

