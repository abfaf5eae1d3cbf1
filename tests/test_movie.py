"""#20 (4): a 3D movie (T, Z, Y, X) followed through z within a time point or through time."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

import napari_ifss as ifss
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError, UnsupportedFormatError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.movie import FixedIndex, annotated_units
from napari_ifss.eval.metrics import iou

T = 6


def moving_cells() -> tuple[np.ndarray, np.ndarray, int]:
    """``(movie (T, 8, 48, 48), truth, cell)``: cells drifting 2 px per frame along x."""
    vol, truth = make_synthetic_cells((8, 48, 48), n_cells=5, seed=4)
    movie = np.stack([np.roll(vol, 2 * t, axis=2) for t in range(T)])
    labels = np.stack([np.roll(truth, 2 * t, axis=2) for t in range(T)])
    cell = int(np.bincount(truth[4].ravel())[1:].argmax() + 1)
    return movie, labels == cell, cell


def test_fixed_index_reads_and_writes_one_plane_at_a_time():
    store = zarr.zeros((3, 4, 5, 6), chunks=(1, 1, 5, 6), dtype=np.uint16)
    view = FixedIndex(store, 1, 2)  # store[:, 2]: a (3, 5, 6) stack
    assert view.shape == (3, 5, 6) and len(view) == 3 and view.dtype == np.uint16
    view[1] = np.full((5, 6), 7, np.uint16)
    assert store[1, 2].min() == 7 and store[1, 1].max() == 0 and view[1].max() == 7
    labels = np.zeros((3, 4, 5, 6), np.uint8)
    labels[2, 1, 0, 0] = 1
    labels[0, 3, 1, 1] = 4
    assert annotated_units(labels, "z") == {0: [4], 2: [1]}
    assert annotated_units(labels, "t") == {1: [1], 3: [4]}


def test_movie_along_z_then_through_time():
    movie, truth, cell = moving_cells()
    labels = np.zeros(truth.shape, np.uint8)
    labels[2, 4][truth[2, 4]] = 1
    within = ifss.propagate(movie, labels, along="z")
    assert iou(within[2] == 1, truth[2]) > 0.5  # time point 2 filled through z
    assert not within[[0, 1, 3, 4, 5]].any()  # other time points untouched
    through = ifss.propagate(da.from_array(movie, chunks=(1, 1, 48, 48)), within, along="t")
    np.testing.assert_array_equal(through[2], within[2])  # the annotated frame is kept
    for t in (0, 5):
        assert iou(through[t] == 1, truth[t]) > 0.5, t
    # into a zarr out, plane by plane
    out = zarr.zeros(movie.shape, chunks=(1, 1, 48, 48), dtype=np.uint8)
    out[:] = within
    ifss.propagate(movie, within, along="t", out=out)
    np.testing.assert_array_equal(out[:], through)


def test_movie_needs_a_choice_and_refuses_what_does_not_fit():
    movie, truth, _ = moving_cells()
    labels = np.zeros(truth.shape, np.uint8)
    labels[2, 4][truth[2, 4]] = 1
    with pytest.raises(InvalidInputError, match="choose along='z'"):
        ifss.propagate(movie, labels)
    with pytest.raises(InvalidInputError, match="along must be"):
        ifss.propagate(movie, labels, along="x")
    with pytest.raises(InvalidInputError, match="along= is for a 3D movie"):
        ifss.propagate(movie[0], labels[0], along="z")
    with pytest.raises(InvalidInputError, match="slices= applies"):
        ifss.propagate(movie, labels, along="t", slices=[1])
    with pytest.raises(InvalidInputError, match="labels are empty"):
        ifss.propagate(movie, np.zeros_like(labels), along="t")
    with pytest.raises(InvalidInputError, match="one \\(T, Z, Y, X\\) shape"):
        ifss.propagate(movie, labels[:, :4], along="t")
    with pytest.raises(InvalidInputError, match="3D movie"):
        ifss.propagate(movie, labels[0])  # 4D image, 3D labels: the hint names movies
    with pytest.raises(InvalidInputError, match=r"label id\(s\) \[7\] do not occur"):
        ifss.propagate(movie, labels, along="t", label_ids=7)
    nan = movie.astype(np.float32)
    nan[5, 0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        ifss.propagate(nan, labels, along="z")


def test_one_label_of_several_and_movies_saved_as_tiff(tmp_path):
    movie, truth, _ = moving_cells()
    labels = np.zeros(truth.shape, np.uint8)
    labels[2, 4][truth[2, 4]] = 1
    labels[4, 1, :3, :3] = 2  # another object, on another time point
    filled = ifss.propagate(movie, labels, along="z", label_ids=1)
    assert filled[2].sum() > labels[2].sum()
    np.testing.assert_array_equal(filled[4], labels[4])  # label 2 not run
    # a movie's labels are saved as an OME-TIFF (TZYX) that opens again as a movie
    like = ifss.LayerData(movie, "image", "m", (1.0, 2.0, 0.5, 0.5), (0.0,) * 4,
                          metadata={"axes": "TZYX"})
    ifss.save(tmp_path / "m.tif", filled, like=like)
    back = ifss.open_image(tmp_path / "m.tif", time="all", as_labels=True)
    np.testing.assert_array_equal(back.data, filled)
    assert back.axes == "TZYX" and back.scale[1:] == (2.0, 0.5, 0.5)
    with pytest.raises(InvalidInputError, match="not 2D, 3D"):
        ifss.save(tmp_path / "x.tif", filled)  # 4 axes and nothing says they are a movie
    with pytest.raises(UnsupportedFormatError, match="saved as .tif"):
        ifss.save(tmp_path / "m.nii.gz", filled, like=like)


@pytest.mark.gui
def test_movie_in_napari_clicks_commit_and_console_propagation(make_napari_viewer, qtbot,
                                                                tmp_path):
    """A 4D (t, z, y, x) layer: the Interactive dock clicks and commits on a (y, x) plane and
    names it; ifss.propagate(..., along=) from the console and the Few-shot dock (through z,
    then through time) fill the labels layer, each run one undo step."""
    from napari_ifss._napari.fewshot_dock import FewShotDock
    from napari_ifss._napari.interactive_dock import InteractiveDock
    from napari_ifss.eval.random_walker import RandomWalkerSegmenter

    movie, truth, _ = moving_cells()
    viewer = make_napari_viewer()
    image = viewer.add_image(movie, name="movie", axis_labels=("t", "z", "y", "x"))
    dock = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=64))
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    viewer.dims.set_current_step(0, 2)
    viewer.dims.set_current_step(1, 4)
    rows, cols = np.nonzero(truth[2, 4])
    dock.prompts.add(np.array([[2, 4, np.median(rows), np.median(cols)]]))
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("time point 2, slice 4: 1 click"), dock.status
    dock.commit()
    labels = viewer.layers["ifss labels"]
    assert labels.data.shape == movie.shape and labels.data[2, 4].any()
    assert not labels.data[[0, 1, 3, 4, 5]].any()
    before = np.array(labels.data)
    ifss.propagate("movie", "ifss labels", along="z")  # the console: the layer is updated
    assert labels.data[2].sum() > before[2].sum() and not labels.data[0].any()
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)

    # the Few-shot dock: through z, then that 3D object through time, each one Ctrl+Z
    fewshot = FewShotDock(viewer, segmenter=FewShotSegmenter.default(device="cpu"))
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation")
    fewshot._image_box.value, fewshot._labels_box.value = image, labels
    assert not fewshot._along.native.isHidden() and fewshot._along.value == "z"
    assert fewshot.support_text == "label 1: time point 2: slice 4"
    fewshot.propagate()
    qtbot.waitUntil(lambda: not fewshot.busy, timeout=60000)  # the run, then its badges
    assert fewshot.status.startswith("done: 1/1 time points"), fewshot.status
    within = ifss.propagate(movie, before, along="z")
    np.testing.assert_array_equal(labels.data, within)
    # quality badges, numbered as the movie's planes t * Z + z: time point 2's slices
    rows = fewshot.quality.rows
    filled = [2 * 8 + z for z in range(8) if z != 4 and within[2, z].any()]
    assert rows and {r.z for r in rows if r.badge != "empty"} == set(filled)
    assert fewshot.quality.table.horizontalHeaderItem(0).text() == "t, z"
    assert fewshot.quality.table.item(0, 0).text() == f"2, {rows[0].z - 16}"
    row = fewshot.quality.annotate_next()
    assert viewer.dims.current_step[:2] == divmod(row.z, 8)  # the viewer went there
    assert f"slice t=2 z={row.z - 16}" in fewshot.quality.status
    csv = tmp_path / "scores.csv"
    fewshot.quality.export_csv(csv)
    assert csv.read_text().splitlines()[0] == "time_point,slice,label_id,score,badge"
    fewshot._along.value = "t"  # the planes filled through z are annotations for this run
    assert fewshot.support_text.startswith("label 1: time point 2: slices ")
    fewshot.propagate()
    qtbot.waitUntil(lambda: not fewshot.busy, timeout=60000)
    n_planes = int(within[2].any(axis=(1, 2)).sum())
    assert fewshot.status.startswith(f"done: {n_planes}/{n_planes} z planes"), fewshot.status
    through = np.array(labels.data)
    np.testing.assert_array_equal(through, ifss.propagate(movie, within, along="t"))
    assert through[0].any() and through[5].any()
    # badges of the run through time: the other time points (time point 2 is its evidence)
    scored = {r.z for r in fewshot.quality.rows if r.badge != "empty"}
    assert {p // 8 for p in scored} == {0, 1, 3, 4, 5}
    assert {p % 8 for p in scored} <= {z for z in range(8) if within[2, z].any()}
    fewshot._along.value = "z"  # through z again: the planes filled through time count
    text = fewshot.support_text
    assert f"{n_planes - 1} propagated planes (recomputed by the next run)" in text, text
    assert "label 1: time point 0: slices " in text, text
    labels.undo()
    np.testing.assert_array_equal(labels.data, within)
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)
    fewshot._mode.value = "z range"
    fewshot.propagate()
    assert "followed whole" in fewshot.status and not fewshot.busy
    np.testing.assert_array_equal(labels.data, before)  # nothing written
    # File > Save of the 4D labels layer (first axis "t"): an OME-TIFF movie
    labels.axis_labels = ("t", "z", "y", "x")
    viewer.layers.selection = {labels}
    written = viewer.layers.save(str(tmp_path / "movie_labels.tif"), selected=True,
                                 plugin="napari-ifss")
    back = ifss.open_image(written[0], time="all", as_labels=True)
    np.testing.assert_array_equal(back.data, labels.data)


def test_cli_propagates_a_movie_file(tmp_path, capsys):
    import tifffile

    from napari_ifss.cli import main

    movie, truth, _ = moving_cells()
    image = tmp_path / "movie.ome.tif"
    tifffile.imwrite(image, movie, ome=True, metadata={"axes": "TZYX"})
    labels = np.zeros(truth.shape, np.uint8)
    labels[2, 4][truth[2, 4]] = 1
    like = ifss.LayerData(movie, "image", "m", (1.0,) * 4, (0.0,) * 4,
                          metadata={"axes": "TZYX"})
    support = tmp_path / "support.tif"
    ifss.save(support, labels, like=like)
    out = tmp_path / "out.tif"
    assert main(["propagate", str(image), "--support", str(support), "--out", str(out),
                 "--along", "z", "--quiet"]) == 0
    back = ifss.open_image(out, time="all", as_labels=True)
    np.testing.assert_array_equal(back.data, ifss.propagate(movie, labels, along="z"))
    assert main(["propagate", str(image), "--support", str(support), "--out",
                 str(tmp_path / "o.nii.gz"), "--along", "t"]) == 1
    assert "give --out a .tif" in capsys.readouterr().err
    # the model options count for a movie as for a stack (they were ignored before)
    assert main(["propagate", str(image), "--support", str(support), "--out",
                 str(tmp_path / "w.tif"), "--along", "z", "--method", "learner",
                 "--weights", str(tmp_path / "w.pt")]) == 1
    assert "choose the few-shot head" in capsys.readouterr().err
    head = tmp_path / "head.tif"
    assert main(["propagate", str(image), "--support", str(support), "--out", str(head),
                 "--along", "z", "--method", "head", "--quiet"]) == 0
    np.testing.assert_array_equal(ifss.open_image(head, time="all", as_labels=True).data,
                                  ifss.propagate(movie, labels, along="z", method="head"))
    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, movie[0], metadata={"axes": "ZYX"})
    assert main(["propagate", str(flat), "--support", str(support), "--out",
                 str(tmp_path / "o2.tif"), "--along", "t"]) == 1
    assert "needs a 3D movie" in capsys.readouterr().err
