"""#20 (4): on a time series (napari's axis label "t") the docks speak of time points."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.interactive.plane import Plane, axis_noun


def test_plane_words():
    plane = Plane(3, (1, 2), ((0, 4),))
    assert plane.description == "slice 4"
    assert plane.describe(("t", "y", "x")) == "time point 4"
    assert plane.describe(("z", "y", "x")) == "slice 4"
    assert axis_noun("Time", 2) == "time points" and axis_noun(None) == "slice"
    movie_plane = Plane(4, (2, 3), ((0, 2), (1, 4)))  # a 3D movie's (t, z) plane
    assert movie_plane.describe(("t", "z", "y", "x")) == "time point 2, slice 4"
    assert movie_plane.describe(("0", "1", "2", "3")) == "axis 0 = 2, axis 1 = 4"


@pytest.mark.gui
def test_docks_say_time_point_on_a_time_series(make_napari_viewer, qtbot):
    from napari_ifss._napari.fewshot_dock import FewShotDock
    from napari_ifss._napari.interactive_dock import InteractiveDock

    movie, truth = make_synthetic_cells((8, 64, 64), n_cells=5, seed=2)
    viewer = make_napari_viewer()
    layer = viewer.add_image(movie, name="movie", axis_labels=("t", "y", "x"))
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    viewer.dims.set_current_step(0, 3)
    cell = int(np.bincount(truth[3].ravel())[1:].argmax() + 1)
    rows, cols = np.nonzero(truth[3] == cell)
    point = [3, int(np.median(rows)), int(np.median(cols))]
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(layer.data_to_world(point)))[None])
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("time point 3: 1 click"), dock.status
    dock.commit()
    assert dock.status.endswith("on 1 time point)"), dock.status
    fewshot = FewShotDock(viewer)
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation")
    fewshot.refresh_support()
    assert "time point 3" in fewshot._support.value, fewshot._support.value
