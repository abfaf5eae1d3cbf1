"""#20 (6): the Few-shot dock on a dask image and a zarr labels layer (lazy arrays)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.provenance import RECORD_KEY

pytestmark = pytest.mark.gui


def test_fewshot_dock_propagates_a_dask_image_into_zarr_labels(make_napari_viewer, qtbot,
                                                                tmp_path):
    image, truth = make_synthetic_cells((12, 64, 64), n_cells=6, seed=1)
    cell = int(np.bincount(truth[5].ravel())[1:].argmax() + 1)
    store = zarr.create_array(str(tmp_path / "labels.zarr"), shape=truth.shape, dtype="int32",
                              chunks=(1, 64, 64), fill_value=0)
    store[5] = np.where(truth[5] == cell, cell, 0)
    viewer = make_napari_viewer()
    viewer.add_image(da.from_array(image, chunks=(1, 64, 64)), name="cells")
    layer = viewer.add_labels(store, name="labels")
    dock = FewShotDock(viewer)
    viewer.window.add_dock_widget(dock, name="Few-shot propagation")
    assert dock._support.value == f"label {cell}: slice 5"  # read lazily, slice by slice
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("done: "), dock.status
    filled = [z for z in range(12) if z != 5 and np.any(store[z] == cell)]
    assert len(filled) >= 2  # written into the zarr store itself
    assert layer.metadata[RECORD_KEY]  # the propagated slices are recorded
    qtbot.waitUntil(lambda: dock.quality.rows != [], timeout=60000)
    assert {r.label_id for r in dock.quality.rows} == {cell}
    dock.refresh_support()  # a second look: the propagated slices are not annotations
    assert dock._support.value.startswith(f"label {cell}: slice 5\n")
    assert f"{len(filled)} propagated slices" in dock._support.value
    layer.undo()  # the run is one undo step, in the zarr store too
    assert not any(np.any(store[z]) for z in range(12) if z != 5)
    assert np.array_equal(store[5], np.where(truth[5] == cell, cell, 0))


def _click_biggest_cell(viewer, dock, layer, truth, z, qtbot) -> list[int]:
    """One click at the centre of slice ``z``'s biggest cell, through world coordinates;
    waits for the preview and returns the clicked (z, row, col)."""
    viewer.dims.set_current_step(0, z)
    cell = int(np.bincount(truth[z].ravel())[1:].argmax() + 1)
    rows, cols = np.nonzero(truth[z] == cell)
    point = [z, int(np.median(rows)), int(np.median(cols))]
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(layer.data_to_world(point)))[None])
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    return point


def test_interactive_dock_clicks_a_dask_image_and_commits_into_zarr_labels(
        make_napari_viewer, qtbot, tmp_path):
    from napari_ifss._napari.interactive_dock import InteractiveDock

    image, truth = make_synthetic_cells((8, 64, 64), n_cells=5, seed=2)
    store = zarr.create_array(str(tmp_path / "labels.zarr"), shape=truth.shape,
                              dtype="int32", chunks=(1, 64, 64), fill_value=0)
    viewer = make_napari_viewer()
    layer = viewer.add_image(da.from_array(image, chunks=(1, 64, 64)), name="cells")
    labels = viewer.add_labels(store, name="my labels")
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    dock._labels_box.value = labels
    point = _click_biggest_cell(viewer, dock, layer, truth, 3, qtbot)
    assert dock.preview.data[tuple(point)] == 1
    dock.commit()
    assert store[tuple(point)] == 1 and not np.any(store[2]) and not np.any(store[4])
    labels.undo()
    assert not np.any(store[3])


def test_docks_read_level_0_of_a_multiscale_layer(make_napari_viewer, qtbot):
    """#20 (5): a pyramid (napari multiscale layer, e.g. from OME-Zarr): the models read the
    full-resolution level; clicks map to it through napari's level-0 data coordinates."""
    from napari_ifss._napari.interactive_dock import InteractiveDock

    image, truth = make_synthetic_cells((8, 64, 64), n_cells=5, seed=2)
    pyramid = [da.from_array(image, chunks=(1, 64, 64)), image[:, ::2, ::2]]
    viewer = make_napari_viewer()
    layer = viewer.add_image(pyramid, multiscale=True, name="cells")
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    point = _click_biggest_cell(viewer, dock, layer, truth, 3, qtbot)
    mask = dock.preview.data[3] > 0
    assert dock.preview.data.shape == (8, 64, 64)  # full resolution
    import napari_ifss as ifss

    alone = ifss.segment_clicks(image[3], [point[1:]])  # the same click on the level-0 slice
    assert 2 * (mask & alone).sum() / (mask.sum() + alone.sum()) > 0.98
    dock.commit()
    labels = viewer.layers["ifss labels"]
    fewshot = FewShotDock(viewer)
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation")
    fewshot._image_box.value, fewshot._labels_box.value = layer, labels
    fewshot.propagate()
    qtbot.waitUntil(lambda: not fewshot.busy, timeout=60000)
    assert fewshot.status.startswith("done: "), fewshot.status
    assert labels.data[2].any() or labels.data[4].any()


def test_interactive_dock_on_a_large_lazy_2d_image(make_napari_viewer, qtbot, monkeypatch):
    """#20 (1): a 2048 x 2048 mosaic as a dask pyramid: the dock hands the click model the lazy
    slice (read region by region) and the click gives the cell, nothing far from it."""
    from napari_ifss._napari.interactive_dock import InteractiveDock
    from napari_ifss.core.interactive.session import InteractiveSession

    tile, truth_tile = make_synthetic_cells((512, 512), n_cells=30, seed=7, spacing=(0.35, 0.35))
    image = np.tile(tile, (4, 4))
    truth = np.zeros(image.shape, truth_tile.dtype)
    truth[1024:1536, 1024:1536] = truth_tile
    given = []
    original = InteractiveSession.set_image
    monkeypatch.setattr(InteractiveSession, "set_image",
                        lambda self, img, *a, **k: (given.append(img), original(self, img, *a, **k))[1])
    viewer = make_napari_viewer()
    pyramid = [da.from_array(image, chunks=(512, 512)), image[::4, ::4]]
    layer = viewer.add_image(pyramid, multiscale=True, name="mosaic")
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    cell = int(np.bincount(truth.ravel())[1:].argmax() + 1)
    rows, cols = np.nonzero(truth == cell)
    point = [int(np.median(rows)), int(np.median(cols))]
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(layer.data_to_world(point)))[None])
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert given and not isinstance(given[-1], np.ndarray)  # the slice stayed lazy
    mask = dock.preview.data > 0
    assert mask.shape == image.shape and mask[tuple(point)]
    gt = truth == cell
    assert (mask & gt).sum() / (mask | gt).sum() > 0.5
    far = np.ones(image.shape, bool)
    far[point[0] - 400:point[0] + 400, point[1] - 400:point[1] + 400] = False
    assert not mask[far].any()
