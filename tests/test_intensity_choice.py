"""#20 (7), dock part: the Interactive dock's "intensity" choice reaches the click model."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.intensity_choice import AUTOMATIC, CHOICES, DISPLAYED
from napari_ifss.core.normalize import CT_PRESETS, IntensityWindow
from test_interactive_box import shipped  # noqa: F401  (the shipped click model, module scope)
from test_interactive_dock import Counting, _click, _docked, _wait

pytestmark = pytest.mark.gui


def _ct() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((96, 96), -1000.0) + rng.normal(0, 10, (96, 96))
    rr, cc = np.mgrid[:96, :96]
    body = (rr - 48) ** 2 + (cc - 48) ** 2 < 40 ** 2
    img[body] = 30 + rng.normal(0, 8, int(body.sum()))
    img[(rr - 45) ** 2 + (cc - 50) ** 2 < 12 ** 2] += 35
    return img.astype(np.int16)


def test_ct_window_and_displayed_contrast_reach_the_model(make_napari_viewer, qtbot,
                                                          shipped):  # noqa: F811
    viewer = make_napari_viewer()
    image = viewer.add_image(_ct(), name="ct", contrast_limits=(-100, 200))
    dock = _docked(viewer, shipped)
    combo = dock.intensity.combo
    assert combo.label == "intensity" and combo.tooltip and combo.enabled
    assert list(combo.choices) == CHOICES and combo.value == AUTOMATIC
    _click(dock, image, [45, 50])
    _wait(qtbot, dock)
    assert dock.runner.session.window is None
    automatic = dock.preview.data.copy()

    combo.value = "CT soft tissue"  # the slice is predicted again under the window
    _wait(qtbot, dock)
    assert dock.runner.session.window == IntensityWindow(*CT_PRESETS["soft tissue"])
    assert not np.array_equal(dock.preview.data, automatic)
    assert len(dock.prompts.data) == 1  # the clicks stay

    combo.value = DISPLAYED
    _wait(qtbot, dock)
    assert dock.runner.session.window == IntensityWindow(-100.0, 200.0)


def test_a_model_without_windows_disables_the_choice(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(_ct(), name="ct")
    dock = _docked(viewer, Counting())
    assert not dock.intensity.combo.enabled
