"""JFS quality badges in the Few-shot dock, in a real (headless) napari viewer.

The dock's scores are checked against :func:`score_volume` run headlessly, with a fresh model,
on the same image and labels.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from qtpy.QtCore import Qt

from napari_ifss._napari.quality_panel import BADGE_COLOURS, text_overlay
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.quality.quality import badge_label, format_score
from napari_ifss.core.quality.quality_next import NEXT_RULE
from napari_ifss.core.quality.quality_store import QUALITY_KEY, from_metadata
from napari_ifss.core.quality.quality_volume import read_scores_csv, score_labels

pytestmark = pytest.mark.gui
torch.set_num_threads(1)
USER_Z = 4
Z_RANGE = (1, 8)  # slices 0 and 9 stay unscored


@pytest.fixture(scope="module")
def segmenter():
    return FewShotSegmenter.default(device="cpu")


@pytest.fixture(scope="module")
def cells():
    """(10, 48, 48) image, its truth, and the two biggest cells of slice USER_Z."""
    image, truth = make_synthetic_cells((10, 48, 48), n_cells=6, seed=7)
    ids = sorted((i for i in np.unique(truth[USER_Z]) if i),
                 key=lambda i: -int((truth[USER_Z] == i).sum()))[:2]
    return image, truth, [int(i) for i in ids]


def _user_labels(truth, ids, annotations):
    """Labels holding ``truth`` of each id on each of its annotated slices."""
    labels = np.zeros(truth.shape, np.int32)
    for z, zids in annotations.items():
        for i in zids:
            labels[z][truth[z] == i] = i
    return labels


def _headless(image, labels_after, user, ids):
    """``{(z, label_id): QualityScore}`` of score_labels (each object's range) with a fresh
    model."""
    seg = FewShotSegmenter.default(device="cpu")
    return {(e.z, e.label_id): e.score for e in score_labels(image, labels_after, user, ids, seg)}


def _setup(fewshot_docked, image, labels, segmenter):
    viewer, layer, dock = fewshot_docked(image, labels, segmenter)
    dock._mode.value = "z range"
    dock._z_from.value, dock._z_to.value = Z_RANGE
    return viewer, layer, dock


def _propagate(qtbot, dock):
    dock.propagate()
    assert dock.busy
    qtbot.waitUntil(lambda: not dock.busy, timeout=30000)
    assert dock.status.startswith("done: "), dock.status


def _table(panel):
    t = panel.table
    return [tuple(t.item(r, c).text() for c in range(4)) for r in range(t.rowCount())]


def _check_against_headless(panel, layer, expected):
    rows = panel.rows
    assert {(r.z, r.label_id) for r in rows} == set(expected)
    for r in rows:
        assert r.badge == expected[r.z, r.label_id].badge
        assert abs(r.score - expected[r.z, r.label_id].score) <= 1e-6
    assert _table(panel) == [(str(r.z), str(r.label_id), format_score(r.score),
                              badge_label(r.badge)) for r in rows]
    stored = from_metadata(json.loads(json.dumps(layer.metadata[QUALITY_KEY])))  # JSON-able
    assert {(z, i) for i, e in stored.items() for z in e} == set(expected)
    for (z, i), s in expected.items():
        assert stored[i][z].badge == s.badge and abs(stored[i][z].score - s.score) <= 1e-6


def test_badges_table_overlay_next_and_export(fewshot_docked, qtbot, cells, segmenter,
                                              tmp_path):
    image, truth, ids = cells
    user = _user_labels(truth, ids, {USER_Z: ids})
    viewer, layer, dock = _setup(fewshot_docked, image, user.copy(), segmenter)
    panel, overlay = dock.quality, text_overlay(viewer)
    assert panel.rows == [] and not overlay.visible  # nothing scored yet
    calls = segmenter.encoder_calls
    _propagate(qtbot, dock)
    # scoring reused the propagation's encodings: only the user slice was encoded again
    n_targets = Z_RANGE[1] - Z_RANGE[0]
    assert segmenter.encoder_calls - calls <= n_targets + len(ids) + 1
    assert panel.status.startswith("quality checked on "), panel.status
    assert dock._run_btn.enabled and not dock._cancel_btn.enabled
    expected = _headless(image, layer.data, user, ids)
    assert len({s.badge for s in expected.values()}) >= 2  # the badges tell slices apart
    _check_against_headless(panel, layer, expected)
    for r, row in enumerate(panel.rows):
        colour = panel.table.item(r, 3).background().color().name()
        assert colour == BADGE_COLOURS[row.badge]

    # clicking a row moves the viewer to its slice
    target = next(r for r, row in enumerate(panel.rows) if row.z != viewer.dims.current_step[0])
    z = panel.rows[target].z
    rect = panel.table.visualItemRect(panel.table.item(target, 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert viewer.dims.current_step[0] == z

    # the canvas overlay follows the slider
    assert overlay.visible
    for z in range(10):
        viewer.dims.set_current_step(0, z)
        here = {i: s for (zz, i), s in expected.items() if zz == z}
        if z == USER_Z:
            assert overlay.text == f"quality z={z}: annotated"
        elif not here:
            assert overlay.text == f"quality z={z}: not scored" and z not in range(*Z_RANGE)
        else:
            for i, s in here.items():
                assert f"label {i}: {format_score(s.score)} {badge_label(s.badge)}" in (
                    overlay.text), overlay.text
            worst = min(here.values(), key=lambda s: s.score).badge
            assert np.allclose(overlay.color[:3], np.array(
                [int(BADGE_COLOURS[worst][k:k + 2], 16) for k in (1, 3, 5)]) / 255)

    # Annotate next (#15 (6)): the least trusted listed slice, by the score the badges show
    # (nothing found first; ties: lower z, then lower label id); its tooltip says that rule
    viewer.dims.set_current_step(0, 0)
    worst_z, worst_id = min(expected, key=lambda k: (expected[k].badge != "empty",
                                                     expected[k].score, k))
    rank = {"empty": 0, "review": 1, "check": 2, "good": 3}
    assert rank[expected[worst_z, worst_id].badge] == min(rank[s.badge]
                                                          for s in expected.values())
    assert NEXT_RULE in dock.quality._next_btn.tooltip
    dock.quality._next_btn.native.click()
    assert viewer.dims.current_step[0] == worst_z
    assert panel.status.startswith(f"annotate next: slice z={worst_z} (label {worst_id}")
    assert layer.selected_label == worst_id

    # CSV export reads back equal
    path = tmp_path / "scores.csv"
    assert panel.export_csv(path) == len(expected)
    back = read_scores_csv(path)
    assert [(z, i, b) for z, i, _, b in back] == [(r.z, r.label_id, r.badge) for r in panel.rows]
    assert np.allclose([s for _, _, s, _ in back], [r.score for r in panel.rows], atol=1e-6)

    # the user annotates the worst slice and propagates again: scores are recomputed
    layer.data[worst_z] = np.where(truth[worst_z] == worst_id, worst_id, 0)
    dock.refresh_support()
    user2 = _user_labels(truth, ids, {USER_Z: ids, worst_z: [worst_id]})
    np.testing.assert_array_equal(user2[worst_z], layer.data[worst_z])
    _propagate(qtbot, dock)
    expected2 = _headless(image, layer.data, user2, ids)
    assert worst_z not in {z for z, _ in expected2}  # the new annotation is not scored
    _check_against_headless(panel, layer, expected2)
    viewer.dims.set_current_step(0, worst_z)
    assert overlay.text == f"quality z={worst_z}: annotated"

    # Ctrl+Z of the run: its scores no longer describe the labels, their rows go
    before = len(panel.rows)
    layer.undo()
    qtbot.waitUntil(lambda: len(panel.rows) < before, timeout=3000)
    for row in panel.rows:  # what is left still holds
        assert expected2[row.z, row.label_id].badge == row.badge


def test_cancel_scoring_keeps_scores_and_dock_teardown(fewshot_docked, qtbot, cells,
                                                       segmenter):
    image, truth, ids = cells
    viewer, layer, dock = _setup(fewshot_docked, image,
                                 _user_labels(truth, ids, {USER_Z: ids}), segmenter)
    scorer = dock.quality.scorer
    first = scorer._on_score

    def cancel_after_first(row, done, total):
        first(row, done, total)
        dock.cancel()

    scorer._on_score = cancel_after_first
    _propagate(qtbot, dock)
    # the worker may finish the slice it is on before it sees the request: 1 or 2 rows kept
    kept = len(dock.quality.rows)
    assert 1 <= kept <= 2, dock.quality.status
    assert f"quality check cancelled after {kept}/" in dock.quality.status, dock.quality.status
    stored = from_metadata(layer.metadata[QUALITY_KEY])
    assert sum(len(v) for v in stored.values()) == kept
    assert dock._run_btn.enabled and not dock._cancel_btn.enabled

    # without scores, Annotate next and export say so
    layer.metadata = {**layer.metadata, QUALITY_KEY: {}}
    dock.quality.refresh()
    assert dock.quality.annotate_next() is None and "no scored slice" in dock.quality.status

    # the dock going away disconnects the overlay from the slider
    callbacks = viewer.dims.events.current_step.callbacks
    n_before = len(callbacks)
    dock._on_destroyed()
    assert len(viewer.dims.events.current_step.callbacks) == n_before - 1
    assert not text_overlay(viewer).visible
    viewer.dims.set_current_step(0, 3)
    assert not text_overlay(viewer).visible


def test_a_slice_left_empty_inside_the_range_is_listed_and_picked(fewshot_docked, qtbot, cells,
                                                                   segmenter):
    """#15 (6): where propagation left nothing although the object continues, the table lists
    the slice as "nothing found" and Annotate next goes there."""
    from napari_ifss._napari.quality_panel import EMPTY_TIP
    from napari_ifss._napari.quality_worker import ScoringRequest

    image, truth, ids = cells
    i = ids[0]
    viewer, layer, dock = _setup(fewshot_docked, image, _user_labels(truth, [i], {USER_Z: [i]}),
                                 segmenter)
    _propagate(qtbot, dock)
    has = [bool((layer.data[z] == i).any()) for z in range(10)]
    gap = next(z for z in range(1, 9) if z != USER_Z and has[z - 1] and has[z] and has[z + 1])
    assert (truth[gap] == i).any()  # the object continues through the gap
    data = np.array(layer.data)
    data[gap][data[gap] == i] = 0  # as if propagation had found nothing there
    layer.data = data
    panel = dock.quality
    panel.score(ScoringRequest.for_run(image, [i]), layer, segmenter)
    qtbot.waitUntil(lambda: not panel.busy, timeout=30000)
    rows = {(r.z, r.label_id): r for r in panel.rows}
    assert rows[gap, i].badge == "empty" and rows[gap, i].score == 0.0
    at = [r.z for r in panel.rows].index(gap)
    assert panel.table.item(at, 3).text() == "nothing found"
    assert panel.table.item(at, 3).toolTip() == EMPTY_TIP
    assert "nothing found" in panel.status, panel.status
    viewer.dims.set_current_step(0, gap)
    assert f"label {i}: 0.00 nothing found" in text_overlay(viewer).text
    row = panel.annotate_next()
    assert row is not None and row.badge == "empty"
    assert min(z for (z, _), r in rows.items() if r.badge == "empty") == row.z
    assert viewer.dims.current_step[0] == row.z
    assert panel.status.startswith(f"annotate next: slice z={row.z} (label {i}: 0.00 nothing "
                                   "found), the least trusted listed slice")


def test_dock_scores_count_distance_with_the_layers_voxel_size(fewshot_docked, qtbot, cells,
                                                               segmenter):
    """#20 (8): slices 4x thicker than pixels are farther from the user's slice; the dock
    scores with the image layer's scale, as the API does with ``spacing=``."""
    image, truth, ids = cells
    user = _user_labels(truth, ids, {USER_Z: ids})
    viewer, layer, dock = _setup(fewshot_docked, image, user.copy(), segmenter)
    viewer.layers["cells"].scale = layer.scale = (4.0, 1.0, 1.0)
    _propagate(qtbot, dock)
    seg = FewShotSegmenter.default(device="cpu")
    thick = {(e.z, e.label_id): e.score for e in score_labels(
        image, layer.data, user, ids, seg, spacing=(4.0, 1.0, 1.0))}
    _check_against_headless(dock.quality, layer, thick)
    thin = _headless(image, layer.data, user, ids)
    assert all(thick[k].score < thin[k].score for k in thick if thin[k].score > 0)
