"""Pyramid (multiscale) labels: written at full resolution, the coarser levels kept in step,
one undo step each (napari keeps no history for them), read-only levels refused."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr
from napari.layers import Labels
from napari.utils.key_bindings import KeyCode, KeyMod, coerce_keybinding

from napari_ifss._napari.labels_history import (
    check_writable,
    one_undo_step,
    record_as_one_step,
    redo_labels,
    undo_labels,
    write_labels,
)
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.pyramid import (
    is_read_only,
    is_writable,
    level_factors,
    strided_levels,
    write_levels,
)

UNDO = coerce_keybinding(KeyMod.CtrlCmd | KeyCode.KeyZ)  # napari's own (Cmd on macOS)
REDO = coerce_keybinding(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ)


def test_strided_levels_are_views_of_one_array():
    assert len(strided_levels((3, 512, 512))) == 1
    levels = strided_levels((2, 8192, 5000), np.uint32)
    assert [lv.shape for lv in levels] == [(2, 8192, 5000), (2, 4096, 2500), (2, 2048, 1250),
                                           (2, 1024, 625)]
    assert all(lv.dtype == np.uint32 for lv in levels)
    levels[0][1, 8, 8] = 7
    assert levels[3][1, 1, 1] == 7 and all(np.shares_memory(lv, levels[0]) for lv in levels)


def test_write_levels_reaches_separate_coarser_levels_on_their_grid():
    full = np.zeros((8, 8), np.int32)
    half = zarr.create_array(store={}, shape=(4, 4), dtype="int32", fill_value=0)
    quarter = np.zeros((2, 2), np.int32)
    idx = (np.array([0, 2, 3, 4, 6]), np.array([0, 2, 3, 4, 5]))
    write_levels([full, half, quarter], idx, np.array([1, 2, 3, 4, 5], np.int32))
    assert full[idx].tolist() == [1, 2, 3, 4, 5]
    expected_half = np.zeros((4, 4), np.int32)
    expected_half[0, 0], expected_half[1, 1], expected_half[2, 2] = 1, 2, 4  # even (r, c) only
    np.testing.assert_array_equal(half[:], expected_half)
    assert quarter.tolist() == [[1, 0], [0, 4]]
    write_levels([full, half, quarter], idx, 0)  # one value for all
    assert not full.any() and not np.any(half[:]) and not quarter.any()


def test_level_factors_and_writability():
    assert level_factors((10, 4096, 4096), (10, 1024, 1024)) == (1, 4, 4)
    assert level_factors((5, 5), (3, 3)) == (2, 2)  # odd sizes round
    # deep levels of a 20000 px slide, sides rounded up (157) or down (39): powers of two
    assert level_factors((20000, 20000, 5000), (157, 39, 79)) == (128, 512, 64)
    with pytest.raises(InvalidInputError, match="does not fit"):
        level_factors((64, 64), (128, 64))
    with pytest.raises(InvalidInputError, match="does not fit"):
        level_factors((64,), (50,))  # no integer factor makes 50 of 64
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    assert is_writable(np.zeros(3)) and not is_writable(frozen)
    assert not is_writable(da.zeros(3))
    assert is_read_only(frozen) and not is_read_only(np.zeros(3))
    assert not is_read_only(da.zeros(3))  # unknown: an out= the user chose is tried
    assert not is_writable(zarr.open_array(zarr.create_array(store={}, shape=(2,), dtype="u1")
                                           .store, mode="r"))


def _pyramid_layer() -> tuple[Labels, np.ndarray, np.ndarray]:
    """A 2-level labels layer whose coarse level is a separate array."""
    full, coarse = np.zeros((64, 64), np.uint16), np.zeros((32, 32), np.uint16)
    return Labels([full, coarse], multiscale=True, name="slide labels"), full, coarse


def test_a_write_into_a_pyramid_layer_is_one_undo_step_bound_to_ctrl_z():
    layer, full, coarse = _pyramid_layer()
    painted = []
    layer.events.paint.connect(lambda e: painted.append(e.value))
    full[10, 10] = 3  # painted before (no history)
    idx = (np.array([10, 10, 40]), np.array([10, 11, 42]))
    assert write_labels(layer, idx, 5) == 3
    assert len(painted) == 1  # as napari's own writes: the docks and autosave hear of it
    assert full[idx].tolist() == [5, 5, 5] and coarse[5, 5] == 5 and coarse[20, 21] == 5
    write_labels(layer, (np.array([0]), np.array([0])), 9)
    undo_labels(layer)  # the second write
    assert full[0, 0] == 0 and full[40, 42] == 5
    layer.keymap[UNDO](layer)  # the layer's own Ctrl+Z: the first
    assert full[10, 10] == 3 and full[10, 11] == 0 and full[40, 42] == 0 and coarse[20, 21] == 0
    assert coarse[5, 5] == 3  # the value before, on the coarse level too
    undo_labels(layer)  # nothing left: no change
    assert full[10, 10] == 3
    redo_labels(layer)
    assert full[40, 42] == 5 and full[0, 0] == 0
    layer.keymap[REDO](layer)
    assert full[0, 0] == 9 and len(painted) == 6  # 2 writes, 2 undos, 2 redos


def test_several_writes_in_one_undo_step_and_a_run_recorded_afterwards():
    layer, full, coarse = _pyramid_layer()
    with one_undo_step(layer):
        write_labels(layer, (np.array([2]), np.array([2])), 1)
        full[30:34, 30:34] = 2  # written straight in, slice by slice, during a run
        idx = tuple(a.ravel() for a in np.mgrid[30:34, 30:34])
        record_as_one_step(layer, idx, np.zeros(16, np.uint16))
    assert coarse[15, 15] == 2  # the coarse level is brought up to date
    undo_labels(layer)
    assert not full.any() and not coarse.any()


def test_a_pyramid_with_a_read_only_level_is_refused_before_any_write():
    full = np.zeros((64, 64), np.uint8)
    layer = Labels([full, da.zeros((32, 32), dtype=np.uint8)], multiscale=True,
                   name="ome labels")
    with pytest.raises(InvalidInputError, match="'ome labels'.*level 1 is read-only"):
        check_writable(layer)
    with pytest.raises(InvalidInputError, match="read-only"):
        write_labels(layer, (np.array([1]), np.array([1])), 4)
    assert not full.any()


def test_plain_layers_keep_napari_history():
    data = np.zeros((16, 16), np.uint8)
    layer = Labels(data)
    with one_undo_step(layer):
        write_labels(layer, (np.array([1]), np.array([1])), 2)
        write_labels(layer, (np.array([3]), np.array([3])), 4)
    undo_labels(layer)
    assert not data.any()
    redo_labels(layer)
    assert data[1, 1] == 2 and data[3, 3] == 4


@pytest.mark.gui
def test_interactive_dock_commits_into_a_pyramid_on_a_huge_slice(make_napari_viewer, qtbot):
    """A slice longer than 4096 px: the labels layer the dock makes is a pyramid of views
    (napari draws a small level), the commit writes full resolution, Ctrl+Z takes it back."""
    from napari_ifss._napari.interactive_dock import InteractiveDock
    from napari_ifss.eval.random_walker import RandomWalkerSegmenter

    image = np.full((4200, 4300), 20, np.uint8)
    rr, cc = np.ogrid[:4200, :4300]
    image[(rr - 1000) ** 2 + (cc - 1200) ** 2 <= 600 ** 2] = 200
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="slide")
    dock = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=64))
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(layer.data_to_world([1000, 1200]))
                                )[None])
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    dock.commit()
    labels = viewer.layers["ifss labels"]
    assert labels.multiscale and [lv.shape for lv in labels.data][-1] == (1050, 1075)
    full = labels.data[0]
    assert full[1000, 1200] == 1 and full[1000, 2000] == 0 and labels.data[-1][250, 300] == 1
    assert "committed label 1" in dock.status
    labels.keymap[UNDO](labels)
    assert not full[900:1100, 1100:1300].any()


@pytest.mark.gui
def test_fewshot_dock_propagates_into_a_pyramid_labels_layer(make_napari_viewer, qtbot):
    from napari_ifss._napari.fewshot_dock import FewShotDock
    from napari_ifss.core.data.sample import make_synthetic_cells

    image, truth = make_synthetic_cells((10, 64, 64), n_cells=5, seed=1)
    cell = int(np.bincount(truth[4].ravel())[1:].argmax() + 1)
    full = np.where(truth == cell, cell, 0).astype(np.int32)
    full[[z for z in range(10) if z != 4]] = 0  # one annotated slice
    coarse = full[:, ::2, ::2].copy()  # a separate coarser level, as OME-Zarr stores labels
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    layer = viewer.add_labels([full, coarse], multiscale=True, name="labels")
    dock = FewShotDock(viewer)
    viewer.window.add_dock_widget(dock, name="Few-shot propagation")
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("done: "), dock.status
    filled = [z for z in range(10) if z != 4 and np.any(full[z] == cell)]
    assert len(filled) >= 2
    for z in filled:  # the coarse level shows the run too
        np.testing.assert_array_equal(coarse[z], full[z, ::2, ::2])
    layer.keymap[UNDO](layer)  # the run is one undo step
    assert not full[filled].any() and not coarse[filled].any() and np.any(full[4] == cell)


def test_ifss_propagate_refuses_a_read_only_pyramid_layer_before_the_run():
    import napari_ifss as ifss
    from napari_ifss.core.data.sample import make_synthetic_cells

    image, truth = make_synthetic_cells((8, 48, 48), n_cells=4, seed=3)
    full = np.where(truth == 1, 1, 0).astype(np.uint8)
    full[[0, 1, 2, 4, 5, 6, 7]] = 0
    layer = Labels([full, da.from_array(full[:, ::2, ::2])], multiscale=True, name="ome")
    with pytest.raises(InvalidInputError, match="'ome'.*level 1 is read-only"):
        ifss.propagate(image, layer)
    assert np.count_nonzero(full) == np.count_nonzero(truth[3] == 1)  # nothing written
