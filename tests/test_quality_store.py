"""The JFS score table kept in labels metadata: (de)serialisation, staleness, next slice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.provenance import record_states
from napari_ifss.core.quality.quality import QualityScore, badge_for
from napari_ifss.core.quality.quality_store import (
    QUALITY_KEY,
    ScoreRow,
    StoredScore,
    current_scores,
    from_metadata,
    is_user_slice,
    least_trusted,
    mask_checksum,
    replace_labels,
    score_rows,
    stored_score,
    to_metadata,
)
from napari_ifss.core.quality.quality_table import ScoreTable
from napari_ifss.core.quality.quality_volume import read_scores_csv, scores_to_csv


def _entry(score: float, mask: str | None = None) -> StoredScore:
    return StoredScore(score, badge_for(score), mask)


def test_metadata_round_trip_is_plain_json():
    table = {2: {7: _entry(0.9, "abc"), 3: _entry(0.1)}, 1: {3: _entry(0.35)}}
    data = to_metadata(table)
    assert QUALITY_KEY == "napari_ifss_quality"
    assert list(data) == ["1", "2"] and list(data["2"]) == ["3", "7"]  # sorted string keys
    assert data["2"]["7"] == {"score": 0.9, "badge": badge_for(0.9), "mask": "abc"}
    assert "mask" not in data["2"]["3"]
    assert from_metadata(json.loads(json.dumps(data))) == table
    ints = {1: {3: {"score": 1, "badge": "good"}}}  # int keys and an int score are fine too
    assert from_metadata(ints) == {1: {3: StoredScore(1.0, "good")}}
    assert from_metadata(None) == {} and to_metadata({1: {}}) == {}


@pytest.mark.parametrize("data, message", [
    ([1, 2], "must be a mapping"),
    ({"one": {}}, "label id 'one' is not a whole number"),
    ({True: {}}, "label id True"),
    ({"1": [0.5]}, "label 1 are not a mapping"),
    ({"1": {"2.5": {"score": 0.5, "badge": "check"}}}, "slice index '2.5'"),
    ({"1": {"2": 0.5}}, "label 1 slice 2 is not a mapping"),
    ({"1": {"2": {"score": 1.5, "badge": "good"}}}, "score 1.5, not in"),
    ({"1": {"2": {"score": float("nan"), "badge": "good"}}}, "not in"),
    ({"1": {"2": {"score": "0.5", "badge": "good"}}}, "score '0.5'"),
    ({"1": {"2": {"badge": "good"}}}, "score None"),
    ({"1": {"2": {"score": 0.5, "badge": "great"}}}, "badge 'great'"),
    ({"1": {"2": {"score": 0.5, "badge": "check", "mask": 3}}}, "mask checksum 3"),
])
def test_malformed_metadata_is_rejected(data, message):
    with pytest.raises(InvalidInputError, match=message):
        from_metadata(data)


def test_replace_labels_only_touches_the_given_ids():
    old = {1: {2: _entry(0.5)}, 2: {2: _entry(0.1), 4: _entry(0.2)}}
    new = replace_labels(old, [2, 3], {2: {5: _entry(0.8)}})
    assert new == {1: {2: _entry(0.5)}, 2: {5: _entry(0.8)}}
    assert replace_labels(old, [1], {}) == {2: old[2]}  # ids left without scores vanish
    assert old == {1: {2: _entry(0.5)}, 2: {2: _entry(0.1), 4: _entry(0.2)}}  # not mutated


def test_current_scores_drop_changed_masks_user_slices_and_out_of_range():
    labels = np.zeros((6, 8, 8), np.int32)
    labels[0, 2:5, 2:5] = 1  # the user's slice
    for z in (1, 2, 3, 4):
        labels[z, 2:6, 2:6] = 1
    labels[2, 0, 0] = 2  # another object on slice 2
    record = record_states({}, labels, [1, 2, 3, 4])
    table = {1: {z: stored_score(QualityScore(0.1 * z, badge_for(0.1 * z), (), ""), labels[z], 1)
                 for z in (1, 2, 3, 4)} | {9: _entry(0.5)},
             2: {2: stored_score(QualityScore(0.6, "good", (), ""), labels[2], 2)}}
    assert current_scores(table, labels, record) == {i: {z: e for z, e in es.items() if z != 9}
                                                     for i, es in table.items()}
    assert not is_user_slice(labels[1], 1, record) and is_user_slice(labels[0], 0, record)
    assert not is_user_slice(labels[5], 5, record)  # empty

    labels[1, 2, 2] = 0  # the user erased a voxel: slice 1 is the user's now
    labels[2, 0, 0] = 0  # label 2 gone from slice 2: its mask changed, label 1's did not...
    record = record_states(record, labels, [2])  # ...and slice 2 is still a propagated state
    labels[3, 2:6, 2:6] = 0  # undo-like: slice 3 back to empty
    now = current_scores(table, labels, record)
    assert now == {1: {2: table[1][2], 4: table[1][4]}}
    unknown = {1: {4: _entry(0.3)}}  # no checksum: kept while the slice is propagated
    assert current_scores(unknown, labels, record) == unknown


def test_mask_checksum_follows_only_its_label():
    a = np.zeros((5, 5), np.int32)
    a[1:3, 1:3] = 1
    b = a.copy()
    b[4, 4] = 2
    assert mask_checksum(a, 1) == mask_checksum(b, 1) != mask_checksum(b, 2)
    b[1, 1] = 0
    assert mask_checksum(a, 1) != mask_checksum(b, 1)


def test_rows_table_csv_and_least_trusted(tmp_path):
    table = {1: {3: _entry(0.9), 5: _entry(0.2)}, 2: {3: _entry(0.1), 0: _entry(0.7)}}
    rows = score_rows(table)
    assert [(r.z, r.label_id) for r in rows] == [(0, 2), (3, 1), (3, 2), (5, 1)]
    scores = ScoreTable.from_labels(table)  # #17: no fake QualityScore events any more
    assert list(scores) == rows
    path = tmp_path / "q.csv"
    scores_to_csv(scores, path)
    assert read_scores_csv(path) == [(r.z, r.label_id, r.score, r.badge) for r in rows]

    # slice 3 is the least trusted (its label 2 scores 0.1, although its label 1 is good)
    assert least_trusted(table) == ScoreRow(3, 2, 0.1, badge_for(0.1))
    tie = {1: {6: _entry(0.2)}, 2: {4: _entry(0.2)}}
    assert least_trusted(tie).z == 4  # ties: the lower z
    with pytest.raises(InvalidInputError, match="no scored slices"):
        least_trusted({})


def test_suggest_next_is_the_least_trusted_rule():
    """#15 (6) / #17: one rule; the gain rule picked a "good" slice between "review" ones."""
    from napari_ifss.core.quality.quality_store import suggest_next

    # label 1 drawn on z=10: doubtful on 11..20, fine below; label 2 drawn on z=0
    table = {1: {**{z: _entry(0.9) for z in range(0, 10)},
                 **{z: _entry(0.15) for z in range(11, 21)}},
             2: {z: _entry(0.8) for z in range(1, 6)}}
    row = suggest_next(table, {1: [10], 2: [0]})
    assert row == least_trusted(table) == ScoreRow(11, 1, 0.15, "check")
    with pytest.raises(InvalidInputError, match="no scored slices"):
        suggest_next({}, {1: [3]})


