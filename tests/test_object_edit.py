"""Correcting an existing object with clicks in the Interactive dock (E), one undo step."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.eval.random_walker import RandomWalkerSegmenter

pytestmark = pytest.mark.gui


def test_edit_selected_label_replaces_it_on_the_slice_only(make_napari_viewer, qtbot):
    rng = np.random.default_rng(3)
    stack = rng.normal(30, 4, (5, 48, 48)).astype(np.float32)
    rr, cc = np.mgrid[:48, :48]
    disk = (rr - 16) ** 2 + (cc - 16) ** 2 <= 49
    stack[1:4][:, disk] += 150
    labels_data = np.zeros(stack.shape, np.uint16)
    labels_data[1:4, 4:30, 4:30] = 4   # a sloppy box around the disk, e.g. from exemplar mode
    labels_data[2, 40:44, 40:44] = 9   # another object
    viewer = make_napari_viewer()
    viewer.add_image(stack, name="stack")
    labels = viewer.add_labels(labels_data.copy(), name="found")
    dock = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=48))
    viewer.window.add_dock_widget(dock)
    dock._labels_box.value = labels
    viewer.dims.set_point(0, 2)

    labels.selected_label = 0
    dock.edit_object()
    assert "background" in dock.status
    labels.selected_label = 9
    viewer.dims.set_point(0, 0)
    dock.edit_object()
    assert "label 9 is not on slice 0" in dock.status
    viewer.dims.set_point(0, 2)
    labels.selected_label = 4
    dock.edit_object()
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)
    assert "editing label 4" in dock.status or "0 clicks" in dock.status
    assert np.array_equal(dock.preview.data[2] > 0, labels_data[2] == 4)  # starts from it

    dock.prompts.add([[2, 16, 16]])  # a click on the disk: the model's answer replaces the box
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)
    corrected = dock.preview.data[2] > 0
    assert corrected[16, 16] and not corrected[5, 28]
    dock.commit()
    after = np.asarray(labels.data)
    assert np.array_equal(after[2] == 4, corrected)            # replaced on slice 2 ...
    assert np.array_equal(after[[1, 3]], labels_data[[1, 3]])   # ... and only there
    assert np.array_equal(after[2] == 9, labels_data[2] == 9)  # the other object is intact
    assert "committed label 4" in dock.status
    labels.undo()
    assert np.array_equal(labels.data, labels_data)
