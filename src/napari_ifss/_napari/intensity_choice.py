"""The docks' "intensity" choice: which grey values the models see.

*automatic*: the Interactive dock uses each slice's own 0.5-99.5 percentiles, the Few-shot
dock the percentiles of a few evenly spaced slices of the stack (the default); *as
displayed*: the image layer's contrast limits, so that what you see is what the model sees;
the CT windows of :data:`~napari_ifss.core.normalize.CT_PRESETS` (Hounsfield units) a click
away.
"""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import ComboBox
from napari.layers import Image

from ..core.normalize import CT_PRESETS, IntensityWindow, as_window

AUTOMATIC = "automatic (each slice)"
AUTOMATIC_STACK = "automatic (whole stack)"
DISPLAYED = "as displayed (contrast limits)"
CT_CHOICES = [f"CT {name}" for name in CT_PRESETS]
CHOICES = [AUTOMATIC, DISPLAYED, *CT_CHOICES]
TOOLTIP = ("the grey values the model sees: each slice's own range, the image's contrast "
           "limits as you set them (read at each click), or a CT window in Hounsfield units")
STACK_TOOLTIP = ("the grey values the model sees on every slice: the stack's range (from a "
                 "few evenly spaced slices), the image's contrast limits as you set them (read "
                 "when you press Propagate), or a CT window in Hounsfield units")


class IntensityChoice:
    """The "intensity" combo box and the window it stands for.

    Args:
        on_change: called after the user picked another entry (None: nothing to do).
        enabled: False for a model that takes no intensity window (the box is then disabled).
        whole_stack: the automatic entry is the stack's range (Few-shot dock), not each
            slice's own (Interactive dock).
    """

    def __init__(self, on_change: Callable[[], None] | None = None, enabled: bool = True,
                 whole_stack: bool = False) -> None:
        self.automatic = AUTOMATIC_STACK if whole_stack else AUTOMATIC
        self.combo = ComboBox(label="intensity", value=self.automatic, enabled=enabled,
                              choices=[self.automatic, DISPLAYED, *CT_CHOICES])
        tip = STACK_TOOLTIP if whole_stack else TOOLTIP
        self.combo.tooltip = tip if enabled else "this model sets its own intensity range"
        if on_change is not None:
            self.combo.changed.connect(lambda *_: on_change())

    def window(self, image: Image | None) -> IntensityWindow | None:
        """The window for ``image`` under the current choice (None: automatic)."""
        choice = self.combo.value
        if choice == self.automatic or image is None:
            return None
        if choice == DISPLAYED:
            low, high = (float(v) for v in image.contrast_limits)
            return as_window((low, high)) if high > low else None
        return as_window(choice.removeprefix("CT "))