def test_next_never_picks_a_good_slice_while_review_slices_are_listed():
    """The situation of #15 (6): a "good" slice between "review" neighbours."""
    from napari_ifss.core.quality.quality_next import NEXT_RULE, least_trusted_row, rows_of_table
    from napari_ifss.core.quality.quality_store import suggest_next

    table = {1: {4: _entry(0.05), 5: _entry(0.6), 6: _entry(0.07), 20: _entry(0.5)}}
    assert [r.badge for r in score_rows(table)] == ["review", "good", "review", "good"]
    for pick in (least_trusted(table), suggest_next(table, {1: [0, 30]}),
                 least_trusted_row(rows_of_table(table))):
        assert pick.badge == "review" and pick.z == 4
    # whatever the scores, the pick's badge is the worst badge listed
    rng = np.random.default_rng(0)
    rank = {"empty": 0, "review": 1, "check": 2, "good": 3}
    for _ in range(50):
        t = {i: {int(z): _entry(float(rng.random() * 0.4)) for z in rng.choice(40, 6)}
             for i in (1, 2)}
        pick = least_trusted(t)
        assert rank[pick.badge] == min(rank[r.badge] for r in score_rows(t))
        assert pick.score == min(r.score for r in score_rows(t))
    assert "lowest score" in NEXT_RULE and "nothing was found" in NEXT_RULE


def test_nothing_found_rows_come_first_and_round_trip(tmp_path):
    """An empty slice inside an object's range ("empty", score 0) is the least trusted, even
    against another slice scoring 0; it survives metadata and CSV."""
    table = {1: {3: StoredScore(0.0, "review"), 7: StoredScore(0.0, "empty")},
             2: {1: _entry(0.01)}}
    assert least_trusted(table) == ScoreRow(7, 1, 0.0, "empty")
    assert from_metadata(json.loads(json.dumps(to_metadata(table)))) == table
    path = tmp_path / "q.csv"
    scores_to_csv(ScoreTable.from_labels(table), path)
    assert (7, 1, 0.0, "empty") in read_scores_csv(path)
