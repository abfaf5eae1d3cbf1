"""The "ifss prompts" Points layer: clicks with a ``positive`` feature, green / red."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from napari.layers import Image, Points

from .slice_context import spatial_shape

PROMPTS_NAME = "ifss prompts"
POSITIVE_COLOR = "lime"
NEGATIVE_COLOR = "red"


def make_prompt_layer(image: Image) -> Points:
    """An empty Points layer matching ``image`` (ndim, scale, translate).

    Switch it to add mode after adding it to the viewer (napari's layer controls only follow
    mode changes made once the layer is in the viewer).

    New points take their polarity from ``feature_defaults["positive"]`` and are coloured by
    it: green for object clicks, red for background clicks.
    """
    shape = spatial_shape(image)
    size = max(3.0, min(shape[-2:]) / 60)
    layer = Points(
        np.empty((0, image.ndim)),
        ndim=image.ndim,
        name=PROMPTS_NAME,
        scale=image.scale,
        translate=image.translate,
        features=pd.DataFrame({"positive": pd.Series([], dtype=bool)}),
        face_color="positive",
        face_color_cycle={True: POSITIVE_COLOR, False: NEGATIVE_COLOR},
        border_color="white",
        border_width=0.1,
        size=size,
        out_of_slice_display=False,
    )
    layer.feature_defaults["positive"] = True
    return layer


def polarity(layer: Points) -> bool:
    """The polarity the next added point gets (True: object click)."""
    return bool(layer.feature_defaults["positive"].iloc[0])


def set_polarity(layer: Points, positive: bool) -> None:
    """Set the polarity (and so the colour) of points added from now on."""
    layer.feature_defaults["positive"] = bool(positive)


def remove_points(layer: Points, indices: Iterable[int]) -> None:
    """Delete the points at ``indices`` (features stay aligned with the remaining points)."""
    idx = set(int(i) for i in indices)
    if not idx:
        return
    layer.selected_data = idx
    layer.remove_selected()


def bind_keys(layer: Points, actions: dict[str, Callable[[], object]]) -> None:
    """Bind keys (napari key names, e.g. ``"t"``, ``"Enter"``) to argument-less callbacks."""
    for key, action in actions.items():
        layer.bind_key(key, _as_key_callback(action), overwrite=True)


def _as_key_callback(action: Callable[[], object]) -> Callable[[Points], None]:
    def callback(_layer: Points) -> None:
        action()

    return callback
