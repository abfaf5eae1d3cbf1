"""JFS scores kept with the labels: a plain-JSON table, and which of its entries still hold.

The table maps ``label_id -> z -> StoredScore``. In a labels layer's ``metadata`` (key
:data:`QUALITY_KEY`) it is stored as JSON-able data with string keys::

    {"1": {"12": {"score": 0.52, "badge": "good", "mask": "|b1:48x48:1a2b3c4d"}}}

``mask`` is :func:`~napari_ifss.core.provenance.slice_checksum` of the scored mask
(``labels[z] == label_id``, ``(Y, X)`` bool): once the slice no longer holds that mask (the
user painted, undid the run, a new run rewrote it) the score no longer describes the labels
and :func:`current_scores` drops it. Labels are ``(Z, Y, X)`` integer arrays; z is the index
along axis 0. For rows, the next slice and CSV files the table becomes a
:class:`~napari_ifss.core.quality.quality_table.ScoreTable` (``ScoreTable.from_labels(table)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..errors import InvalidInputError
from ..provenance import Record, slice_checksum
from .quality_next import ScoreRow
from .quality_table import ScoreTable
from .quality_types import Badge, QualityScore

__all__ = [
    "BADGES", "QUALITY_KEY", "ScoreRow", "StoredScore", "StoredTable", "current_scores",
    "from_metadata", "is_user_slice", "least_trusted", "mask_checksum", "replace_labels",
    "score_rows", "stored_score", "stored_table", "suggest_next", "to_metadata",
]

QUALITY_KEY = "napari_ifss_quality"  # labels layer metadata: the stored score table
BADGES: tuple[Badge, ...] = ("good", "check", "review", "empty")


@dataclass(frozen=True)
class StoredScore:
    """One stored verdict: ``score`` in [0, 1], its ``badge``, and the checksum of the mask it
    judged (None: unknown, never treated as stale)."""

    score: float
    badge: Badge
    mask: str | None = None


StoredTable = dict[int, dict[int, StoredScore]]  # {label_id: {z: StoredScore}}


def mask_checksum(labels_slice: np.ndarray, label_id: int) -> str:
    """Checksum of the ``(Y, X)`` mask of ``label_id`` in one labels slice."""
    return slice_checksum(np.asarray(labels_slice) == int(label_id))


def stored_score(score: QualityScore, labels_slice: np.ndarray, label_id: int) -> StoredScore:
    """The entry to store for ``score``, which judged ``label_id`` in ``labels_slice``."""
    return StoredScore(float(score.score), score.badge, mask_checksum(labels_slice, label_id))


def to_metadata(table: Mapping[int, Mapping[int, StoredScore]]
                ) -> dict[str, dict[str, dict[str, float | str]]]:
    """The table as JSON-able data (string keys, in label then z order)."""
    out: dict[str, dict[str, dict[str, float | str]]] = {}
    for label_id in sorted(table):
        entries: dict[str, dict[str, float | str]] = {}
        for z in sorted(table[label_id]):
            entry = table[label_id][z]
            item: dict[str, float | str] = {"score": float(entry.score), "badge": entry.badge}
            if entry.mask is not None:
                item["mask"] = entry.mask
            entries[str(int(z))] = item
        if entries:
            out[str(int(label_id))] = entries
    return out


def _key(value: object, what: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidInputError(f"quality scores: {what} {value!r} is not a whole number")


def _entry(value: object, where: str) -> StoredScore:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"quality scores: {where} is not a mapping")
    score, badge, mask = value.get("score"), value.get("badge"), value.get("mask")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not (
            math.isfinite(score) and 0.0 <= score <= 1.0):
        raise InvalidInputError(f"quality scores: {where} has score {score!r}, not in [0, 1]")
    if badge not in BADGES:
        raise InvalidInputError(f"quality scores: {where} has badge {badge!r}, "
                                f"not one of {', '.join(BADGES)}")
    if mask is not None and not isinstance(mask, str):
        raise InvalidInputError(f"quality scores: {where} has a mask checksum {mask!r}")
    return StoredScore(float(score), cast(Badge, badge), mask)


def from_metadata(data: object) -> StoredTable:
    """Read a table written by :func:`to_metadata` (int or string keys; None: empty).

    Raises:
        InvalidInputError: not a mapping of mappings, a key that is not a whole number, a
            score outside [0, 1], an unknown badge.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"quality scores must be a mapping, got {type(data).__name__}")
    table: StoredTable = {}
    for raw_id, slices in data.items():
        label_id = _key(raw_id, "label id")
        if not isinstance(slices, Mapping):
            raise InvalidInputError(f"quality scores of label {label_id} are not a mapping")
        table[label_id] = {_key(z, "slice index"): _entry(v, f"label {label_id} slice {z}")
                           for z, v in slices.items()}
    return table


