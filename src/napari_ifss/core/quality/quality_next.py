"""Which slice to annotate next: the one rule behind the badges table's *Annotate next*,
``ifss score``, :func:`napari_ifss.annotate_next` and the core helpers (issues #15 and #17).

The rule (:data:`NEXT_RULE`) picks the **least trusted listed slice**, by the same number the
badges are read from:

1. a slice where propagation found nothing inside the object's range (badge ``"empty"``,
   shown as "nothing found") comes first: it scores 0 and the object may well be there;
2. otherwise the lowest JFS score;
3. ties go to the lower slice, then to the lower label id.

Badges are thresholds on that score (:func:`~napari_ifss.core.quality.quality.badge_for`), so the pick
never wears a better badge than another listed slice: while a slice is "review" or "check", no
"good" slice is picked. Rows are ``(z, label_id, score, badge)`` (:class:`ScoreRow`); z is the
index along the volume's axis 0. Scores of any shape become rows in
:class:`~napari_ifss.core.quality.quality_table.ScoreTable`, whose ``least_trusted()`` is this rule:
every picker of the package calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidInputError
from .quality_types import EMPTY_BADGE, Badge

NEXT_RULE = ("the least trusted slice: first a slice where nothing was found inside the "
             "object's range, else the one with the lowest score (the number its badge comes "
             "from); ties: the lower slice, then the lower label id")


class Scored(Protocol):
    """Anything with a JFS ``score`` and its ``badge`` (QualityScore, StoredScore, ...)."""

    @property
    def score(self) -> float: ...

    @property
    def badge(self) -> Badge: ...


@dataclass(frozen=True)
class ScoreRow:
    """One scored slice, as listed to the user: slice ``z``, ``label_id``, score and badge."""

    z: int
    label_id: int
    score: float
    badge: Badge


def trust_order(row: ScoreRow) -> tuple[bool, float, int, int]:
    """The sort key of the rule: least trusted first (see the module docstring)."""
    return (row.badge != EMPTY_BADGE, float(row.score), int(row.z), int(row.label_id))


def least_trusted_row(rows: Iterable[ScoreRow]) -> ScoreRow:
    """The row to annotate next under :data:`NEXT_RULE`.

    Raises:
        InvalidInputError: no rows.
    """
    listed = list(rows)
    if not listed:
        raise InvalidInputError("no scored slices to choose from")
    return min(listed, key=trust_order)


def rows_of_table(table: Mapping[int, Mapping[int, Scored]]) -> list[ScoreRow]:
    """``{label_id: {z: score}}`` as rows, in (z, label id) order."""
    rows = [ScoreRow(int(z), int(i), float(s.score), s.badge)
            for i, entries in table.items() for z, s in entries.items()]
    return sorted(rows, key=lambda r: (r.z, r.label_id))


def rows_of_slices(scores: Mapping[int, Scored], label_id: int = 0) -> list[ScoreRow]:
    """``{z: score}`` of one label id as rows (z order)."""
    return rows_of_table({int(label_id): scores})
