"""The Interactive dock's box prompt with the shipped click model (trained with boxes), in a
real headless viewer: the box on a scaled stack, replacing, undo, correcting clicks, commit."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.box_prompt import BOX_NAME, TOOLTIP
from napari_ifss.core.interactive.prompts import Box
from test_interactive_dock import SCALE, TRANSLATE, _click, _docked, _stack, _wait

pytestmark = pytest.mark.gui


def _disk_a() -> np.ndarray:
    rr, cc = np.mgrid[:64, :64]
    return (rr - 20) ** 2 + (cc - 20) ** 2 <= 64


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _drag(dock, image, corner_a, corner_b) -> None:
    """Drag a rectangle between two image data positions (through world coordinates)."""
    layer = dock.boxes.layer
    (*z, r0, c0), (*_, r1, c1) = corner_a, corner_b
    corners = [[*z, r0, c0], [*z, r0, c1], [*z, r1, c1], [*z, r1, c0]]
    pts = [layer.world_to_data(image.data_to_world(p)) for p in corners]
    layer.add_rectangles(np.asarray(pts, dtype=float))


@pytest.fixture(scope="module")
def shipped():
    import torch

    from napari_ifss.core.interactive.predictor import ClickPredictor

    torch.set_num_threads(1)

    seg = ClickPredictor.default()
    assert seg.takes_boxes
    return seg


def test_box_then_undo_then_box_and_clicks_commit(make_napari_viewer, qtbot, shipped):
    viewer = make_napari_viewer()
    image = viewer.add_image(_stack(), name="stack", scale=SCALE, translate=TRANSLATE)
    dock = _docked(viewer, shipped)
    viewer.dims.set_point(0, image.data_to_world([4, 0, 0])[0])
    assert dock.boxes.button.tooltip == TOOLTIP and dock.boxes.button.text == "Draw box"

    dock.boxes.button.clicked.emit()  # "Draw box"
    layer = viewer.layers[BOX_NAME]
    assert viewer.layers.selection.active is layer and layer.mode == "add_rectangle"
    assert layer.scale.tolist() == list(SCALE)

    _drag(dock, image, [4, 50, 50], [4, 60, 60])  # a first box elsewhere: replaced below
    _wait(qtbot, dock)
    _drag(dock, image, [4, 11, 11], [4, 29, 29])
    _wait(qtbot, dock)
    assert len(layer.data) == 1  # one box per object
    assert dock.runner.session.snapshot().box == Box(11.5, 11.5, 29.5, 29.5)
    disk = _disk_a()
    mask = dock.preview.data[4].astype(bool)
    assert _iou(mask, disk) > 0.5, _iou(mask, disk)
    assert dock.preview.data[[3, 5]].sum() == 0  # only the slice with the box
    assert "box + 0 clicks" in dock.status

    dock.undo_click()  # no click yet: undo removes the box and its mask
    _wait(qtbot, dock)
    assert len(layer.data) == 0 and dock.preview.data.sum() == 0

    _drag(dock, image, [4, 11, 11], [4, 29, 29])
    _wait(qtbot, dock)
    _click(dock, image, [4, 20, 20])  # correct with a click: the box stays
    _wait(qtbot, dock)
    assert "box + 1 click" in dock.status
    corrected = dock.preview.data[4].astype(bool)
    assert _iou(corrected, disk) > 0.5
    dock.commit()
    labels = viewer.layers["ifss labels"]
    np.testing.assert_array_equal(labels.data[4] == 1, corrected)
    assert len(layer.data) == 0 and dock.preview.data.sum() == 0
    labels.undo()  # Ctrl+Z removes the committed object in one step
    assert labels.data.max() == 0


def test_new_object_clears_the_box(make_napari_viewer, qtbot, shipped):
    viewer = make_napari_viewer()
    image = viewer.add_image(_stack()[4], name="slice")
    dock = _docked(viewer, shipped)
    dock.boxes.start()
    _drag(dock, image, [11, 11], [29, 29])
    _wait(qtbot, dock)
    assert _iou(dock.preview.data.astype(bool), _disk_a()) > 0.5
    dock.new_object()
    _wait(qtbot, dock)
    assert len(dock.boxes.layer.data) == 0 and dock.preview.data.sum() == 0


def test_a_click_only_model_says_so_and_draws_nothing(make_napari_viewer, qtbot):
    from test_interactive_dock import Counting

    viewer = make_napari_viewer()
    viewer.add_image(_stack()[4], name="slice")
    dock = _docked(viewer, Counting())
    dock.boxes.start()
    assert dock.boxes.layer is None and BOX_NAME not in viewer.layers
    assert "not trained for boxes" in dock.status
