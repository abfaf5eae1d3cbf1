""""Segment all like this" in the Interactive segmentation dock (headless napari viewer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.eval.clicker import first_click
from napari_ifss.eval.exemplar_protocol import choose_exemplar
from napari_ifss.eval.random_walker import RandomWalkerSegmenter

pytestmark = pytest.mark.gui
torch.set_num_threads(1)


def _dock(make_napari_viewer, data):
    viewer = make_napari_viewer()
    image = viewer.add_image(data, name="cells")
    dock = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=128))
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    return viewer, image, dock


def _commit_cell(qtbot, dock, image, truth2d, prefix=()):
    """Click the interior point of the median-sized cell of ``truth2d`` and commit it."""
    click = first_click(truth2d == choose_exemplar(truth2d))
    world = image.data_to_world([*prefix, click.row, click.col])
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(world))[None])
    qtbot.waitUntil(lambda: not dock.busy, timeout=20000)
    dock.commit()
    return click.pixel


def _run(qtbot, dock):
    dock.exemplar.run()
    assert dock.exemplar.busy
    qtbot.waitUntil(lambda: not dock.exemplar.busy, timeout=60000)


def test_segment_all_like_the_committed_cell(make_napari_viewer, qtbot):
    image_data, truth = make_synthetic_cells((128, 128), n_cells=16, seed=0)
    viewer, image, dock = _dock(make_napari_viewer, image_data)
    dock.exemplar.run()  # nothing committed yet
    assert "commit an object first" in dock.status and not dock.exemplar.busy

    r, c = _commit_cell(qtbot, dock, image, truth)
    labels = viewer.layers["ifss labels"]
    assert labels.data[r, c] == 1 and dock.last_committed == 1
    user_cell = next(i for i in np.unique(truth)[1:] if not np.any(labels.data[truth == i]))
    labels.data[truth == user_cell] = 9  # the user painted another cell
    before = np.array(labels.data)

    _run(qtbot, dock)
    after = np.array(labels.data)
    new = set(np.unique(after).tolist()) - set(np.unique(before).tolist())
    assert len(new) >= 5 and min(new) >= 10  # new ids above every existing one
    assert np.array_equal(after[before != 0], before[before != 0])  # user voxels unchanged
    assert f"found {len(new)} objects like label 1" in dock.status
    assert dock.exemplar.progress_bar is None
    labels.undo()  # one Ctrl+Z removes all of them
    assert np.array_equal(labels.data, before)


def test_all_slices_of_a_stack_in_one_undo_step(make_napari_viewer, qtbot):
    stack, truth = make_synthetic_cells((8, 96, 96), n_cells=10, seed=4)
    viewer, image, dock = _dock(make_napari_viewer, stack)
    viewer.dims.set_current_step(0, 4)
    _commit_cell(qtbot, dock, image, truth[4], prefix=(4,))
    labels = viewer.layers["ifss labels"]
    before = np.array(labels.data)
    assert set(np.flatnonzero(before.reshape(8, -1).any(axis=1))) == {4}
    dock.exemplar.all_slices.value = True
    _run(qtbot, dock)
    after = np.array(labels.data)
    assert np.array_equal(after[before != 0], before[before != 0])
    written = np.flatnonzero(((after != 0) & (before == 0)).reshape(8, -1).any(axis=1))
    assert len(written) >= 5  # objects on most slices, not only on the exemplar's
    assert "found" in dock.status
    labels.undo()
    assert np.array_equal(labels.data, before)


def test_tiles_of_a_large_slice_move_the_progress_bar(make_napari_viewer):
    """A large slice is found tile by tile: the bar counts its tiles, then its one plane."""
    from napari.utils import progress

    from napari_ifss._napari.exemplar_action import Found
    from napari_ifss.core.exemplar.exemplar_tiles import TileProgress
    from napari_ifss.core.interactive.plane import Plane

    _, _, dock = _dock(make_napari_viewer, np.zeros((64, 64), np.float32))
    action = dock.exemplar
    action.progress_bar = bar = progress(total=1, desc="segment all like this")
    try:
        action._on_found(TileProgress(1, 9))
        assert bar.total == 9 and bar.n == 1 and "1/9 parts of the slice" in dock.status
        action._on_found(TileProgress(9, 9))
        action._on_found(Found(Plane(2, (0, 1), ()), np.zeros((64, 64), np.int32), 1, 1))
        assert bar.n == 9 and len(action._parts) == 1 and "1/1 slices" in dock.status
    finally:
        bar.close()
        action.progress_bar = None
