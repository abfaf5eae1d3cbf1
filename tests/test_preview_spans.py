"""#20 (1): the Interactive dock's preview is written only where the object is or was (a
20000 px slice's preview is never written whole)."""

from __future__ import annotations

import numpy as np
from napari.layers import Image

from napari_ifss._napari.preview_layer import PreviewSpans
from napari_ifss.core.interactive.plane import Plane


def test_preview_writes_only_the_objects_spans():
    data = np.full((2, 40, 50), 7, np.uint8)  # 7: never written
    layer = Image(data)
    shown = PreviewSpans()
    z0, z1 = Plane(3, (1, 2), ((0, 0),)), Plane(3, (1, 2), ((0, 1),))
    prob = np.zeros((40, 50), np.float32)
    prob[5:10, 6:9] = 0.9
    prob[7, 7] = 0.2  # inside the span, not the object
    shown.show(layer, z0, prob, 0.5)
    assert (data[0, 5:10, 6:9] == (prob[5:10, 6:9] > 0.5)).all()
    outside = np.ones((40, 50), bool)
    outside[5:10, 6:9] = False
    assert (data[0][outside] == 7).all() and (data[1] == 7).all()
    moved = np.zeros((40, 50), np.float32)
    moved[20:22, 30:35] = 1.0
    shown.show(layer, z0, moved, 0.5)  # the old span is cleared, the new one written
    assert (data[0, 5:10, 6:9] == 0).all() and (data[0, 20:22, 30:35] == 1).all()
    assert data[0, 0, 0] == 7
    shown.show(layer, z1, prob, 0.5)
    shown.show(layer, z0, np.zeros((40, 50), np.float32), 0.5)  # nothing: cleared only
    assert (data[0, 20:22, 30:35] == 0).all() and data[1, 6, 6] == 1
    shown.clear(layer)
    assert (data[1, 5:10, 6:9] == 0).all() and data[1, 0, 0] == 7
