"""The Interactive dock's yellow preview layer: the object being clicked, on the image's grid.

A slice longer than :data:`~napari_ifss.core.pyramid.PYRAMID_ABOVE` gets a pyramid of strided
*views* of one uint8 array, so that napari draws a huge preview from a small level without copies (writing
the full level, :func:`~.slice_context.full_resolution`, updates them all). Masks are written
by :class:`PreviewSpans` only where the object is or was: the layer's zero array is never
written whole, so on a 20000 x 20000 slice its untouched pages cost no memory, and no
full-size mask is made.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image
from napari.viewer import Viewer

from ..core.interactive.plane import Plane
from ..core.pyramid import strided_levels
from ..core.spans import span_above
from .slice_context import full_resolution, spatial_shape

Span = tuple[int, int, int, int]  # (r0, r1, c0, c1), half-open

def preview_levels(shape: tuple[int, ...]) -> list[np.ndarray]:
    """The preview layer's data: one zero uint8 array of ``shape``; for slices longer than
    :data:`~napari_ifss.core.pyramid.PYRAMID_ABOVE` also strided *views* of it, 2x coarser
    each down to ~1024 px, so that napari draws a huge preview from a small level (no copies:
    writing the full level updates them all)."""
    return strided_levels(shape, np.uint8)


def zero_layer_data(shape: tuple[int, ...], dtype: np.dtype | type) -> dict[str, object]:
    """``data`` and ``multiscale`` for a new zero layer of ``shape``: one array, or for a
    huge slice a pyramid of views of it (:func:`~napari_ifss.core.pyramid.strided_levels`)."""
    levels = strided_levels(shape, dtype)
    return {"data": levels if len(levels) > 1 else levels[0], "multiscale": len(levels) > 1}


def add_preview_layer(viewer: Viewer, image: Image, name: str) -> Image:
    """A zero preview layer named ``name`` over ``image`` (its scale and translation): yellow,
    additive, half transparent, values 0 / 1."""
    return viewer.add_image(
        **zero_layer_data(spatial_shape(image), np.uint8), name=name, scale=image.scale,
        translate=image.translate, colormap="yellow", blending="additive", opacity=0.5,
        contrast_limits=(0, 1))


class PreviewSpans:
    """Writes the object of each plane into a preview layer, touching only the span of the
    object shown there before and of the new one."""

    def __init__(self) -> None:
        self._spans: dict[Plane, Span] = {}

    def show(self, layer: Image, plane: Plane, prob: np.ndarray, threshold: float) -> None:
        """Show ``prob > threshold`` (``prob`` ``(H, W)``) on ``plane`` of ``layer``."""
        view = full_resolution(layer)[plane.slicer()]
        old = self._spans.pop(plane, None)
        if old is not None:
            view[old[0]:old[1], old[2]:old[3]] = 0
        new = span_above(prob, threshold)
        if new is not None:
            r0, r1, c0, c1 = new
            view[r0:r1, c0:c1] = np.asarray(prob[r0:r1, c0:c1]) > threshold
            self._spans[plane] = new

    def clear(self, layer: Image) -> None:
        """Remove every object shown (the layer becomes all zeros again)."""
        data = full_resolution(layer)
        for plane, (r0, r1, c0, c1) in self._spans.items():
            data[plane.slicer()][r0:r1, c0:c1] = 0
        self._spans.clear()
