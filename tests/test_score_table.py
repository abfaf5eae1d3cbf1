"""#17: one score table (core.quality_table.ScoreTable) built from every shape scores come in,
and one "where next" rule on it, whichever shape the scores came from."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import napari_ifss as ifss
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.quality.quality import QualityScore, badge_for
from napari_ifss.core.quality.quality_next import ScoreRow, least_trusted_row
from napari_ifss.core.quality.quality_scan import QualityProgress
from napari_ifss.core.quality.quality_store import (
    StoredScore,
    from_metadata,
    least_trusted,
    score_rows,
    suggest_next,
    to_metadata,
)
from napari_ifss.core.quality.quality_table import ScoreTable
from napari_ifss.core.quality.quality_volume import (
    as_table,
    next_slice,
    read_scores_csv,
    read_scores_table,
    scores_to_csv,
    worst_slice,
)


def _quality(z: int, value: float, badge: str | None = None) -> QualityScore:
    return QualityScore(value, badge or badge_for(value), (), "test", float(z))


def _shapes(values: dict[int, dict[int, float]]):
    """The same scores as api.Scores, a stored table and progress events."""
    scores = {i: {z: _quality(z, v) for z, v in e.items()} for i, e in values.items()}
    stored = {i: {z: StoredScore(s.score, s.badge) for z, s in e.items()}
              for i, e in scores.items()}
    flat = [(z, i, s) for i, e in scores.items() for z, s in e.items()]
    events = [QualityProgress(z, i, s, n, len(flat)) for n, (z, i, s) in enumerate(flat, 1)]
    return scores, stored, events


def test_every_shape_gives_the_same_table(tmp_path):
    values = {2: {9: 0.5, 1: 0.05}, 1: {4: 0.3, 1: 0.15, 7: 0.0}}
    scores, stored, events = _shapes(values)
    table = ScoreTable.from_labels(scores)
    assert [(r.z, r.label_id) for r in table] == [(1, 1), (1, 2), (4, 1), (7, 1), (9, 2)]
    assert ScoreTable.from_labels(stored) == table
    assert ScoreTable.from_events(events) == table
    assert ScoreTable.from_events(reversed(events)) == table  # order does not matter
    assert ScoreTable(tuple(reversed(table.rows))) == table
    assert list(table) == score_rows(stored) and len(table) == 5
    # stored metadata (plain JSON) and a CSV file give it back too
    assert ScoreTable.from_labels(from_metadata(to_metadata(stored))) == table
    path = tmp_path / "q.csv"
    scores_to_csv(table, path)
    assert read_scores_table(path) == table
    assert read_scores_csv(path) == table.as_tuples()
    # one object's {z: score}: its label id is given
    one = ScoreTable.from_slices(scores[1], label_id=1)
    assert list(one) == [r for r in table if r.label_id == 1]
    assert as_table(scores[1], 1) == one and as_table(events) == table and as_table(one) is one


def test_the_table_is_frozen_and_empty_tables_have_no_pick():
    table = ScoreTable.from_labels({1: {3: StoredScore(0.2, "good")}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.rows = ()  # type: ignore[misc]
    empty = ScoreTable.from_labels({1: {}})
    assert not empty and empty == ScoreTable() and table
    with pytest.raises(InvalidInputError, match="no scored"):
        empty.least_trusted()
    assert ifss.annotate_next({1: {}}) is None


def test_the_rule_picks_the_same_row_from_every_shape():
    rng = np.random.default_rng(17)
    for _ in range(40):
        values = {int(i): {int(z): float(rng.choice([0.0, 0.05, 0.1, 0.15, 0.3, 0.6]))
                           for z in rng.choice(20, 5)} for i in (1, 2, 3)}
        scores, stored, events = _shapes(values)
        pick = ScoreTable.from_labels(scores).least_trusted()
        assert pick == least_trusted_row(ScoreTable.from_labels(scores).rows)
        assert least_trusted(stored) == suggest_next(stored) == pick
        assert ScoreTable.from_events(events).least_trusted() == pick
        assert worst_slice(events) == next_slice(events) == pick.z
        assert ifss.annotate_next(scores) == (pick.label_id, pick.z)
        # every row is at least as bad as the pick by the rule's order
        assert all(pick.score <= r.score for r in ScoreTable.from_labels(scores)
                   if r.badge != "empty" or pick.badge == "empty")
        one = {z: s for z, s in scores[pick.label_id].items()}
        assert ScoreTable.from_slices(one, pick.label_id).least_trusted().z == next_slice(one)


def test_nothing_found_is_picked_first_in_every_shape():
    scores = {1: {2: _quality(2, 0.0, "review"), 6: _quality(6, 0.0, "empty")},
              2: {1: _quality(1, 0.01)}}
    stored = {i: {z: StoredScore(s.score, s.badge) for z, s in e.items()}
              for i, e in scores.items()}
    expected = ScoreRow(6, 1, 0.0, "empty")
    assert ScoreTable.from_labels(scores).least_trusted() == expected
    assert ScoreTable.from_labels(stored).least_trusted() == expected
    assert ifss.annotate_next(scores) == (1, 6)
    assert worst_slice(scores[1]) == 6
