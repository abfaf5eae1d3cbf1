"""The public API (``import napari_ifss as ifss``) in a plain script and in napari's console."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import napari_ifss as ifss
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.propagation import propagate_volume


@pytest.fixture(scope="module")
def cells():
    """``(image, truth, support)``: 12 x 64 x 64 synthetic cells; support = one object drawn
    on slices 3 and 8."""
    image, truth = ifss.make_synthetic_cells((12, 64, 64), n_cells=6, seed=2)
    ids, counts = np.unique(truth[3][truth[3] > 0], return_counts=True)
    label_id = int(ids[np.argmax(counts)])
    support = np.zeros_like(truth)
    for z in (3, 8):
        support[z][truth[z] == label_id] = label_id
    return image, truth, support


def test_import_is_light_and_lists_the_api():
    code = ("import sys, napari_ifss as i; names = dir(i); "
            "print('propagate' in names, 'torch' in sys.modules, 'napari' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_propagate_matches_the_core_and_keeps_the_support(cells):
    image, truth, support = cells
    result = ifss.propagate(image, support)
    assert np.array_equal(result, propagate_volume(image, support))
    assert np.array_equal(result[[3, 8]], support[[3, 8]])
    filled = [z for z in range(12) if z not in (3, 8) and result[z].any()]
    assert len(filled) >= 3
    obj = support.max()
    both = (result == obj) & (truth == obj)
    assert 2 * both.sum() / ((result == obj).sum() + (truth == obj).sum()) > 0.85
    assert not support[5].any() and result[5].any()  # a slice between the two was filled


def test_score_and_annotate_next(cells, tmp_path):
    image, _, support = cells
    result = ifss.propagate(image, support)
    scores = ifss.score(image, result, support=support)
    (label_id,) = scores
    expected = {z for z in range(12) if z not in (3, 8) and (result[z] == label_id).any()}
    assert set(scores[label_id]) == expected
    assert all(0.0 <= s.score <= 1.0 for s in scores[label_id].values())
    worst = ifss.annotate_next(scores)  # without the user's labels: the lowest score
    assert worst[0] == label_id
    assert scores[label_id][worst[1]].score == min(s.score for s in scores[label_id].values())
    from napari_ifss.core.quality.quality_volume import next_slice

    assert ifss.annotate_next(scores, support=support) == (
        label_id, next_slice(scores[label_id], [3, 8]))  # the dock's rule
    assert ifss.annotate_next({}) is None and ifss.annotate_next({label_id: {}}) is None
    from napari_ifss.core.quality.quality_volume import read_scores_csv

    rows = read_scores_csv(ifss.save_scores_csv(scores, tmp_path / "q.csv"))
    assert [(z, i) for z, i, _, _ in rows] == [(z, label_id) for z in sorted(expected)]


def test_save_and_open_keep_geometry(cells, tmp_path):
    image, truth, _ = cells
    like = ifss.LayerData.from_array(image, "image", scale=(2.0, 0.5, 0.5),
                                     translate=(1.0, 0.0, 3.0))
    paths = ifss.save(tmp_path / "labels.nii.gz", truth, like=like)
    back = ifss.open_image(paths[0], as_labels=True)
    assert np.array_equal(back.data, truth)
    assert back.kind == "labels"
    assert back.scale == pytest.approx((2.0, 0.5, 0.5))
    assert back.translate == pytest.approx((1.0, 0.0, 3.0))
    # a file path works wherever an array does
    again = ifss.propagate(ifss.save(tmp_path / "im.tif", image)[0], truth.copy(), slices=[0])
    assert np.array_equal(again, truth)  # every slice is annotated: nothing to change


def test_segment_clicks_from_tuples(cells):
    image, truth, _ = cells
    z = 3
    rows, cols = np.nonzero(truth[z] == truth[z].max())
    r, c = int(np.median(rows)), int(np.median(cols))
    mask = ifss.segment_clicks(image[z], [(r, c)])
    assert mask.shape == (64, 64) and mask.dtype == bool and mask[r, c]
    with pytest.raises(InvalidInputError, match="outside the image"):
        ifss.segment_clicks(image[z], [(r, c), (200, 3, False)])
    with pytest.raises(InvalidInputError, match="at least one click"):
        ifss.segment_clicks(image[z], [])
    with pytest.raises(InvalidInputError, match="a click is"):
        ifss.segment_clicks(image[z], ["here"])


def test_clear_errors_for_unknown_inputs(cells):
    image, _, support = cells
    with pytest.raises(InvalidInputError, match="no layer or file named 'nope.tif'"):
        ifss.propagate("nope.tif", support)
    with pytest.raises(InvalidInputError, match="expected an array"):
        ifss.propagate(image, [[1, 2]])
    with pytest.raises(InvalidInputError, match="does not match"):
        ifss.propagate(image, support[:5])


@pytest.mark.gui
def test_console_use_on_layers_by_name_is_one_undo_step(make_napari_viewer, cells):
    image, _, support = cells
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    layer = viewer.add_labels(support.copy(), name="drawn")
    result = ifss.propagate("cells", "drawn")
    assert np.array_equal(layer.data, result)
    assert np.count_nonzero(result) > np.count_nonzero(support)
    layer.undo()
    assert np.array_equal(layer.data, support)
    scores = ifss.score("cells", result, support="drawn")
    assert scores and all(scores.values())
    with pytest.raises(InvalidInputError, match="score needs support="):
        ifss.score("cells", "drawn")  # no record of what propagation filled
    with pytest.raises(InvalidInputError, match="layers: 'cells', 'drawn'"):
        ifss.propagate("cels", "drawn")


@pytest.mark.gui
def test_console_scores_a_layer_the_dock_propagated_into(fewshot_docked, qtbot, cells):
    image, _, support = cells
    viewer, layer, dock = fewshot_docked(image, support.copy(), None)
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=120000)
    assert np.count_nonzero(layer.data) > np.count_nonzero(support)
    from_layer = ifss.score("cells", "ifss labels")  # support found from the layer's record
    explicit = ifss.score(image, np.asarray(layer.data), support=support)
    assert from_layer.keys() == explicit.keys()
    for label_id in explicit:
        assert from_layer[label_id].keys() == explicit[label_id].keys()
        for z, s in explicit[label_id].items():
            assert from_layer[label_id][z].score == pytest.approx(s.score, abs=1e-6)
