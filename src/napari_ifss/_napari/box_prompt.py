"""The Interactive dock's box prompt: drag a rectangle around an object as its first prompt.

"Draw box" puts an "ifss box" Shapes layer (same scale and translate as the image) in
rectangle mode. A rectangle lies on the slice it was drawn on; each slice keeps at most one
(drawing another replaces it). Its corners are mapped world -> image data like the point
prompts (:mod:`.slice_context`) and become a :class:`~napari_ifss.core.interactive.prompts.Box` in the
slice's ``(row, col)`` pixel-edge coordinates: napari puts pixel ``r`` at ``r - 0.5 .. r + 0.5``,
a Box at ``r .. r + 1``, so each corner moves by half a pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from magicgui.widgets import PushButton
from napari.layers import Image, Shapes
from napari.utils.events import Event
from napari.viewer import Viewer

from ..core.interactive.prompts import Box
from .slice_context import SliceContext

BOX_NAME = "ifss box"
TOOLTIP = "Drag a rectangle around the object as its first prompt; then correct with clicks"


def box_corners_on(ctx: SliceContext, layer: Shapes, index: int) -> Box | None:
    """Shape ``index`` of ``layer`` as a Box on ``ctx``'s slice, or None when it lies on
    another slice."""
    rows, cols = [], []
    for vertex in np.asarray(layer.data[index], dtype=float):
        p = np.asarray(ctx.layer.world_to_data(layer.data_to_world(vertex)), dtype=float)
        if not ctx.plane.contains(p):
            return None
        r, c = ctx.plane.to_rowcol(p)
        rows.append(r)
        cols.append(c)
    return Box(min(rows) + 0.5, min(cols) + 0.5, max(rows) + 0.5, max(cols) + 0.5)


class BoxPrompt:
    """The "Draw box" button and the rectangles layer it draws into.

    Args:
        viewer: the napari viewer.
        image: returns the image being segmented (None: nothing to draw on).
        current: returns the slice shown now (None: not a 2D view of the image).
        on_change: called after a rectangle was drawn, replaced or removed.
        on_status: shows a line in the dock's status.
        takes_boxes: whether the click model was trained for box prompts.
    """

    def __init__(self, viewer: Viewer, image: Callable[[], Image | None],
                 current: Callable[[], SliceContext | None], on_change: Callable[[], None],
                 on_status: Callable[[str], None],
                 takes_boxes: Callable[[], bool] = lambda: True) -> None:
        self.viewer = viewer
        self._image, self._current, self._takes_boxes = image, current, takes_boxes
        self._on_change, self._on_status = on_change, on_status
        self.layer: Shapes | None = None
        self._updating = False
        self.button = PushButton(text="Draw box")
        self.button.tooltip = TOOLTIP
        self.button.changed.connect(self.start)

    def start(self) -> None:
        """Select the rectangles layer (made on first use) in rectangle-drawing mode."""
        image = self._image()
        if image is None:
            self._on_status("open an image to draw a box on")
            return
        if not self._takes_boxes():
            self._on_status("this click model was not trained for boxes: start with a click")
            return
        layer = self._layer_for(image)
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        self._on_status("drag a rectangle around the object, then click to correct it")

    def _layer_for(self, image: Image) -> Shapes:
        if self.layer is not None and self.layer.metadata.get("ifss_image") is image \
                and self.layer in self.viewer.layers:
            return self.layer
        self.remove_layer()
        layer = Shapes(ndim=image.ndim, scale=image.scale, translate=image.translate,
                       name=BOX_NAME, edge_color="yellow", face_color=[0, 0, 0, 0],
                       edge_width=1)
        layer.metadata["ifss_image"] = image
        self.viewer.add_layer(layer)
        layer.events.data.connect(self._on_data)
        self.layer = layer
        return layer

    def remove_layer(self) -> None:
        """Remove the rectangles layer (when the dock's image changes)."""
        layer, self.layer = self.layer, None
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def indices_on(self, ctx: SliceContext) -> list[int]:
        """Indices of the rectangles lying on ``ctx``'s slice (oldest first)."""
        if self.layer is None:
            return []
        return [i for i in range(len(self.layer.data))
                if box_corners_on(ctx, self.layer, i) is not None]

    def box_on(self, ctx: SliceContext) -> Box | None:
        """The box of ``ctx``'s slice (its newest rectangle), or None."""
        on = self.indices_on(ctx)
        return None if not on else box_corners_on(ctx, self.layer, on[-1])

    def _remove(self, indices: list[int]) -> None:
        if self.layer is None or not indices:
            return
        self._updating = True
        try:
            self.layer.selected_data = set(indices)
            self.layer.remove_selected()
        finally:
            self._updating = False

    def remove_on(self, ctx: SliceContext) -> bool:
        """Remove the box of ``ctx``'s slice; True when there was one."""
        on = self.indices_on(ctx)
        self._remove(on)
        return bool(on)

    def clear(self) -> None:
        """Remove every rectangle (a new object starts without a box)."""
        if self.layer is not None:
            self._remove(list(range(len(self.layer.data))))

    def _on_data(self, event: Event) -> None:
        if self._updating or str(event.action) not in ("added", "removed", "changed"):
            return
        ctx = self._current()
        if ctx is not None and str(event.action) == "added":
            self._remove(self.indices_on(ctx)[:-1])  # one box per object: the newest wins
        self._on_change()
