"""The Interactive segmentation dock in a real (headless) napari viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.eval.random_walker import RandomWalkerSegmenter

pytestmark = pytest.mark.gui

SCALE, TRANSLATE = (2.0, 0.5, 0.75), (10.0, 5.0, -3.0)


class Counting(RandomWalkerSegmenter):
    """The random-walker baseline, counting predictions."""

    def __init__(self) -> None:
        super().__init__(max_side=64)
        self.n_predict = 0

    def predict(self, clicks, prev_mask=None):
        self.n_predict += 1
        return super().predict(clicks, prev_mask)


def _stack() -> np.ndarray:
    """(8, 64, 64): a disk A at (20, 20) and a disk B at (44, 44) on slices 2..5."""
    rng = np.random.default_rng(1)
    vol = rng.normal(30, 4, (8, 64, 64)).astype(np.float32)
    rr, cc = np.mgrid[:64, :64]
    for r, c in ((20, 20), (44, 44)):
        vol[2:6][:, (rr - r) ** 2 + (cc - c) ** 2 <= 64] += 150
    return vol


def _setup(make_napari_viewer, data, **kwargs):
    viewer = make_napari_viewer()
    image = viewer.add_image(data, name="stack", **kwargs)
    return viewer, image, _docked(viewer, Counting())


def _docked(viewer, segmenter):
    """The dock in the viewer's window, which owns (and finally deletes) it."""
    dock = InteractiveDock(viewer, segmenter=segmenter)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    return dock


def _click(dock, image, data_point):
    """Add a prompt at an image data position, going through world coordinates."""
    world = image.data_to_world(data_point)
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(world))[None])


def _wait(qtbot, dock):
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)


def test_click_undo_commit_on_scaled_stack(make_napari_viewer, qtbot):
    viewer, image, dock = _setup(make_napari_viewer, _stack(), scale=SCALE, translate=TRANSLATE)
    assert dock.prompts.scale.tolist() == list(SCALE)
    viewer.dims.set_point(0, image.data_to_world([4, 0, 0])[0])
    assert viewer.dims.point[0] == 4 * SCALE[0] + TRANSLATE[0]

    _click(dock, image, [4, 20, 20])
    _wait(qtbot, dock)
    prev = dock.preview.data
    assert prev[4, 20, 20] == 1 and prev[4, 44, 44] == 0 and prev[4, 2, 60] == 0
    assert prev[3].sum() == 0 and prev[5].sum() == 0  # only the clicked slice
    one_click = prev[4].copy()
    assert "slice 4: 1 click" in dock.status

    dock.toggle_polarity()  # background click on disk A's rim
    _click(dock, image, [4, 20, 27])
    _wait(qtbot, dock)
    assert dock.prompts.features["positive"].tolist() == [True, False]
    np.testing.assert_allclose(dock.prompts.face_color[1, :3], [1, 0, 0])  # red
    np.testing.assert_allclose(dock.prompts.face_color[0, :3], [0, 1, 0])  # green
    assert dock.preview.data[4, 20, 27] == 0
    jobs = dock.runner.jobs_started
    dock.undo_click()
    _wait(qtbot, dock)
    assert len(dock.prompts.data) == 1
    assert dock.runner.jobs_started == jobs + 1  # the dock's own point removal: no extra job
    np.testing.assert_array_equal(dock.preview.data[4], one_click)

    dock.commit()
    labels = viewer.layers["ifss labels"]
    assert labels.data.shape == (8, 64, 64) and labels.scale.tolist() == list(SCALE)
    np.testing.assert_array_equal(labels.data[4] == 1, one_click.astype(bool))
    assert labels.data[4, 20, 20] == 1 and labels.data[4, 44, 44] == 0
    assert set(np.unique(labels.data[[0, 1, 2, 3, 5, 6, 7]])) == {0}
    assert len(dock.prompts.data) == 0 and dock.preview.data.sum() == 0
    assert viewer.layers.selection.active is dock.prompts and dock.prompts.mode == "add"

    labels.data[4, 44, 44] = 9  # another object inside disk B must survive the next commit
    dock.toggle_polarity()
    _click(dock, image, [4, 44, 44])
    _wait(qtbot, dock)
    dock.commit()
    assert labels.data[4, 44, 44] == 9 and labels.data[4, 44, 46] == 10  # next id is max + 1
    np.testing.assert_array_equal(labels.data[4] == 1, one_click.astype(bool))  # A untouched
    labels.undo()  # Ctrl+Z removes object 10 in one step
    assert 10 not in labels.data and (labels.data[4] == 1).sum() == one_click.sum()


