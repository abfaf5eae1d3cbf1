"""The Few-shot propagation dock in a real (headless) napari viewer: the default method (the
per-volume learner) and the shipped few-shot head."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.transfer import transfer

pytestmark = pytest.mark.gui
torch.set_num_threads(1)
SUPPORT = (2, 7)


@pytest.fixture(scope="module")
def segmenter():
    return FewShotSegmenter.default(device="cpu")


@pytest.fixture(scope="module")
def cells():
    """(10, 64, 64) image with 12 cells, its ground truth and the two biggest cells on both
    SUPPORT slices. (Packed with 60 look-alike cells, the per-volume learner, the default
    method, loses a single cell between its look-alikes: see docs/models/fewshot.md.)"""
    image, truth = make_synthetic_cells(shape=(10, 64, 64), n_cells=12)
    both = set(np.unique(truth[SUPPORT[0]])) & set(np.unique(truth[SUPPORT[1]])) - {0}
    ids = sorted(both, key=lambda i: -int((truth[list(SUPPORT)] == i).sum()))[:2]
    return image, truth, [int(i) for i in ids]


def _annotated(truth, ids, zs=SUPPORT):
    labels = np.zeros(truth.shape, np.int32)
    for z in zs:
        for i in ids:
            labels[z][truth[z] == i] = i
    return labels


def _wait(qtbot, dock):
    qtbot.waitUntil(lambda: not dock.busy, timeout=30000)


class Slow:
    """The real segmenter, 0.2 s slower per slice (so that a cancel lands mid-run)."""

    def __init__(self, seg):
        self.seg = seg

    def set_support(self, *args, **kwargs):
        self.seg.set_support(*args, **kwargs)

    def predict(self, *args, **kwargs):
        time.sleep(0.2)
        return self.seg.predict(*args, **kwargs)


def test_propagate_live_protect_support_undo_and_cancel(
        fewshot_docked, qtbot, cells, segmenter):
    image, truth, (obj, _) = cells
    labels = _annotated(truth, [obj])
    labels[4, :3, :3] = 9  # another user object: slice 4 is annotated, so never written
    original = labels.copy()
    viewer, layer, dock = fewshot_docked(image, labels, segmenter)
    assert dock._image_box.value is viewer.layers["cells"] and dock._labels_box.value is layer
    assert f"label {obj}: slices 2, 7" in dock.support_text and "label 9: slice 4" in dock.support_text
    dock._ids.value = str(obj)
    seen = []
    dock.runner._on_event = lambda ev, f=dock._on_event: (seen.append(ev.z), f(ev))
    dock.propagate()
    assert dock.busy and dock.progress_bar is not None and not dock._run_btn.enabled
    _wait(qtbot, dock)
    assert dock.status.startswith("done: 7/7 slices"), dock.status
    assert sorted(seen) == [0, 1, 3, 5, 6, 8, 9] and seen[:2] == [1, 3]  # nearest first
    out = layer.data
    for z in (2, 4, 7):
        np.testing.assert_array_equal(out[z], original[z])  # annotated slices: byte for byte
    dice = []
    for z in (3, 5, 6):  # between the annotations, where the cell exists
        pred, gt = out[z] == obj, truth[z] == obj
        dice.append(2 * (pred & gt).sum() / (pred.sum() + gt.sum()))
    assert min(dice) > 0.5, dice
    assert set(np.unique(out)) <= {0, obj, 9} and dock._run_btn.enabled
    assert dock.progress_bar is None
    layer.undo()  # ONE undo restores the layer exactly
    np.testing.assert_array_equal(layer.data, original)
    layer.redo()
    assert (layer.data[3] == obj).sum() > 0
    layer.undo()

    # cancel after the first slice came back: what was written stays, one undo removes it
    dock._method.value = "head"  # the pretrained model, slowed down
    dock.segmenter = Slow(segmenter)
    first = dock.runner._on_event = dock._on_event

    def cancel_after_first(ev):
        first(ev)
        dock.cancel()

    dock.runner._on_event = cancel_after_first
    dock.propagate()
    _wait(qtbot, dock)
    assert dock.status.startswith("cancelled after ") and dock.status.endswith("/7 slices")
    done = int(dock.status.split()[2].split("/")[0])
    assert 1 <= done < 7
    changed = [z for z in range(10) if not np.array_equal(layer.data[z], original[z])]
    assert 1 <= len(changed) <= done and not dock.busy
    assert dock._run_btn.enabled and not dock._cancel_btn.enabled
    layer.undo()
    np.testing.assert_array_equal(layer.data, original)


def test_two_labels_range_and_other_target(fewshot_docked, qtbot, cells, segmenter):
    image, truth, (a, b) = cells
    original = _annotated(truth, [a, b])
    viewer, layer, dock = fewshot_docked(image, original.copy(), segmenter)
    dock._ids.value = "99"
    dock.propagate()
    assert "label id 99 does not occur" in dock.status and not dock.busy
    dock._ids.value = f"{a}, {b}"
    dock._mode.value = "z range"
    dock._z_from.value, dock._z_to.value = 3, 5
    dock.propagate()
    _wait(qtbot, dock)
    assert dock.status.startswith("done: 6/6 slices"), dock.status
    out = layer.data
    assert all((out[z] == a).any() and (out[z] == b).any() for z in (3, 5))
    changed = [z for z in range(10) if not np.array_equal(out[z], original[z])]
    assert changed == [3, 4, 5] and set(np.unique(out)) == {0, a, b}
    assert (out[3] == b).sum() > 0.5 * (truth[3] == b).sum()  # the second id got its object

    other = viewer.add_image(image[::-1][:6].copy(), name="other stack")  # depth 6, same Y, X
    dock.reset_choices()
    dock._target_box.value = other
    dock.propagate()
    _wait(qtbot, dock)
    new = viewer.layers["other stack few-shot"]
    assert new.data.shape == (6, 64, 64) and dock.status.startswith("done: 12/12"), dock.status
    np.testing.assert_array_equal(layer.data, out)  # the source labels are untouched
    flipped = truth[::-1][:6]  # no neighbour prior here: a flow check, not a quality one
    assert set(np.unique(new.data)) <= {0, a, b} and ((new.data == a) & (flipped == a)).any()
    new.undo()
    assert new.data.max() == 0


def test_bad_input_gives_a_message_and_changes_nothing(make_napari_viewer, qtbot, cells):
    image, truth, (obj, _) = cells
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    _, dock = viewer.window.add_plugin_dock_widget("napari-ifss", "Few-shot propagation")
    assert isinstance(dock, FewShotDock)
    n_layers = len(viewer.layers)
    dock.propagate()
    assert "choose a labels layer" in dock.status
    empty = viewer.add_labels(np.zeros(truth.shape, np.int32), name="empty")
    dock.reset_choices()
    dock._labels_box.value = empty
    dock.propagate()
    assert "no annotated slice" in dock.status and dock.support_text == "no annotated slice"
    wrong = viewer.add_labels(_annotated(truth, [obj])[:, :32], name="wrong")
    dock.reset_choices()
    dock._labels_box.value = wrong
    dock.propagate()
    assert "has shape (10, 32, 64)" in dock.status
    flat = viewer.add_image(image[2], name="flat")
    dock.reset_choices()
    dock._image_box.value = flat
    dock.propagate()
    assert "needs a (Z, Y, X) stack" in dock.status
    assert not dock.busy and len(viewer.layers) == n_layers + 3
    assert empty.data.max() == 0 and not empty._undo_history

    dock._image_box.value = viewer.layers["cells"]  # one annotated slice, then painting
    dock._labels_box.value = empty
    dock._mode.value = "between annotated slices"
    empty.data_setitem((np.array([2]), np.array([5]), np.array([5])), obj)  # like a brush
    qtbot.waitUntil(lambda: dock.support_text == f"label {obj}: slice 2", timeout=3000)
    dock.propagate()
    assert "only one annotated slice" in dock.status and not dock.busy



def test_transfer_checks_before_writing(cells):
    image, truth, (obj, _) = cells
    labels, out = _annotated(truth, [obj]), np.zeros((4, 64, 64), np.int32)
    for target, o, ids, msg in ((image[:, :32], out, None, "does not match"),
                                (image[:4], out[:, 1:], None, "out must be"),
                                (image[:4], out, [99], "does not occur")):
        with pytest.raises(InvalidInputError, match=msg):
            transfer(image, labels, target, o, ids)
    assert out.max() == 0


def test_second_run_recomputes_propagated_slices_and_keeps_corrections(
        fewshot_docked, qtbot, cells, segmenter):
    image, truth, (obj, _) = cells
    original = _annotated(truth, [obj], zs=(2,))
    viewer, layer, dock = fewshot_docked(image, original.copy(), segmenter)
    dock._ids.value = str(obj)
    dock.propagate()
    _wait(qtbot, dock)
    after_first = layer.data.copy()
    filled = [z for z in range(10) if z != 2 and after_first[z].any()]
    assert filled, "the first run filled nothing"
    # the filled slices are listed as propagated, not as annotations
    assert f"label {obj}: slice 2\n" in dock.support_text + "\n"
    assert f"{len(filled)} propagated slice" in dock.support_text

    # the user annotates slice 7 with the truth and corrects filled slice z0 by painting
    z0 = filled[0]
    corrected = after_first[z0].copy()
    corrected[0, 0] = obj
    layer.data[7] = np.where(truth[7] == obj, obj, 0)
    layer.data[z0] = corrected
    dock.refresh_support()
    user_zs = ", ".join(map(str, sorted({2, z0, 7})))
    assert f"label {obj}: slices {user_zs}\n" in dock.support_text
    before_second = layer.data.copy()
    seen = []
    dock.runner._on_event = lambda ev, f=dock._on_event: (seen.append(ev.z), f(ev))
    dock.propagate()
    _wait(qtbot, dock)
    assert dock.status.startswith("done: "), dock.status
    for z in {2, 7, z0}:  # the user's slices, the correction included, stay byte for byte
        np.testing.assert_array_equal(layer.data[z], before_second[z])
        assert z not in seen
    stale = [z for z in filled if z not in (7, z0)]
    assert stale and set(stale) <= set(seen)  # earlier results were recomputed
    layer.undo()  # one undo: back to the state before the second run
    np.testing.assert_array_equal(layer.data, before_second)


def test_many_labels_are_summed_up_in_the_support_list(fewshot_docked):
    image = np.zeros((6, 32, 32), np.float32)
    labels = np.zeros(image.shape, np.uint16)
    for i in range(1, 11):
        labels[1 + i % 4, 2 * i, 2:6] = i  # ten objects on slices 1..4
    _, _, dock = fewshot_docked(image, labels, None)
    dock.refresh_support()
    lines = dock.support_text.splitlines()
    assert lines[0] == "label 1: slice 2" and len(lines) == 7
    assert lines[-1] == "... and 4 more labels on slices 1-4"


def test_labels_committed_after_the_dock_opened_are_the_ones_propagated(make_napari_viewer,
                                                                         cells):
    """#15: the dock was opened with only a ground truth around; the first commit makes the
    Interactive dock's labels layer, and that layer, not the ground truth, is chosen."""
    from napari_ifss._napari.interactive_dock import LABELS_NAME

    image, truth, _ = cells
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    gt = viewer.add_labels(truth, name="synthetic cells ground truth")
    _, dock = viewer.window.add_plugin_dock_widget("napari-ifss", "Few-shot propagation")
    assert dock._labels_box.value is gt
    ours = viewer.add_labels(np.zeros(truth.shape, np.uint32), name=LABELS_NAME)
    assert dock._labels_box.value is ours
    viewer.add_labels(np.zeros(truth.shape, np.uint32), name="scratch")
    assert dock._labels_box.value is ours  # other layers do not take over


def test_a_2d_labels_layer_gets_a_message_not_a_crash(fewshot_docked):
    image = np.zeros((6, 32, 32), np.float32)
    viewer, _, dock = fewshot_docked(image, np.zeros(image.shape, np.uint8), None)
    flat = viewer.add_labels(np.zeros((32, 32), np.uint8), name="flat")
    dock.reset_choices()
    dock._labels_box.value = flat
    dock.refresh_support()
    assert "expected a (Z, Y, X) stack" in dock.support_text
