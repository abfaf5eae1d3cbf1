"""JFS quality scores, arbitration, volume scoring, CSV export and ``ifss bench quality``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.quality.quality import (
    EMPTY_BADGE,
    GOOD_THRESHOLD,
    REVIEW_THRESHOLD,
    arbitrate,
    badge_for,
    badge_label,
    distance_factor,
    format_score,
    jfs_score,
    object_widths,
    size_factor,
)
from napari_ifss.core.quality.quality_volume import (
    annotate_next,
    next_slice,
    read_scores_csv,
    score_labels,
    score_volume,
    scores_to_csv,
    worst_slice,
)

SUP = [2, 7]


@pytest.fixture(scope="module")
def seg():
    torch.set_num_threads(1)
    return FewShotSegmenter.default()


@pytest.fixture(scope="module")
def vol():
    image, labels = make_synthetic_cells(shape=(10, 64, 64), n_cells=8, seed=1)
    return image, labels > 0


def _score(seg, vol, z, mask):
    image, gt = vol
    return jfs_score(seg, image[z], mask, [image[s] for s in SUP], [gt[s] for s in SUP], z, SUP)


@pytest.mark.parametrize("z", [4, 5])
def test_true_mask_beats_degraded_ones(seg, vol, z):
    gt = vol[1]
    true = _score(seg, vol, z, gt[z])
    assert 0.0 <= true.back_iou <= 1.0 and true.back_iou > 0.8
    assert true.distance == 2.0  # nearest user slice
    w = np.array([e.weight for e in true.evidence])
    user_area = float(w @ [gt[s].sum() for s in SUP])
    width = 2 * np.sqrt(user_area / np.pi)  # the user's object, in pixels
    assert true.widths == pytest.approx(2.0 / width)
    assert true.score == pytest.approx(
        true.back_iou * distance_factor(2.0 / width) * size_factor(true.size_ratio))
    area = float(gt[z].sum())
    assert true.size_ratio == pytest.approx(min(area, user_area) / max(area, user_area))
    assert len(true.evidence) == 2 and sum(e.weight for e in true.evidence) == pytest.approx(1)
    assert true.evidence[0].position == 2 and 0 <= true.evidence[0].iou <= 1
    for bad in (ndi.binary_erosion(gt[z], iterations=3), np.roll(gt[z], 8, axis=1)):
        worse = _score(seg, vol, z, bad)
        assert 0.0 <= worse.back_iou < true.back_iou - 0.1
        assert worse.score < true.score
    empty = _score(seg, vol, z, np.zeros_like(gt[z]))
    assert empty.score == 0.0 and empty.badge == "review" and "empty" in empty.reason
    assert empty.evidence == ()


def test_size_factor_and_a_mask_far_off_the_users_size(seg, vol):
    assert size_factor(1.0) == 1.0 and size_factor(0.25) == pytest.approx(0.5)
    assert size_factor(0.0) == 0.0 and size_factor(2.0) == 1.0  # clipped to [0, 1]
    image, gt = vol
    z = 4
    true = _score(seg, vol, z, gt[z])
    rows, cols = np.nonzero(gt[z])
    tiny = np.zeros_like(gt[z])
    tiny[rows[0], cols[0]] = True
    small = _score(seg, vol, z, tiny)
    assert small.size_ratio < 0.05 < 0.5 < true.size_ratio
    assert small.score < true.score and "% of the user's" in small.reason
    # the other way round: the user drew a much smaller object than the result
    one = [np.zeros_like(gt[s]) for s in SUP]
    for m, s_ in zip(one, SUP, strict=True):
        m[s_ * 4:s_ * 4 + 12, 20:32] = True
    big = jfs_score(seg, image[z], gt[z], [image[s_] for s_ in SUP], one, z, SUP)
    assert big.size_ratio < 0.1 and "x the user's" in big.reason


def test_nearer_user_slices_weigh_more(seg, vol):
    ev = _score(seg, vol, 3, vol[1][3]).evidence
    assert ev[0].weight > ev[1].weight  # z=3 is nearer to 2 than to 7


def test_evidence_fades_with_distance_from_the_user_slices():
    assert distance_factor(None) == 1.0 and distance_factor(0) == 1.0
    assert 1.0 > distance_factor(0.5) > distance_factor(1) > distance_factor(3) > 0.0
    assert distance_factor(1) == pytest.approx(0.5)  # one object width away


def test_distance_counts_in_object_widths_with_the_voxel_size():
    # 10 slices from a 20-pixel-wide object (area pi * 10**2): half a width...
    area = np.pi * 10.0**2
    assert object_widths(10, area) == pytest.approx(0.5)
    # ... 2.5 widths when slices are 5x thicker than pixels, and no unit change matters
    assert object_widths(10, area, (5.0, 1.0, 1.0)) == pytest.approx(2.5)
    assert object_widths(10, area, (2.5, 0.5, 0.5)) == pytest.approx(2.5)
    # the same 10 slices are near for an object 10x wider
    assert object_widths(10, 100 * area) == pytest.approx(0.05)
    assert object_widths(0, 0.0) == 0.0


def test_thick_slices_lower_the_score_and_the_reason_says_how_far(seg, vol):
    image, gt = vol
    kw = dict(support_positions=SUP, result_position=5)
    sup_img, sup_msk = [image[s] for s in SUP], [gt[s] for s in SUP]
    thin = jfs_score(seg, image[5], gt[5], sup_img, sup_msk, **kw)
    thick = jfs_score(seg, image[5], gt[5], sup_img, sup_msk, spacing=(8.0, 1.0, 1.0), **kw)
    assert thin.back_iou == thick.back_iou and thin.distance == thick.distance == 2.0
    assert thick.widths == pytest.approx(8 * thin.widths)
    assert thick.score < thin.score
    assert "object widths" in thick.reason


def test_badges_follow_thresholds():
    assert 0 < REVIEW_THRESHOLD < GOOD_THRESHOLD < 1
    assert badge_for(GOOD_THRESHOLD) == "good" and badge_for(1.0) == "good"
    assert badge_for(GOOD_THRESHOLD - 1e-6) == "check"
    assert badge_for(REVIEW_THRESHOLD) == "check"
    assert badge_for(REVIEW_THRESHOLD - 1e-6) == "review" and badge_for(0.0) == "review"


def test_shown_scores_never_cross_their_badges_threshold():
    assert format_score(0.149) == "0.14" and format_score(0.15) == "0.15"
    assert format_score(0.25) == "0.25" and format_score(1.0) == "1.00"
    assert format_score(0.0) == "0.00" and format_score(0.2999) == "0.29"
    for v in np.linspace(0, 1, 2001):
        assert badge_for(float(format_score(v))) == badge_for(v)


def test_score_badge_matches_its_score(seg, vol):
    s = _score(seg, vol, 4, vol[1][4])
    assert s.badge == badge_for(s.score)


def test_arbitration_keeps_the_true_mask(seg, vol):
    image, gt = vol
    z = 4
    bad = ndi.binary_erosion(gt[z], iterations=3)
    args = ([image[s] for s in SUP], [gt[s] for s in SUP], z, SUP)
    r = arbitrate(seg, image[z], gt[z], bad, *args)
    a, b = r.score_a, r.score_b
    assert r.choice == "a" and r.margin == pytest.approx(a.agreement - b.agreement) and r.margin > 0
    assert a.forward_iou is not None and a.agreement == pytest.approx(
        (a.back_iou + a.forward_iou) / 2)
    assert a.forward_iou > b.forward_iou + 0.1  # the user's slices predict the true extent
    r = arbitrate(seg, image[z], bad, gt[z], *args)
    assert r.choice == "b"


def test_errors(seg, vol):
    image, gt = vol
    with pytest.raises(InvalidInputError, match="no user-annotated"):
        jfs_score(seg, image[4], gt[4], [], [])
    with pytest.raises(InvalidInputError, match="shape"):
        jfs_score(seg, image[4], gt[4][:32], [image[2]], [gt[2]])
    with pytest.raises(InvalidInputError, match="shape"):
        jfs_score(seg, image[4], gt[4], [image[2]], [gt[2][:, :32]])
    with pytest.raises(InvalidInputError, match="masks"):
        jfs_score(seg, image[4], gt[4], [image[2], image[7]], [gt[2]])
    user = np.zeros(gt.shape, np.int32)
    user[SUP] = gt[SUP]
    with pytest.raises(InvalidInputError, match="label id 3"):
        list(score_volume(image, gt.astype(np.int32), user, 3, seg))
    with pytest.raises(InvalidInputError, match="does not match"):
        list(score_volume(image, gt[:5].astype(np.int32), user, 1, seg))
    with pytest.raises(InvalidInputError, match="outside"):
        list(score_volume(image, gt.astype(np.int32), user, 1, seg, slices=[12]))


def test_score_volume_events_and_encoder_reuse(seg, vol, tmp_path):
    image, gt = vol
    user = np.zeros(gt.shape, np.int32)
    user[SUP] = gt[SUP]
    after = gt.astype(np.int32)
    after[5] = np.roll(gt[5], 10, axis=1)  # one bad slice
    seg.clear_cache()
    calls: dict = {}
    original = seg.encode

    def counting(image, key=None, **kwargs):
        before = seg.encoder_calls
        out = original(image, key, **kwargs)
        calls[key] = calls.get(key, 0) + (seg.encoder_calls - before)
        return out

    seg.encode = counting
    try:
        events = list(score_volume(image, after, user, 1, seg, cache_prefix="t"))
    finally:
        del seg.encode
    expected = [z for z in range(10) if z not in SUP and gt[z].any()]
    assert [e.z for e in events] == expected
    assert [e.done for e in events] == list(range(1, len(expected) + 1))
    assert events[-1].fraction == 1.0 and all(e.label_id == 1 for e in events)
    assert all(0 <= e.score.score <= 1 for e in events)
    assert calls[("t", 2)] == 1 and calls[("t", 7)] == 1  # user slices encoded once
    assert sum(calls.values()) == len(expected) + len(SUP)
    assert worst_slice(events) == 5
    assert worst_slice({e.z: e.score for e in events}) == 5
    with pytest.raises(InvalidInputError):
        worst_slice([])
    assert annotate_next(image, after, user, 1, seg, cache_prefix="t") == next_slice(events, SUP)
    path = tmp_path / "scores.csv"
    scores_to_csv(events, path)
    rows = read_scores_csv(path)
    assert [r[0] for r in rows] == expected
    assert rows[0][1] == 1 and rows[0][3] == events[0].score.badge
    assert rows[0][2] == pytest.approx(events[0].score.score, abs=1e-6)
    scores_to_csv({e.z: e.score for e in events}, path, label_id=1)
    assert read_scores_csv(path) == rows
    with pytest.raises(InvalidInputError, match="label_id"):
        scores_to_csv({e.z: e.score for e in events}, path)


def test_bench_quality_cli_end_to_end(tmp_path, tiny_volume_root, tiny_fewshot_weights):
    root = tiny_volume_root
    click, head = tiny_fewshot_weights
    out = tmp_path / "report" / "quality.json"
    code = main(["bench", "quality", "--data", str(root), "--json", str(out), "--weights",
                 str(head), "--click-weights", str(click), "--k", "1", "2", "--annotate-next",
                 "--propagation", "learner"])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["summary"]) == {"1", "2", "all"} and report["propagation"] == "learner"
    assert len(report["objects"]) == 2
    case = report["objects"][0]
    assert case["scored_slices"] == len(case["slices"])
    assert all(0 <= s["score"] <= 1 and 0 <= s["dice"] <= 1 for s in case["slices"])
    for s in case["slices"]:  # the stored factors give back the score
        assert s["score"] == pytest.approx(
            s["back_iou"] * distance_factor(s["widths"]) * size_factor(s["size_ratio"]))
    assert {"spearman_without_size", "auroc_size_only"} <= set(report["summary"]["all"])
    assert len(report["annotate_next"]) == 1
    md = out.with_suffix(".md").read_text()
    assert "Spearman" in md and "Annotate next" in md and "without size" in md
    # the tables again from the saved records, without running a model
    assert main(["bench", "quality", "--from-json", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["objects"] == report["objects"] and "reported_again" in again
    assert "distance in slices (before #20)" in out.with_suffix(".md").read_text()


def _fixed(scores: dict[int, float]) -> dict:
    from napari_ifss.core.quality.quality import QualityScore

    return {z: QualityScore(v, badge_for(v), (), "test", float(z)) for z, v in scores.items()}


def test_next_slice_is_the_least_trusted_slice():
    """#15 (6) / #17: every picker is the one rule (lowest score; ties the lower z)."""
    scores = _fixed({**{z: 0.9 for z in range(10)}, **{z: 0.2 for z in range(11, 31)}, 25: 0.15})
    assert next_slice(scores, [10]) == worst_slice(scores) == 25
    # a "good" slice between "review" neighbours is never picked over them
    bad_run = _fixed({4: 0.05, 5: 0.6, 6: 0.07})
    assert badge_for(0.6) == "good" and next_slice(bad_run, [0]) == 4
    sym = _fixed({8: 0.5, 12: 0.5})
    assert next_slice(sym, [10]) == next_slice(sym) == 8  # ties: the lower z
    with pytest.raises(InvalidInputError, match="no scored"):
        next_slice({}, [1])