def test_slices_keep_their_clicks_and_bursts_are_coalesced(make_napari_viewer, qtbot):
    viewer, image, dock = _setup(make_napari_viewer, _stack())
    seg = dock.runner.session.segmenter
    viewer.dims.set_current_step(0, 3)
    for p in ([3, 20, 20], [3, 44, 44], [3, 22, 22]):  # a burst: no waiting in between
        _click(dock, image, p)
    _wait(qtbot, dock)
    # clicks 2 and 3 arrived while click 1 was predicted: one catch-up job, every click replayed
    assert dock.runner.jobs_started == 2 and seg.n_predict == 3
    assert dock.preview.data[3, 20, 20] == 1 and dock.preview.data[3, 44, 44] == 1
    viewer.dims.set_current_step(0, 5)
    _click(dock, image, [5, 44, 44])
    _wait(qtbot, dock)
    assert dock.preview.data[5, 44, 44] == 1 and dock.preview.data[5, 20, 20] == 0
    assert dock.preview.data[3, 20, 20] == 1  # slice 3 kept its object
    viewer.dims.set_current_step(0, 3)
    dock.reset_object()  # only slice 3
    _wait(qtbot, dock)
    assert dock.preview.data[3].sum() == 0 and dock.preview.data[5, 44, 44] == 1
    assert len(dock.prompts.data) == 1

    moved = dock.prompts.data.copy()  # the user drags the slice-5 point from B to A
    moved[0, 1:] = [20, 20]
    dock.prompts.data = moved
    _wait(qtbot, dock)
    assert dock.preview.data[5, 20, 20] == 1 and dock.preview.data[5, 44, 44] == 0
    moved[0, 1:] = [44, 44]
    dock.prompts.data = moved
    _wait(qtbot, dock)

    viewer.dims.order = (1, 0, 2)  # now rows of the view run along z, row 44 is fixed
    viewer.dims.set_current_step(1, 44)
    _click(dock, image, [4, 44, 44])
    _wait(qtbot, dock)
    assert "axis 1 = 44" in dock.status
    side = dock.preview.data[:, 44, :]
    assert side[4, 44] == 1 and side[0, 44] == 0  # object only where the disk exists in z
    dock.commit()
    lab = viewer.layers["ifss labels"].data
    assert lab[5, 44, 44] == 1 and lab[3, 44, 44] == 1 and lab[5, 20, 20] == 0


def test_rgb_image_and_click_outside(make_napari_viewer, qtbot):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[10:30, 10:30] = (200, 50, 50)
    viewer, image, dock = _setup(make_napari_viewer, rgb, scale=(0.5, 0.5))
    assert image.rgb and dock.prompts.ndim == 2 and dock.preview.data.shape == (48, 64)
    _click(dock, image, [100, 5])  # outside: ignored, with a message
    _wait(qtbot, dock)
    assert "outside" in dock.status and dock.preview.data.sum() == 0
    _click(dock, image, [20, 20])
    dock.commit()  # while the prediction runs: the commit waits for it
    assert "after the running prediction" in dock.status
    _wait(qtbot, dock)
    labels = viewer.layers["ifss labels"].data
    assert labels.shape == (48, 64) and labels[20, 20] == 1 and labels[40, 50] == 0


class Failing(Counting):
    def predict(self, clicks, prev_mask=None):
        raise RuntimeError("model exploded")


def test_model_errors_are_reported_and_the_dock_recovers(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.ones((32, 32), np.float32), name="flat")
    dock = _docked(viewer, Failing())
    _click(dock, image, [5, 5])
    _wait(qtbot, dock)
    assert "error: model exploded" in dock.status and dock.preview.data.sum() == 0
    dock.commit()
    assert "nothing to commit" in dock.status and "ifss labels" not in viewer.layers


