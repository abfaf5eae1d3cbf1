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


def _ct_stack() -> tuple[np.ndarray, np.ndarray]:
    """(8, 96, 96) int16 HU: the slice of :func:`_ct` with the organ shrinking along z, and
    the organ's truth."""
    rng = np.random.default_rng(1)
    rr, cc = np.mgrid[:96, :96]
    body = (rr - 48) ** 2 + (cc - 48) ** 2 < 40 ** 2
    image, truth = [], []
    for z in range(8):
        img = np.full((96, 96), -1000.0) + rng.normal(0, 10, (96, 96))
        img[body] = 30 + rng.normal(0, 8, int(body.sum()))
        organ = (rr - 45) ** 2 + (cc - 50) ** 2 < (14 - z) ** 2
        img[organ] += 35
        image.append(img.astype(np.int16))
        truth.append(organ)
    return np.stack(image), np.stack(truth).astype(np.int32)


def test_fewshot_dock_propagates_and_scores_under_the_chosen_window(fewshot_docked, qtbot):
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
    from napari_ifss.core.normalize import as_window
    from napari_ifss.core.quality.quality_volume import score_labels
    from test_quality_dock import _check_against_headless, _propagate

    image, truth = _ct_stack()
    user = np.zeros_like(truth)
    user[3] = truth[3]
    seg = FewShotSegmenter.default(device="cpu")
    viewer, layer, dock = fewshot_docked(image, user.copy(), seg)
    combo = dock.intensity.combo
    assert combo.label == "intensity" and combo.tooltip and combo.value == dock.intensity.automatic
    assert "whole stack" in combo.value
    _propagate(qtbot, dock)
    automatic = layer.data.copy()
    layer.data = user.copy()  # start again from the user's slice
    layer.metadata.clear()
    combo.value = "CT soft tissue"
    _propagate(qtbot, dock)
    assert not np.array_equal(layer.data, automatic)  # the window reached the model
    dice = lambda a: 2 * ((a > 0) & (truth > 0)).sum() / ((a > 0).sum() + (truth > 0).sum())  # noqa: E731
    assert dice(layer.data) >= dice(automatic) - 0.01
    window = as_window("soft tissue")
    expected = {(e.z, e.label_id): e.score for e in score_labels(
        image, layer.data, user, [1], FewShotSegmenter.default(device="cpu"), window=window)}
    _check_against_headless(dock.quality, layer, expected)  # scored under the same window