def test_an_empty_slice_inside_the_range_is_listed_and_picked(seg, vol, tmp_path):
    """#15 (6): the object continues through slice 5 but propagation left it empty."""
    image, gt = vol
    user = np.zeros(gt.shape, np.int32)
    user[SUP] = gt[SUP]
    after = gt.astype(np.int32)
    after[5] = 0
    assert gt[4].any() and gt[5].any() and gt[6].any()
    events = list(score_labels(image, after, user, None, seg))
    listed = {e.z: e.score for e in events}
    assert set(listed) == {z for z in range(10) if z not in SUP}
    assert listed[5].badge == EMPTY_BADGE and listed[5].score == 0.0
    assert "nothing found" in listed[5].reason and badge_label("empty") == "nothing found"
    assert worst_slice(events) == 5
    assert annotate_next(image, after, user, 1, seg) == 5
    # the calibration set (score_volume's default) still holds only slices with the object
    assert 5 not in {e.z for e in score_volume(image, after, user, 1, seg)}
    assert {e.z for e in score_volume(image, after, user, 1, seg, in_range=True)} == set(listed)
    scores_to_csv(events, tmp_path / "q.csv")
    assert (5, 1, 0.0, "empty") in read_scores_csv(tmp_path / "q.csv")
    # a slice the user annotated (with another id) is not "nothing found": propagation
    # never writes there
    user2 = user.copy()
    user2[5, :3, :3] = 2
    assert 5 not in {e.z for e in score_labels(image, after, user2, [1], seg)}