def stored_table(layer: object) -> StoredTable:
    """The table kept in ``layer.metadata`` under :data:`QUALITY_KEY` (a napari Labels layer,
    or anything with a ``metadata`` mapping); empty when absent.

    Raises:
        InvalidInputError: the stored data is malformed (see :func:`from_metadata`).
    """
    metadata = getattr(layer, "metadata", None) or {}
    return from_metadata(metadata.get(QUALITY_KEY))


def replace_labels(table: Mapping[int, Mapping[int, StoredScore]], label_ids: Iterable[int],
                   new: Mapping[int, Mapping[int, StoredScore]]) -> StoredTable:
    """A copy of ``table`` where every score of ``label_ids`` is replaced by ``new``'s."""
    ids = {int(i) for i in label_ids}
    out: StoredTable = {int(i): dict(e) for i, e in table.items() if int(i) not in ids}
    for label_id, entries in new.items():
        out.setdefault(int(label_id), {}).update({int(z): s for z, s in entries.items()})
    return {i: e for i, e in out.items() if e}


def is_user_slice(labels_slice: np.ndarray, z: int, record: Record) -> bool:
    """True when slice ``z`` holds labels that propagation did not leave there (the user's
    annotation, see :mod:`napari_ifss.core.provenance`)."""
    arr = np.asarray(labels_slice)
    return bool(arr.any()) and slice_checksum(arr) not in record.get(int(z), [])


def current_scores(table: Mapping[int, Mapping[int, StoredScore]], labels: object,
                   record: Record) -> StoredTable:
    """The entries that still describe ``labels`` ``(Z, Y, X)``: slice in range, not a user
    slice (``record`` of propagated slices), and the mask unchanged (when its checksum is
    known)."""
    depth = int(getattr(labels, "shape", (0,))[0])
    out: StoredTable = {}
    user: dict[int, bool] = {}
    for label_id, entries in table.items():
        for z, entry in entries.items():
            if not 0 <= z < depth:
                continue
            current = np.asarray(labels[z])  # type: ignore[index]
            if z not in user:
                user[z] = is_user_slice(current, z, record)
            if user[z] or (entry.mask is not None
                           and entry.mask != mask_checksum(current, label_id)):
                continue
            out.setdefault(int(label_id), {})[int(z)] = entry
    return out


def score_rows(table: Mapping[int, Mapping[int, StoredScore]]) -> list[ScoreRow]:
    """Every entry as a :class:`ScoreRow`, in (z, label id) order:
    ``ScoreTable.from_labels(table).rows`` (the :class:`ScoreTable` also writes the CSV)."""
    return list(ScoreTable.from_labels(table).rows)


def least_trusted(table: Mapping[int, Mapping[int, StoredScore]]) -> ScoreRow:
    """The row to annotate next: ``ScoreTable.from_labels(table).least_trusted()``, the one
    rule (:data:`~napari_ifss.core.quality.quality_next.NEXT_RULE`: nothing found inside an object's
    range first, else the lowest score, the number its badge shows; ties: lower z, then lower
    label id).

    Raises:
        InvalidInputError: the table is empty.
    """
    return ScoreTable.from_labels(table).least_trusted()


def suggest_next(table: Mapping[int, Mapping[int, StoredScore]],
                 annotated: Mapping[int, Sequence[int]] | None = None) -> ScoreRow:
    """:func:`least_trusted` (one rule everywhere); ``annotated`` is accepted for older callers
    and not used.

    Raises:
        InvalidInputError: the table is empty.
    """
    return ScoreTable.from_labels(table).least_trusted()
