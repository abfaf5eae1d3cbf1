"""One table of JFS scores, whatever shape they came in, and the one "where next" rule on it.

Scores of propagated slices come in several shapes:

* ``{z: score}`` of one object (:func:`~napari_ifss.core.quality.quality_volume.score_volume`'s
  slices, :func:`~napari_ifss.core.quality.quality_volume.scored_slices`);
* scoring events, :class:`~napari_ifss.core.quality.quality_scan.QualityProgress` (``z``,
  ``label_id``, ``score``);
* ``{label_id: {z: score}}``: the stored table of
  :class:`~napari_ifss.core.quality.quality_store.StoredScore` kept in a labels layer's metadata, and
  :data:`napari_ifss.api.Scores` of :class:`~napari_ifss.core.quality.quality.QualityScore`;
* the rows of a scores CSV file (``slice, label_id, score, badge``).

:class:`ScoreTable` holds any of them as :class:`~.quality_next.ScoreRow` rows, in
(z, label id) order; each shape has its constructor (``from_...``), and
:meth:`ScoreTable.least_trusted` is the slice to annotate next under
:data:`~napari_ifss.core.quality.quality_next.NEXT_RULE`. Every "annotate next" of the package (the
dock's button, ``ifss score``, :func:`napari_ifss.annotate_next`, the core helpers) is that
method. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from .quality_next import Scored, ScoreRow, least_trusted_row, rows_of_slices, rows_of_table

__all__ = ["ScoreEvent", "ScoreTable"]


class ScoreEvent(Protocol):
    """A scored slice as scoring reports it (:class:`~.quality_scan.QualityProgress`)."""

    @property
    def z(self) -> int: ...

    @property
    def label_id(self) -> int: ...

    @property
    def score(self) -> Scored: ...


def _order(row: ScoreRow) -> tuple[int, int, float, str]:
    """Table order: z, then label id (then score and badge, for repeated keys)."""
    return (row.z, row.label_id, row.score, row.badge)


@dataclass(frozen=True)
class ScoreTable:
    """Scored slices as rows ``(z, label_id, score, badge)``, kept in (z, label id) order.

    Build it from the shape at hand (:meth:`from_slices`, :meth:`from_events`,
    :meth:`from_labels`) or from rows (``ScoreTable(rows)``); it is immutable, compares
    equal when the rows are equal, and iterates over its rows.
    """

    rows: tuple[ScoreRow, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(sorted(self.rows, key=_order)))

    @classmethod
    def from_slices(cls, scores: Mapping[int, Scored], label_id: int = 0) -> ScoreTable:
        """``{z: score}`` of one object (``label_id``; 0 when it does not matter)."""
        return cls(tuple(rows_of_slices(scores, label_id)))

    @classmethod
    def from_events(cls, events: Iterable[ScoreEvent]) -> ScoreTable:
        """Scoring events (each carries its ``z``, ``label_id`` and ``score``)."""
        return cls(tuple(ScoreRow(int(e.z), int(e.label_id), float(e.score.score),
                                  e.score.badge) for e in events))

    @classmethod
    def from_labels(cls, table: Mapping[int, Mapping[int, Scored]]) -> ScoreTable:
        """``{label_id: {z: score}}``: the stored table (StoredScore) or
        :data:`napari_ifss.api.Scores` (QualityScore)."""
        return cls(tuple(rows_of_table(table)))

    def least_trusted(self) -> ScoreRow:
        """The row to annotate next under the one rule
        (:data:`~napari_ifss.core.quality.quality_next.NEXT_RULE`): a slice where nothing was found
        inside an object's range first, else the lowest score (the number its badge shows);
        ties: the lower z, then the lower label id.

        Raises:
            InvalidInputError: the table is empty.
        """
        return least_trusted_row(self.rows)

    def next_slice(self) -> int:
        """The z of :meth:`least_trusted`.

        Raises:
            InvalidInputError: the table is empty.
        """
        return self.least_trusted().z

    def as_tuples(self) -> list[tuple[int, int, float, str]]:
        """The rows as ``(slice, label_id, score, badge)`` tuples, as a CSV file lists them."""
        return [(r.z, r.label_id, r.score, r.badge) for r in self.rows]

    def __iter__(self) -> Iterator[ScoreRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

