"""Other channels of an image in the viewer: the image layers the click model may look at
together with the one the user clicks on.

napari shows a multichannel image as one layer per channel (``add_image(channel_axis=...)``,
named ``"cells"``, ``"cells [1]"``, ...; our reader names them ``"cells [channel 0]"``, ...).
A layer can be used with the clicked image when it lies on the same grid: same spatial shape,
scale and translation, and is not an RGB(A) layer or one of ours. By default the layers of the
same image (the same name before the ``[...]`` suffix) are used; the user changes the choice
in the *other channels* list of the Interactive and Few-shot docks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from magicgui.widgets import Select
from napari.layers import Image
from napari.viewer import Viewer

from .slice_context import spatial_shape

CLICK_TOOLTIP = ("other channels of this image that the model also looks at (each with its own "
                 "brightness); it outlines the object from the channel that shows it best. "
                 "Ctrl+click to add or remove one; none selected: only the image above")
_SUFFIX = re.compile(r"\s*\[(channel\s+)?\d+\]$")


def channel_stem(name: str) -> str:
    """A layer name without napari's ``" [k]"`` or our ``" [channel k]"`` suffix."""
    return _SUFFIX.sub("", name)


def on_same_grid(a: Image, b: Image) -> bool:
    """Whether two image layers cover the same pixels (shape, scale, translation)."""
    return (spatial_shape(a) == spatial_shape(b)
            and np.allclose(np.asarray(a.scale), np.asarray(b.scale))
            and np.allclose(np.asarray(a.translate), np.asarray(b.translate)))


def channel_candidates(viewer: Viewer, image: Image | None,
                       exclude: Sequence[object] = ()) -> list[Image]:
    """Image layers of ``viewer`` that can be used as other channels of ``image``."""
    if image is None or image.rgb:
        return []
    return [ly for ly in viewer.layers
            if isinstance(ly, Image) and ly is not image and not ly.rgb
            and ly not in exclude and on_same_grid(ly, image)]


def default_channels(image: Image | None, candidates: Sequence[Image]) -> list[Image]:
    """The candidates that are channels of the same image as ``image`` (by name)."""
    if image is None:
        return []
    stem = channel_stem(image.name)
    return [ly for ly in candidates if channel_stem(ly.name) == stem]


class ChannelChoice:
    """The *other channels* list of the Interactive and Few-shot docks (a magicgui
    ``Select``).

    Args:
        viewer: the viewer whose layers are offered.
        image: returns the clicked image layer.
        exclude: returns the dock's own layers (never offered).
        on_change: called when the user changes the choice.
        enabled: False for a model that uses one channel: nothing is offered.
        tooltip: what the list's tooltip says (default: the click model's use of them).
    """

    def __init__(self, viewer: Viewer, image, exclude, on_change, enabled: bool = True,
                 tooltip: str = CLICK_TOOLTIP) -> None:
        self.viewer, self._image, self._exclude = viewer, image, exclude
        self.enabled = enabled
        self.select = Select(label="other channels", choices=self._choices,
                             allow_multiple=True)
        self.select.tooltip = tooltip
        self.select.native.setMaximumHeight(90)
        self._quiet = False
        self._on_change = on_change
        self._chosen: tuple[Image, ...] = ()
        self.select.changed.connect(self._changed)

    def _changed(self, *_args) -> None:
        """Tell the dock when the chosen layers change (not while :meth:`reset` runs, nor
        after :meth:`detach`)."""
        chosen = self.layers
        if self._quiet or self._on_change is None or chosen == self._chosen:
            return
        self._chosen = chosen
        self._on_change()

    def detach(self) -> None:
        """Stop calling the dock (it is being closed)."""
        self._on_change = None

    def _choices(self, _widget=None) -> list[tuple[str, Image]]:
        if not self.enabled:
            return []
        return [(ly.name, ly) for ly in channel_candidates(self.viewer, self._image(),
                                                            self._exclude())]

    def reset(self) -> None:
        """Offer the layers that suit the current image, the same image's channels chosen."""
        self._quiet = True
        try:
            self.select.reset_choices()
            options = [ly for _, ly in self._choices()]
            self.select.value = default_channels(self._image(), options)
            self.select.visible = bool(options)
        finally:
            self._quiet = False
        self._chosen = self.layers

    def restore(self, layers: Sequence[Image]) -> None:
        """Choose ``layers`` again without telling the dock (a change it refused)."""
        self._quiet = True
        try:
            self.select.value = list(layers)
        finally:
            self._quiet = False
        self._chosen = self.layers

    @property
    def layers(self) -> tuple[Image, ...]:
        """The chosen other channels still in the viewer, in an order of their own (by
        ``unique_id``): moving layers in the layer list changes nothing."""
        chosen = [ly for ly in (self.select.value or ()) if ly in self.viewer.layers]
        return tuple(sorted(chosen, key=lambda ly: ly.unique_id))
