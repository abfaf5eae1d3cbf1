"""The Interactive dock's "intensity" choice: which grey values the click model sees.

*automatic*: each slice's own 0.5-99.5 percentiles (the default); *as displayed*: the image
layer's contrast limits, so that what you see is what the model sees; the CT windows of
:data:`~napari_ifss.core.normalize.CT_PRESETS` (Hounsfield units) a click away.
"""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import ComboBox
from napari.layers import Image

from ..core.normalize import CT_PRESETS, IntensityWindow, as_window

AUTOMATIC = "automatic (each slice)"
DISPLAYED = "as displayed (contrast limits)"
CHOICES = [AUTOMATIC, DISPLAYED, *(f"CT {name}" for name in CT_PRESETS)]
TOOLTIP = ("the grey values the model sees: each slice's own range, the image's contrast "
           "limits as you set them (read at each click), or a CT window in Hounsfield units")


class IntensityChoice:
    """The "intensity" combo box and the window it stands for.

    Args:
        on_change: called after the user picked another entry.
        enabled: False for a model that takes no intensity window (the box is then disabled).
    """

    def __init__(self, on_change: Callable[[], None], enabled: bool = True) -> None:
        self.combo = ComboBox(label="intensity", choices=CHOICES, value=AUTOMATIC,
                              enabled=enabled)
        self.combo.tooltip = TOOLTIP if enabled else "this model sets its own intensity range"
        self.combo.changed.connect(lambda *_: on_change())

    def window(self, image: Image | None) -> IntensityWindow | None:
        """The window for ``image`` under the current choice (None: automatic)."""
        choice = self.combo.value
        if choice == AUTOMATIC or image is None:
            return None
        if choice == DISPLAYED:
            low, high = (float(v) for v in image.contrast_limits)
            return as_window((low, high)) if high > low else None
        return as_window(choice.removeprefix("CT "))
