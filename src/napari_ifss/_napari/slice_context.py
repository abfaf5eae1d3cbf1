"""Which 2D slice of which image the user is looking at, and where their clicks land on it.

napari shows the two *displayed* world axes of ``viewer.dims`` (any order the user picks) at
the world position ``viewer.dims.point``. Here that view is turned into a core
:class:`~napari_ifss.core.interactive.plane.Plane` of the image layer's data, and point prompts (stored in
their own layer's data coordinates) are mapped world -> image data through the layers'
transforms (``data_to_world`` / ``world_to_data``: scale, translate, axis-aligned affines).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from napari.layers import Image, Layer, Points
from napari.viewer import Viewer

from ..core.channels import Channels
from ..core.errors import InvalidInputError, NotReadyError
from ..core.interactive.plane import Plane, axis_noun
from ..core.interactive.prompts import Click


def full_resolution(layer: Image) -> object:
    """The array the models read: level 0 of a multiscale layer (the pyramid is napari's, for
    display), else the layer's data. napari's data coordinates are level 0's."""
    return layer.data[0] if layer.multiscale else layer.data


def spatial_shape(layer: Image) -> tuple[int, ...]:
    """Shape of an image layer's spatial axes (RGB(A) channels excluded), at full resolution."""
    return tuple(int(n) for n in np.shape(full_resolution(layer))[: layer.ndim])  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class SliceContext:
    """The current 2D slice of ``layer``.

    Attributes:
        layer: the image layer.
        plane: the slice, in the layer's data axes.
        channels: other image layers on the same grid seen together with ``layer`` (its
            other channels; see :mod:`.channel_layers`).
        key: a session key unique to this layer, its data array, the plane and the channels.
    """

    layer: Image
    plane: Plane
    channels: tuple[Image, ...] = ()

    @property
    def key(self) -> Hashable:
        ids = tuple((ly.unique_id, id(full_resolution(ly))) for ly in self.channels)
        return (self.layer.unique_id, id(full_resolution(self.layer)), self.plane, *ids)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the slice."""
        full = spatial_shape(self.layer)
        return full[self.plane.axes[0]], full[self.plane.axes[1]]

    @property
    def description(self) -> str:
        """The plane in the user's words: "time point 3" on a time axis, else "slice 3"."""
        return self.plane.describe(getattr(self.layer, "axis_labels", None))

    def read(self) -> np.ndarray | Channels:
        """The slice's pixels: ``(H, W)`` or ``(H, W, 3|4)`` for RGB(A) layers, as a view:
        of the layer's numpy array, else lazy (dask). ``InteractiveSession.set_image`` reads
        it into memory unless the click model reads it region by region (large slices).
        With other ``channels``: :class:`~napari_ifss.core.channels.Channels` of the layer's
        slice and theirs, named by layer."""
        own = _slice_of(self.layer, self.plane)
        if not self.channels:
            return own
        return Channels((own, *(_slice_of(ly, self.plane) for ly in self.channels)),
                        names=tuple(ly.name for ly in (self.layer, *self.channels)))

    @property
    def layers(self) -> tuple[Image, ...]:
        """The image layer and its other channels, in the order :meth:`read` gives them."""
        return (self.layer, *self.channels)


def _slice_of(layer: Image, plane: Plane) -> object:
    """``plane`` of ``layer``'s full-resolution data: a numpy view, else a dask view."""
    data = full_resolution(layer)
    if not isinstance(data, np.ndarray):
        import dask.array as da

        data = data if isinstance(data, da.Array) else da.from_array(data, chunks="auto")
    return data[plane.slicer()]  # type: ignore[index]


def current_slice(viewer: Viewer, layer: Image) -> SliceContext:
    """The slice of ``layer`` shown in ``viewer`` right now.

    Raises:
        NotReadyError: in 3D display, or when the layer does not span both displayed axes.
        InvalidInputError: when the slice lies outside the data.
    """
    if viewer.dims.ndisplay != 2:
        raise NotReadyError("switch the viewer to 2D display to click on a slice")
    offset = viewer.dims.ndim - layer.ndim
    axes = [w - offset for w in viewer.dims.displayed if w - offset >= 0]
    if len(axes) != 2:
        raise NotReadyError(f"layer {layer.name!r} does not span the displayed axes")
    data_point = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)
    plane = Plane.through(data_point, axes)
    if not plane.inside(spatial_shape(layer)):
        raise InvalidInputError(
            f"the current position ({plane.description}) lies outside layer {layer.name!r}"
        )
    return SliceContext(layer, plane)


def points_in_image_data(points: Points, image: Image) -> np.ndarray:
    """All prompt points as ``(N, image.ndim)`` image data coordinates (world in between)."""
    out = np.empty((len(points.data), image.ndim), dtype=float)
    for i, p in enumerate(points.data):
        out[i] = image.world_to_data(points.data_to_world(p))
    return out


def point_indices_on(ctx: SliceContext, points: Points) -> list[int]:
    """Indices (in ``points.data`` order) of the prompts lying on the slice ``ctx``."""
    coords = points_in_image_data(points, ctx.layer)
    return [i for i, p in enumerate(coords) if ctx.plane.contains(p)]


def clicks_on(ctx: SliceContext, points: Points) -> tuple[list[Click], int]:
    """The prompts on slice ``ctx`` as clicks (oldest first) and the number outside the image.

    Polarity comes from the points' ``positive`` feature (True when the feature is missing).
    """
    coords = points_in_image_data(points, ctx.layer)
    positive = (
        points.features["positive"].to_numpy(dtype=bool)
        if "positive" in points.features
        else np.ones(len(coords), dtype=bool)
    )
    clicks, outside = [], 0
    for p, pos in zip(coords, positive, strict=True):
        if not ctx.plane.contains(p):
            continue
        row, col = ctx.plane.to_rowcol(p)
        click = Click(row, col, bool(pos))
        if click.inside(ctx.shape):
            clicks.append(click)
        else:
            outside += 1
    return clicks, outside


def show_slice(viewer: Viewer, layer: Layer, z: float | tuple[float, ...]) -> None:
    """Move ``viewer`` to slice ``z``: a data index on ``layer``'s first axis, or an index on
    its leading axes (e.g. a 3D movie's ``(t, z)``) (its scale, translate and position
    among the viewer's axes taken into account)."""
    lead = tuple(z) if isinstance(z, tuple) else (z,)
    world = layer.data_to_world([*lead] + [0] * (layer.ndim - len(lead)))
    axis = viewer.dims.ndim - layer.ndim
    for k in range(len(lead)):
        viewer.dims.set_point(axis + k, float(world[k]))


def stack_noun(layer: Layer | None, count: int = 1) -> str:
    """What a user calls the positions along ``layer``'s first axis (a ``(Z|T, Y, X)`` stack):
    "time point(s)" when napari labels it as time, else "slice(s)"."""
    labels = getattr(layer, "axis_labels", None) or (None,)
    return axis_noun(labels[0], count)
