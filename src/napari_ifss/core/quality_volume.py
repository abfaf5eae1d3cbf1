"""JFS over a volume: score every propagated slice of one object, as a cancellable generator.

Usage::

    for event in score_volume(volume, labels_after, user_labels, label_id=1):
        badges[event.z] = event.score.badge        # one event per scored slice
    z = worst_slice(scores)                         # "annotate this next"
    scores_to_csv(scores, "quality.csv")

``volume`` is ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)``; ``labels_after`` (the labels after
propagation) and ``user_labels`` (what the user drew) are ``(Z, Y, X)`` integer, read one z
slice at a time. The user's slices of ``label_id`` are encoded once (cache keys
``(cache_prefix, z)``, shared with :func:`~napari_ifss.core.propagation.propagate` when it ran
with the same ``cache_prefix``), so scoring a slice costs one encoder pass for that slice plus
``K`` light head passes.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np

from .errors import InvalidInputError, ReadError
from .fewshot import FewShotSegmenter
from .io.atomic import atomic_write
from .normalize import IntensityWindow
from .propagation import check_volume_dtype, check_volume_shape, sample_window
from .quality import Badge, QualityScore, jfs_score
from .support import index_labels

CSV_FIELDS = ("slice", "label_id", "score", "badge")
BADGES: tuple[str, ...] = get_args(Badge)
MAX_CSV_BYTES = 64 * 2**20


@dataclass(frozen=True)
class QualityProgress:
    """One scored slice: ``z``, ``label_id``, its :class:`QualityScore`, and progress
    ``done`` / ``total`` (``done`` counts this slice)."""

    z: int
    label_id: int
    score: QualityScore
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def _check(volume: object, labels_after: object, user_labels: object) -> int:
    vshape = tuple(getattr(volume, "shape", ()))
    check_volume_shape(vshape)
    check_volume_dtype(volume)
    for name, lab in (("labels_after", labels_after), ("user_labels", user_labels)):
        lshape = tuple(getattr(lab, "shape", ()))
        if lshape != vshape[:3]:
            raise InvalidInputError(
                f"{name} shape {lshape} does not match the volume's (Z, Y, X) {vshape[:3]}")
    return int(vshape[0])


def score_volume(volume: object, labels_after: object, user_labels: object, label_id: int,
                 segmenter: FewShotSegmenter | None = None, slices: Iterable[int] | None = None,
                 *, window: IntensityWindow | None = None, cache_prefix: Hashable = "volume"
                 ) -> Iterator[QualityProgress]:
    """Score ``label_id`` on each slice of ``slices`` with JFS (a generator).

    Args:
        volume: ``(Z, Y, X)`` / ``(Z, Y, X, 3|4)`` array-like.
        labels_after: ``(Z, Y, X)`` labels holding the result (e.g. after propagation).
        user_labels: ``(Z, Y, X)`` the user's own labels; slices with ``label_id`` are the
            evidence and are never scored.
        label_id: the object to score.
        segmenter: the few-shot model (default :meth:`FewShotSegmenter.default`); its LRU
            cache is enlarged to hold all user slices.
        slices: z indices to score (default: every non-user slice where ``labels_after``
            holds ``label_id``); a listed slice without the object scores 0 ("empty").
        window: intensity window (default: from a few evenly spaced slices, as propagation).
        cache_prefix: encoded slices are cached under ``(cache_prefix, z)``.

    Yields:
        :class:`QualityProgress` per scored slice, in z order.

    Raises:
        InvalidInputError: shape mismatch, ``label_id`` not drawn by the user, slice out of
            range (raised before anything is scored).
    """
    depth = _check(volume, labels_after, user_labels)
    index = index_labels(user_labels)
    label_id = int(label_id)
    if label_id == 0 or label_id not in index.slices_of:
        present = ", ".join(map(str, index.label_ids)) or "none"
        raise InvalidInputError(f"label id {label_id} is not drawn on any user slice "
                                f"(ids present: {present})")
    user_z = list(index.slices_of[label_id])
    if slices is None:
        targets = [z for z in range(depth) if z not in user_z
                   and np.any(np.asarray(labels_after[z]) == label_id)]  # type: ignore[index]
    else:
        targets = sorted({int(z) for z in slices} - set(user_z))
        for z in targets:
            if not 0 <= z < depth:
                raise InvalidInputError(f"slice index {z} is outside the volume (0..{depth - 1})")
    return _run(volume, labels_after, user_labels, label_id, user_z, targets, segmenter,
                window, cache_prefix)


def _run(volume, labels_after, user_labels, label_id, user_z, targets, segmenter, window,
         cache_prefix) -> Iterator[QualityProgress]:
    if not targets:
        return
    seg = segmenter if segmenter is not None else FewShotSegmenter.default()
    seg.cache_size = max(seg.cache_size, len(user_z) + 2)
    window = window if window is not None else sample_window(volume)
    images = [np.asarray(volume[z]) for z in user_z]
    masks = [np.asarray(user_labels[z]) == label_id for z in user_z]
    keys = [(cache_prefix, z) for z in user_z]
    for done, z in enumerate(targets, start=1):
        mask = np.asarray(labels_after[z]) == label_id
        score = jfs_score(seg, np.asarray(volume[z]), mask, images, masks, z, user_z,
                          window=window, result_key=(cache_prefix, z), support_keys=keys)
        yield QualityProgress(z, label_id, score, done, len(targets))


def _as_mapping(scores: Mapping[int, QualityScore] | Iterable[QualityProgress]
                ) -> dict[int, QualityScore]:
    if isinstance(scores, Mapping):
        return {int(z): s for z, s in scores.items()}
    return {e.z: e.score for e in scores}


def worst_slice(scores: Mapping[int, QualityScore] | Iterable[QualityProgress]) -> int:
    """The z of the least trusted slice (lowest score; lower z on ties).

    Raises:
        InvalidInputError: no scores."""
    table = _as_mapping(scores)
    if not table:
        raise InvalidInputError("no scored slices to choose from")
    return min(table, key=lambda z: (table[z].score, z))


def slice_gains(scores: Mapping[int, QualityScore] | Iterable[QualityProgress],
                annotated: Sequence[int]) -> dict[int, float]:
    """How much annotating each scored slice should help, ``{z: gain}``.

    Annotating slice ``c`` brings every scored slice ``w`` nearer to a user slice: its distance
    ``d_w`` to the nearest annotated slice drops to ``min(d_w, |w - c|)``. The expected help is
    that reduction as a fraction of ``d_w``, weighted by how little ``w`` is trusted::

        gain(c) = sum_w (1 - score_w) * max(0, d_w - |w - c|) / d_w

    Raises:
        InvalidInputError: no scores, or no annotated slice.
    """
    table = _as_mapping(scores)
    if not table:
        raise InvalidInputError("no scored slices to choose from")
    ann = np.asarray(sorted({int(a) for a in annotated}), dtype=float)
    if ann.size == 0:
        raise InvalidInputError("no annotated slice: annotate one before asking where next")
    zs = np.asarray(sorted(table), dtype=float)
    untrust = 1.0 - np.asarray([table[int(z)].score for z in zs])
    dist = np.maximum(np.abs(zs[:, None] - ann[None, :]).min(axis=1), 1.0)
    reach = np.maximum(0.0, dist[None, :] - np.abs(zs[:, None] - zs[None, :]))  # [c, w]
    gain = (reach / dist[None, :] * untrust[None, :]).sum(axis=1)
    return {int(z): float(g) for z, g in zip(zs, gain, strict=True)}


def next_slice(scores: Mapping[int, QualityScore] | Iterable[QualityProgress],
               annotated: Sequence[int]) -> int:
    """The slice to annotate next: the largest :func:`slice_gains` (ties: the lower z).

    The pick sits inside the largest run of poorly trusted slices rather than at a lone bad
    slice at the object's tip.

    Raises:
        InvalidInputError: no scores, or no annotated slice.
    """
    gains = slice_gains(scores, annotated)
    return max(sorted(gains), key=lambda z: gains[z])


def annotate_next(volume: object, labels_after: object, user_labels: object, label_id: int,
                  segmenter: FewShotSegmenter | None = None, **kwargs) -> int | None:
    """Score the volume (:func:`score_volume`) and return the slice to annotate next
    (:func:`next_slice`), or None when there is nothing to score."""
    events = list(score_volume(volume, labels_after, user_labels, label_id, segmenter,
                               **kwargs))
    if not events:
        return None
    return next_slice(events, index_labels(user_labels).slices_of[int(label_id)])


def scores_to_csv(scores: Mapping[int, QualityScore] | Iterable[QualityProgress],
                  path: str | os.PathLike, label_id: int | None = None) -> None:
    """Write rows ``slice, label_id, score, badge`` (z order). ``label_id`` is required for a
    mapping ``{z: QualityScore}``; events carry their own.

    The file appears whole or not at all (:func:`~napari_ifss.core.io.atomic.atomic_write`).

    Raises:
        InvalidInputError: a mapping without ``label_id``.
        WriteError: the folder does not exist or the file cannot be written.
    """
    rows: list[tuple[int, int, float, str]] = []
    if isinstance(scores, Mapping):
        if label_id is None:
            raise InvalidInputError("scores_to_csv needs label_id for a {z: score} mapping")
        rows = [(int(z), int(label_id), s.score, s.badge) for z, s in scores.items()]
    else:
        rows = [(e.z, e.label_id, e.score.score, e.score.badge) for e in scores]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_FIELDS)
            for z, i, s, b in sorted(rows):
                writer.writerow([z, i, f"{s:.6f}", b])

    atomic_write(path, write)


def read_scores_csv(path: str | os.PathLike) -> list[tuple[int, int, float, str]]:
    """Rows ``(slice, label_id, score, badge)`` of a file written by :func:`scores_to_csv`.

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


def scored_slices(events: Sequence[QualityProgress]) -> dict[int, QualityScore]:
    """``{z: score}`` of a finished :func:`score_volume` run."""
    return _as_mapping(events)
