"""JFS over a volume: score each object's slices, pick the slice to annotate next, CSV rows.

Usage::

    events = list(score_labels(volume, labels_after, user_labels))  # every drawn label id
    z = worst_slice(events)        # ScoreTable.from_events(events).next_slice(): the one rule
    scores_to_csv(events, "quality.csv")

``volume`` is ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)``; ``labels_after`` (the labels after
propagation) and ``user_labels`` (what the user drew) are ``(Z, Y, X)`` integer, read one z
slice at a time. Which slices are listed and what scoring costs:
:mod:`napari_ifss.core.quality.quality_scan` (each object's range, an empty slice inside it listed as
"empty" / "nothing found"; each slice encoded at most once per run). Every shape of scores
given here becomes a :class:`~napari_ifss.core.quality.quality_table.ScoreTable`, which picks the next
slice and gives the CSV rows ``slice, label_id, score, badge`` (written atomically, read back
checked).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import cast, get_args

from ..errors import InvalidInputError, ReadError
from ..fewshot.fewshot import FewShotSegmenter
from ..io.atomic import atomic_write
from ..normalize import IntensityWindow
from ..planes import plane_index
from .quality import Badge, QualityScore
from .quality_next import ScoreRow
from .quality_scan import QualityProgress, ScoringPlan, plan_scoring, score_labels, score_plan
from .quality_table import ScoreTable

__all__ = [
    "BADGES", "CSV_FIELDS", "MAX_CSV_BYTES", "QualityProgress", "ScoreTable", "ScoringPlan",
    "SlicesOrEvents", "annotate_next", "as_table", "next_slice", "plan_scoring",
    "read_scores_csv", "read_scores_table", "score_labels", "score_plan", "score_volume",
    "scored_slices", "scores_to_csv", "worst_slice",
]

CSV_FIELDS = ("slice", "label_id", "score", "badge")
BADGES: tuple[str, ...] = get_args(Badge)  # good, check, review, empty
MAX_CSV_BYTES = 64 * 2**20


def score_volume(volume: object, labels_after: object, user_labels: object, label_id: int,
                 segmenter: FewShotSegmenter | None = None, slices: Iterable[int] | None = None,
                 *, window: IntensityWindow | None = None, cache_prefix: Hashable | None = None,
                 in_range: bool = False, spacing: Sequence[float] | None = None
                 ) -> Iterator[QualityProgress]:
    """Score one ``label_id`` (a generator, z order): :func:`score_labels` for one id.

    By default only the slices where ``labels_after`` holds the id (the calibration
    benchmark's set); ``in_range=True`` adds the empty slices of its range ("empty"), as the
    dock, ``ifss score`` and :func:`napari_ifss.score` list them. A slice of ``slices``
    without the object scores 0 with the badge "empty".

    Raises:
        InvalidInputError: shape mismatch, ``label_id`` not drawn by the user, slice out of
            range, bad ``spacing`` (raised before anything is scored).
    """
    return score_labels(volume, labels_after, user_labels, [int(label_id)], segmenter,
                        slices=slices, in_range=in_range, window=window,
                        cache_prefix=cache_prefix, spacing=spacing)


SlicesOrEvents = Mapping[int, QualityScore] | Iterable[QualityProgress]  # {z: score}, events


def as_table(scores: SlicesOrEvents | ScoreTable, label_id: int = 0) -> ScoreTable:
    """``scores`` as a :class:`ScoreTable`: ``{z: QualityScore}`` of ``label_id``, scoring
    events (each with its own label id), or a table (returned as is)."""
    if isinstance(scores, ScoreTable):
        return scores
    if isinstance(scores, Mapping):
        return ScoreTable.from_slices(scores, label_id)
    return ScoreTable.from_events(scores)


def worst_slice(scores: SlicesOrEvents) -> int:
    """The z to annotate next: ``as_table(scores).next_slice()``, the one rule
    (:data:`~.quality_next.NEXT_RULE`: nothing found inside the range first, else the lowest
    score; ties: the lower z).

    Raises:
        InvalidInputError: no scores."""
    return as_table(scores).next_slice()


def next_slice(scores: SlicesOrEvents, annotated: Sequence[int] | None = None) -> int:
    """The slice to annotate next: ``as_table(scores).next_slice()``, as :func:`worst_slice`
    (one rule everywhere). ``annotated`` is accepted for older scripts and not used.

    Raises:
        InvalidInputError: no scores.
    """
    return as_table(scores).next_slice()


def annotate_next(volume: object, labels_after: object, user_labels: object, label_id: int,
                  segmenter: FewShotSegmenter | None = None, **kwargs) -> int | None:
    """Score ``label_id`` over its range (:func:`score_labels`; ``kwargs`` go there) and return
    the slice to annotate next (``ScoreTable.from_events(events).next_slice()``), or None when
    there is nothing to score."""
    table = ScoreTable.from_events(score_labels(volume, labels_after, user_labels,
                                                [int(label_id)], segmenter, **kwargs))
    return table.next_slice() if table else None


def scored_slices(events: Sequence[QualityProgress]) -> dict[int, QualityScore]:
    """``{z: score}`` of a finished :func:`score_volume` run."""
    return {e.z: e.score for e in events}


def scores_to_csv(scores: SlicesOrEvents | ScoreTable, path: str | os.PathLike,
                  label_id: int | None = None, *, lead: Sequence[int] = ()) -> None:
    """Write the rows ``slice, label_id, score, badge`` of ``as_table(scores)`` (z order).
    ``label_id`` is required for a mapping ``{z: QualityScore}``; events and a
    :class:`ScoreTable` carry their own. ``lead``: a 3D movie's ``(T, Z)``, whose planes
    ``t * Z + z`` are written as two columns ``time_point, slice``.

    The file appears whole or not at all (:func:`~napari_ifss.core.io.atomic.atomic_write`).

    Raises:
        InvalidInputError: a mapping without ``label_id``.
        WriteError: the folder does not exist or the file cannot be written.
    """
    if isinstance(scores, Mapping) and label_id is None:
        raise InvalidInputError("scores_to_csv needs label_id for a {z: score} mapping")
    table = as_table(scores, 0 if label_id is None else int(label_id))

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            movie = len(lead) == 2
            writer.writerow(("time_point", *CSV_FIELDS) if movie else CSV_FIELDS)
            for row in table:
                where = list(plane_index(lead, row.z)) if movie else [row.z]
                writer.writerow([*where, row.label_id, f"{row.score:.6f}", row.badge])

    atomic_write(path, write)


def read_scores_csv(path: str | os.PathLike) -> list[tuple[int, int, float, str]]:
    """Rows ``(slice, label_id, score, badge)`` of a file written by :func:`scores_to_csv`, in
    file order (:func:`read_scores_table` gives them as a :class:`ScoreTable`).

    Every value is checked: slice >= 0, label id >= 1, score a number in [0, 1], badge one
    of good/check/review; blank lines are skipped.

    Raises:
        ReadError: a missing, unreadable, non-UTF-8 or oversized file (over 64 MiB).
        InvalidInputError: other columns, or a row with a bad value (the message gives its
            line number).
    """
    p = Path(path)
    if p.exists() and not p.is_file():
        raise ReadError(f"{p}: not a readable scores CSV (not a regular file)")
    try:
        if p.stat().st_size > MAX_CSV_BYTES:
            raise ReadError(f"{p}: {p.stat().st_size} bytes is too large for a scores CSV")
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = tuple(h.strip() for h in next(reader, []))
            if header != CSV_FIELDS:
                raise InvalidInputError(f"{p}: expected columns {', '.join(CSV_FIELDS)}; "
                                        f"got {', '.join(header) or 'none'}")
            return [_csv_row(row, f"{p} line {reader.line_num}") for row in reader if row]
    except FileNotFoundError:
        raise ReadError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ReadError(f"{p}: not a readable scores CSV ({err})") from err


def read_scores_table(path: str | os.PathLike) -> ScoreTable:
    """The rows of a scores CSV file (:func:`read_scores_csv`, same checks) as a
    :class:`ScoreTable`."""
    return ScoreTable(tuple(ScoreRow(z, i, s, cast(Badge, b))
                            for z, i, s, b in read_scores_csv(path)))


def _csv_row(row: Sequence[str], where: str) -> tuple[int, int, float, str]:
    """One checked CSV row ``(slice, label_id, score, badge)``."""
    if len(row) != len(CSV_FIELDS):
        raise InvalidInputError(f"{where}: expected {len(CSV_FIELDS)} values "
                                f"({','.join(CSV_FIELDS)}), got {len(row)}")
    z_text, id_text, score_text, badge = (v.strip() for v in row)
    try:
        z, label_id, score = int(z_text), int(id_text), float(score_text)
    except ValueError:
        raise InvalidInputError(f"{where}: slice and label_id must be whole numbers and score a "
                                f"number; got {','.join(row)[:80]!r}") from None
    if not 0 <= z < 2**63 or not 1 <= label_id < 2**63:
        raise InvalidInputError(f"{where}: slice {z} must be >= 0 and label_id {label_id} >= 1")
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise InvalidInputError(f"{where}: score {score_text!r} is not a number in [0, 1]")
    if badge not in BADGES:
        raise InvalidInputError(f"{where}: badge {badge[:40]!r} is not one of "
                                f"{', '.join(BADGES)}")
    return z, label_id, score, badge