def test_dock_opens_from_the_plugin_manifest(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 16, 16), np.uint8), name="vol")
    _, dock = viewer.window.add_plugin_dock_widget("napari-ifss", "Interactive segmentation")
    assert isinstance(dock, InteractiveDock)
    assert dock.image is viewer.layers["vol"]
    assert {"ifss prompts", "ifss preview"} <= {ly.name for ly in viewer.layers}
    assert not dock.runner.session.segmenter_loaded  # the model loads on the first click only
    assert viewer.layers.selection.active is dock.prompts and dock.prompts.mode == "add"
    flat = viewer.add_image(np.zeros((16, 20), np.uint8), name="flat", scale=(3, 3))
    dock.reset_choices()
    dock._image_box.value = flat  # switching images rebuilds the helper layers
    names = [ly.name for ly in viewer.layers]
    assert names.count("ifss prompts") == 1 and names.count("ifss preview") == 1
    assert dock.prompts.ndim == 2 and dock.prompts.scale.tolist() == [3, 3]
    assert dock.preview.data.shape == (16, 20)
    viewer.layers.remove(flat)  # removing the image falls back to another one
    qtbot.waitUntil(lambda: dock.image is viewer.layers["vol"] and dock.prompts is not None)
    assert dock.prompts.ndim == 3 and dock.prompts in viewer.layers
    viewer.layers.remove(dock.prompts)  # deleting a helper layer brings it back
    qtbot.waitUntil(lambda: "ifss prompts" in viewer.layers)
    assert [ly.name for ly in viewer.layers].count("ifss preview") == 1


def test_keys_on_the_prompt_layer(make_napari_viewer, qtbot):
    viewer, image, dock = _setup(make_napari_viewer, _stack())
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, "t")
    assert dock.prompts.feature_defaults["positive"].tolist() == [False]
    qtbot.keyClick(canvas, "t")
    viewer.dims.set_current_step(0, 3)
    _click(dock, image, [3, 20, 20])
    _click(dock, image, [3, 44, 44])
    _wait(qtbot, dock)
    qtbot.keyClick(canvas, "u")  # undo the newest click
    _wait(qtbot, dock)
    assert len(dock.prompts.data) == 1 and dock.preview.data[3, 44, 44] == 0
    qtbot.keyClick(canvas, "c")  # commit
    assert viewer.layers["ifss labels"].data[3, 20, 20] == 1


def test_deep_predictor_in_the_worker(make_napari_viewer, qtbot):
    """The real network (random weights: flow and timing report only) in the thread worker."""
    import torch

    from napari_ifss.core.interactive.predictor import ClickPredictor

    torch.set_num_threads(1)
    from napari_ifss.models.registry import build_click_net

    torch.manual_seed(0)
    viewer = make_napari_viewer()
    image = viewer.add_image(_stack(), name="stack")
    dock = _docked(viewer, ClickPredictor(build_click_net("fcfi")))
    viewer.dims.set_current_step(0, 3)
    _click(dock, image, [3, 20, 20])
    _wait(qtbot, dock)
    # timings are in the status line's tooltip (and the log), not in its text
    assert "slice 3: 1 click" in dock.status and "encoding" in dock._status.tooltip
    assert " ms" not in dock.status
    _click(dock, image, [3, 44, 44])
    _wait(qtbot, dock)
    assert "slice 3: 2 clicks" in dock.status and "encoding" not in dock._status.tooltip  # cached
    changed = np.flatnonzero(dock.preview.data.reshape(8, -1).any(axis=1))
    assert set(changed.tolist()) <= {3}


