"""Autosave and restore of prompts and labels in napari: closing napari loses nothing."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.prompt_layer import make_prompt_layer
from napari_ifss._napari.session_autosave import SESSION_DIR_ENV, SessionKeeper, session_folder
from napari_ifss.core.interactive.session_store import load_session
from napari_ifss.core.provenance import RECORD_KEY, TIME_RECORD_KEY

pytestmark = pytest.mark.gui


@pytest.fixture()
def session_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(SESSION_DIR_ENV, str(tmp_path / "sessions"))
    return tmp_path / "sessions"


def _viewer_with_work(make_napari_viewer, image):
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="cells")
    prompts = make_prompt_layer(layer)
    viewer.add_layer(prompts)
    labels = viewer.add_labels(np.zeros(image.shape, np.uint16), name="ifss labels")
    return viewer, layer, prompts, labels


def test_changes_are_saved_after_a_quiet_second_and_restored(make_napari_viewer, qtbot,
                                                             session_dir):
    image = np.random.default_rng(0).random((6, 32, 32)).astype(np.float32)
    viewer, layer, prompts, labels = _viewer_with_work(make_napari_viewer, image)
    messages = []
    keeper = SessionKeeper(messages.append, delay_ms=50)
    keeper.attach(layer, prompts)
    keeper.watch_labels(labels)
    prompts.add([[2, 10, 11]])
    prompts.feature_defaults["positive"] = False
    prompts.add([[4, 20, 5]])
    labels.data_setitem((np.array([2, 2]), np.array([10, 10]), np.array([11, 12])), 3)
    labels.metadata[RECORD_KEY] = {2: ["abc"]}
    labels.metadata[TIME_RECORD_KEY] = {3: ["def"]}  # a movie's runs through time
    folder = session_folder(layer)
    assert folder == session_dir / "cells_6x32x32"
    qtbot.waitUntil(lambda: (folder / "session.json").exists(), timeout=3000)
    keeper.detach()  # saves what is pending
    saved = load_session(folder)
    assert saved.points.tolist() == [[2, 10, 11], [4, 20, 5]]
    assert saved.positive.tolist() == [True, False]
    assert saved.labels[2, 10, 11] == 3 and np.count_nonzero(saved.labels) == 2

    # "napari was closed": a new viewer with the same image finds and restores the session
    viewer2, layer2, prompts2, labels2 = _viewer_with_work(make_napari_viewer, image)
    labels2.data_setitem((np.array([0]), np.array([0]), np.array([0])), 9)  # work of its own
    keeper2 = SessionKeeper(messages.append)
    found = keeper2.saved(layer2)
    assert found is not None and found.click_count == 2
    summary = keeper2.restore(found, prompts2, labels2)
    assert "restored 2 prompts and 2 labelled voxels" in summary
    assert prompts2.data.tolist() == [[2, 10, 11], [4, 20, 5]]
    assert prompts2.features["positive"].tolist() == [True, False]
    assert labels2.data[2, 10, 12] == 3 and labels2.data[0, 0, 0] == 9  # nothing overwritten
    assert labels2.metadata[RECORD_KEY] == {2: ["abc"]}  # int slice keys again
    assert labels2.metadata[TIME_RECORD_KEY] == {3: ["def"]}
    labels2.undo()  # the restore is one undo step
    assert labels2.data[2, 10, 11] == 0 and labels2.data[0, 0, 0] == 9
    assert not messages


def test_no_session_for_another_shape_or_a_damaged_file(make_napari_viewer, session_dir):
    image = np.zeros((6, 32, 32), np.float32)
    viewer, layer, prompts, labels = _viewer_with_work(make_napari_viewer, image)
    messages = []
    keeper = SessionKeeper(messages.append)
    assert keeper.saved(layer) is None
    keeper.attach(layer, prompts)
    prompts.add([[1, 2, 3]])
    assert keeper.save_now() is not None
    other = viewer.add_image(np.zeros((6, 32, 33), np.float32), name="cells")
    assert session_folder(other) != session_folder(layer)
    (session_folder(layer) / "session.json").write_text("{broken")
    assert keeper.saved(layer) is None and "cannot be read" in messages[-1]


def test_an_image_from_a_file_keeps_its_session_beside_it(make_napari_viewer, tmp_path):
    import tifffile

    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((4, 16, 16), np.uint8))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin="napari-ifss")
    assert session_folder(layer) == tmp_path / "stack.tif.ifss"


def test_interactive_dock_offers_and_restores_the_autosaved_session(make_napari_viewer, qtbot):
    from napari_ifss._napari.interactive_dock import InteractiveDock
    from napari_ifss.eval.random_walker import RandomWalkerSegmenter

    rng = np.random.default_rng(1)
    stack = rng.normal(30, 4, (6, 48, 48)).astype(np.float32)
    rr, cc = np.mgrid[:48, :48]
    stack[1:5][:, (rr - 16) ** 2 + (cc - 16) ** 2 <= 49] += 150
    stack[1:5][:, (rr - 34) ** 2 + (cc - 34) ** 2 <= 49] += 150

    def docked():
        viewer = make_napari_viewer()
        image = viewer.add_image(stack, name="stack", scale=(2.0, 1.0, 1.0))
        dock = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=48))
        viewer.window.add_dock_widget(dock)
        return viewer, image, dock

    viewer, image, dock = docked()
    assert dock._restore_btn.native.isHidden()  # nothing saved yet
    viewer.dims.set_point(0, image.data_to_world([2, 0, 0])[0])
    dock.prompts.add([[2, 16, 16]])
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)
    dock.commit()  # label 1, then a prompt on the other disk, left uncommitted
    dock.prompts.add([[3, 34, 34]])
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)
    committed = np.asarray(viewer.layers["ifss labels"].data).copy()
    assert committed[2, 16, 16] == 1
    viewer.close()  # closing saves what is pending

    viewer2, image2, dock2 = docked()
    assert not dock2._restore_btn.native.isHidden()
    assert "(1 prompts)" in dock2._restore_btn.text
    dock2.restore_session()
    assert "restored 1 prompt" in dock2.status
    qtbot.waitUntil(lambda: not dock2.busy, timeout=20000)
    labels = viewer2.layers["ifss labels"]
    assert np.array_equal(labels.data, committed)
    assert dock2.prompts.data.tolist() == [[3, 34, 34]]
    assert viewer2.dims.point[0] == 3 * 2.0  # shows the restored prompt's slice
    assert dock2.preview.data[3, 34, 34] == 1  # and its object is predicted again
    assert dock2._restore_btn.native.isHidden()
    labels.undo()
    assert not np.asarray(labels.data).any()


def test_a_session_with_nothing_in_it_is_not_offered(make_napari_viewer, session_dir):
    """#15: an autosave without prompts or labelled voxels is not offered for restore; one
    with committed labels but no prompts left is (the labels are the work)."""
    image = np.zeros((6, 32, 32), np.float32)
    viewer, layer, prompts, labels = _viewer_with_work(make_napari_viewer, image)
    keeper = SessionKeeper(lambda message: None)
    keeper.attach(layer, prompts)
    keeper.watch_labels(labels)
    assert keeper.save_now() is not None
    assert keeper.saved(layer) is None
    labels.data[2, 5:9, 5:9] = 1
    assert keeper.save_now() is not None
    found = keeper.saved(layer)
    assert found is not None and found.click_count == 0