def test_each_slice_is_encoded_once_per_run_whatever_the_label_ids(seg, vol):
    """#15 (11): two ids sharing slices, one a user slice of the other: one encoder pass per
    slice; the result slice is summarised once for its K back-predictions."""
    image, cells = make_synthetic_cells(shape=(10, 64, 64), n_cells=8, seed=1)
    assert np.array_equal(image, vol[0])
    truth = np.where(np.isin(cells, [2, 5]), cells, 0).astype(np.int32)
    user = np.zeros_like(truth)
    for z, ids in {2: [2], 3: [5], 6: [2, 5]}.items():  # slice 3: user of 5, target of 2
        user[z] = np.where(np.isin(truth[z], ids), truth[z], 0)
    seg.clear_cache()
    calls, summaries = seg.encoder_calls, []
    original = seg.summarize
    seg.summarize = lambda *a, **k: summaries.append(1) or original(*a, **k)
    try:
        events = list(score_labels(image, truth, user, None, seg))
    finally:
        del seg.summarize
    needed = {e.z for e in events if e.score.evidence} | {2, 3, 6}
    assert seg.encoder_calls - calls == len(needed) == 8  # slices 0..7 hold the objects
    assert len(summaries) == sum(1 for e in events if e.score.evidence) == 12
    assert {(e.z, e.label_id) for e in events} == {
        (z, i) for i, mine in ((2, {2, 6}), (5, {3, 6})) for z in range(8) if z not in mine}