def test_existing_labels_layer_is_not_the_default_target(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image = viewer.add_image(_stack(), name="stack")
    truth = viewer.add_labels(np.zeros((8, 64, 64), np.int32), name="ground truth")
    dock = _docked(viewer, Counting())
    assert dock.image is image
    viewer.dims.set_current_step(0, 3)
    _click(dock, image, [3, 20, 20])
    _wait(qtbot, dock)
    dock.commit()
    assert truth.data.max() == 0 and viewer.layers["ifss labels"].data[3, 20, 20] == 1



class TwoBlobs(Counting):
    """Always predicts both disks of slice 3, whichever was clicked."""

    def predict(self, clicks, prev_mask=None):
        self.n_predict += 1
        return (_stack()[3] > 100).astype(np.float32)


def test_keep_clicked_regions_checkbox(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image = viewer.add_image(_stack(), name="stack")
    viewer.dims.set_current_step(0, 3)
    dock = _docked(viewer, TwoBlobs())
    _click(dock, image, [3, 20, 20])
    _wait(qtbot, dock)
    assert dock.preview.data[3, 20, 20] and dock.preview.data[3, 44, 44]  # stray blob shown
    dock._clicked_only.value = True
    assert dock.runner.session.keep_clicked_regions
    _click(dock, image, [3, 21, 21])
    _wait(qtbot, dock)
    assert dock.preview.data[3, 20, 20] and not dock.preview.data[3, 44, 44]
    dock.commit()
    _wait(qtbot, dock)
    labels = viewer.layers["ifss labels"].data
    assert labels[3, 20, 20] == 1 and labels[3, 44, 44] == 0


def test_one_object_across_slices_until_new_object(make_napari_viewer, qtbot):
    """#15: the same cell committed on slices 2 and 5 is one label; a second object on a slice
    the current one already covers gets its own id; New object (N) starts a new label."""
    viewer, image, dock = _setup(make_napari_viewer, _stack())
    assert "new label" in dock._object.value
    for z in (2, 5):
        viewer.dims.set_current_step(0, z)
        _click(dock, image, [z, 20, 20])
        _wait(qtbot, dock)
        dock.commit()
    labels = viewer.layers["ifss labels"].data
    assert labels[2, 20, 20] == labels[5, 20, 20] == 1 and labels.max() == 1
    assert "label 1" in dock._object.value
    viewer.dims.set_current_step(0, 5)
    _click(dock, image, [5, 44, 44])  # disk B on a slice where object 1 already is
    _wait(qtbot, dock)
    dock.commit()
    assert labels[5, 44, 44] == 2 and dock.current_object == 2
    dock.new_object()
    assert dock.current_object is None and "new label" in dock._object.value
    viewer.dims.set_current_step(0, 3)
    _click(dock, image, [3, 44, 44])
    _wait(qtbot, dock)
    dock.commit()
    assert labels[3, 44, 44] == 3
    assert dock._new_btn.tooltip and dock._new_btn.text == "New object (N)"


def test_segment_the_current_object_through_all_slices(make_napari_viewer, qtbot):
    """#15: from the Interactive dock, the current object fills the other slices through the
    Few-shot dock's run (progress, cancel) and one Ctrl+Z takes it back."""
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter

    viewer, image, dock = _setup(make_napari_viewer, _stack())
    assert dock.segment_through_volume() is None and "commit" in dock.status
    for z in (2, 5):
        viewer.dims.set_current_step(0, z)
        _click(dock, image, [z, 20, 20])
        _wait(qtbot, dock)
        dock.commit()
    labels = viewer.layers["ifss labels"]
    before = labels.data.copy()
    _, fewshot = viewer.window.add_plugin_dock_widget("napari-ifss", "Few-shot propagation")
    fewshot.segmenter = FewShotSegmenter.default(device="cpu")
    assert dock.segment_through_volume() is fewshot
    qtbot.waitUntil(lambda: not fewshot.busy, timeout=60000)
    assert fewshot._ids.value == "1" and fewshot._labels_box.value is labels
    assert labels.data[3, 20, 20] == 1 and labels.data[4, 20, 20] == 1  # between the commits
    assert labels.data[3, 44, 44] == 0  # the other disk is not this object
    np.testing.assert_array_equal(labels.data[[2, 5]], before[[2, 5]])  # user slices kept
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)


def test_preview_of_a_huge_slice_is_a_pyramid_of_views():
    from napari_ifss._napari.preview_layer import preview_levels

    assert len(preview_levels((3, 512, 512))) == 1
    levels = preview_levels((2, 8192, 5000))
    assert [lv.shape[-2:] for lv in levels] == [(8192, 5000), (4096, 2500), (2048, 1250),
                                                (1024, 625)]
    levels[0][1, 8, 8] = 1  # one array: the coarser levels are views of it
    assert levels[3][1, 1, 1] == 1 and all(np.shares_memory(lv, levels[0]) for lv in levels)
