"""JFS over a volume: which slices of each object to score, and scoring them as a cancellable
generator (re-exported by :mod:`napari_ifss.core.quality.quality_volume`).

Usage::

    events = list(score_labels(volume, labels_after, user_labels))  # every drawn label id

``volume`` is ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)``, or :class:`~napari_ifss.core.channels.Channels`
of ``(Z, Y, X)`` arrays (each object is judged in the channel it stands out in on the user's
slices, :mod:`~napari_ifss.core.fewshot.support_channel`); ``labels_after`` (the labels after
propagation) and ``user_labels`` (what the user drew) are ``(Z, Y, X)`` integer, read one z
slice at a time.

**Which slices** (:func:`plan_scoring`): for each label id, every slice of the object's
*range*, from the lowest to the highest slice where the user drew it or the result holds it,
except the user's own slices of it (they are the evidence). A slice of that range where the
result holds nothing is listed with score 0 and the badge "empty" ("nothing found": the object
may continue there), unless the user annotated anything on it (propagation never writes such a
slice). :func:`~.quality_volume.score_volume` (one id, the calibration benchmark's) lists only the
slices holding the id unless ``in_range=True``.

**Cost**: within a run each slice is encoded at most once per channel used, whatever the
number of label ids.
User slices are encoded once and held; result slices are encoded under the keys
``(cache_prefix, z)`` (a channel's under ``(channel_key(cache_prefix, k), z)``) and the
window of :func:`~napari_ifss.core.fewshot.volume_io.run_window`, the keys and window
:func:`~napari_ifss.core.fewshot.propagation.propagate` uses with the same ``cache_prefix``,
so what propagation left in the segmenter's cache is reused
(``recent_first=True`` scores those slices first, before anything can evict them). A scored
slice then costs the summary of its mask and one head pass per user slice; an empty one
costs nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..channels import Channels
from ..encoding import EncodedSlice
from ..errors import InvalidInputError
from ..fewshot.fewshot import FewShotSegmenter
from ..fewshot.learner_segmenter import check_spacing
from ..fewshot.support import index_labels
from ..fewshot.support_channel import channel_key, support_channel
from ..fewshot.volume_io import (
    check_volume_dtype,
    check_volume_shape,
    read_slice,
    run_window,
)
from ..normalize import IntensityWindow
from .quality import EMPTY_BADGE, QualityScore, score_encoded, unusable_score

__all__ = [
    "QualityProgress", "ScoringPlan", "plan_drawn", "plan_scoring", "score_labels", "score_plan",
]


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


@dataclass(frozen=True)
class ScoringPlan:
    """What a scoring run covers, per label id (in the order given): ``user`` its user slices,
    ``targets`` the slices to score (z order) and ``span`` the object's range ``(lo, hi)``."""

    user: dict[int, tuple[int, ...]]
    targets: dict[int, tuple[int, ...]]
    span: dict[int, tuple[int, int]]

    @property
    def total(self) -> int:
        """Number of (slice, label id) pairs to score."""
        return sum(len(t) for t in self.targets.values())


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


def plan_scoring(volume: object, labels_after: object, user_labels: object,
                 label_ids: int | Iterable[int] | None = None,
                 slices: Iterable[int] | None = None, *, in_range: bool = True) -> ScoringPlan:
    """The slices to score for each label id (see the module docstring).

    Args:
        label_ids: one id, several, or None for every id the user drew.
        slices: score exactly these z indices (minus each id's user slices) instead.
        in_range: also list the empty slices inside each object's range.

    Raises:
        InvalidInputError: shape mismatch, an id the user did not draw, a slice out of range.
    """
    depth = _check(volume, labels_after, user_labels)
    index = index_labels(user_labels)
    ids = list(index.label_ids) if label_ids is None else (
        [int(label_ids)] if isinstance(label_ids, int | np.integer) else
        [int(i) for i in label_ids])
    for i in ids:
        if i == 0 or i not in index.slices_of:
            present = ", ".join(map(str, index.label_ids)) or "none"
            raise InvalidInputError(f"label id {i} is not drawn on any user slice "
                                    f"(ids present: {present})")
    user = {i: tuple(index.slices_of[i]) for i in ids}
    if slices is not None:
        wanted = sorted({int(z) for z in slices})
        for z in wanted:
            if not 0 <= z < depth:
                raise InvalidInputError(f"slice index {z} is outside the volume (0..{depth - 1})")
        targets = {i: tuple(z for z in wanted if z not in user[i]) for i in ids}
        return ScoringPlan(user, targets, {i: (min(user[i] + targets[i]),
                                               max(user[i] + targets[i])) for i in ids})
    found: dict[int, list[int]] = {i: [] for i in ids}
    for z in range(depth):
        sl = np.asarray(labels_after[z])  # type: ignore[index]
        here = set(np.unique(sl).tolist()) if len(ids) > 4 else {
            i for i in ids if np.any(sl == i)}
        for i in ids:
            if i in here and z not in user[i]:
                found[i].append(z)
    annotated = set(index.annotated)
    targets, span = {}, {}
    for i in ids:
        lo, hi = min(user[i] + tuple(found[i])), max(user[i] + tuple(found[i]))
        span[i] = (lo, hi)
        empty = {z for z in range(lo, hi + 1) if z not in annotated} if in_range else set()
        targets[i] = tuple(sorted(set(found[i]) | empty))
    return ScoringPlan(user, targets, span)


def plan_drawn(volume: object, labels_after: object, user_labels: object,
               label_ids: Iterable[int]) -> ScoringPlan:
    """:func:`plan_scoring` (each object's range) for those of ``label_ids`` the user drew in
    ``user_labels`` ``(Z, Y, X)``; ids the user did not draw are left out (an empty plan when
    none is drawn). What the dock scores after a propagation run."""
    drawn = index_labels(user_labels).slices_of
    ids = [int(i) for i in label_ids if int(i) in drawn]
    if not ids:
        return ScoringPlan({}, {}, {})
    return plan_scoring(volume, labels_after, user_labels, ids)


def score_labels(volume: object, labels_after: object, user_labels: object,
                 label_ids: int | Iterable[int] | None = None,
                 segmenter: FewShotSegmenter | None = None, *,
                 slices: Iterable[int] | None = None, in_range: bool = True,
                 window: IntensityWindow | None = None, cache_prefix: Hashable | None = None,
                 recent_first: bool = False, spacing: Sequence[float] | None = None
                 ) -> Iterator[QualityProgress]:
    """Score the label ids' slices with JFS (:func:`plan_scoring`, then :func:`score_plan`).
    Bad input (including ``spacing``) raises :class:`InvalidInputError` here, before the
    generator is returned."""
    plan = plan_scoring(volume, labels_after, user_labels, label_ids, slices,
                        in_range=in_range)
    return score_plan(volume, labels_after, user_labels, plan, segmenter, window=window,
                      cache_prefix=cache_prefix, recent_first=recent_first,
                      spacing=check_spacing(spacing))


def _visit_order(plan: ScoringPlan, recent_first: bool) -> list[int]:
    """Slices in z order, or the reverse of propagation's order (last id first, slices
    farthest from the id's user slices first), each once."""
    if not recent_first:
        return sorted({z for zs in plan.targets.values() for z in zs})
    order: dict[int, None] = {}
    for i in reversed(list(plan.targets)):
        user = plan.user[i]
        for z in sorted(plan.targets[i], key=lambda z: (-min(abs(z - u) for u in user), -z)):
            order.setdefault(z, None)
    return list(order)


def _empty(z: int, label_id: int, span: tuple[int, int]) -> QualityScore:
    return QualityScore(0.0, EMPTY_BADGE, (), f"nothing found: no label {label_id} on this "
                        f"slice, inside its range (slices {span[0]}-{span[1]})", z)


def score_plan(volume: object, labels_after: object, user_labels: object, plan: ScoringPlan,
               segmenter: FewShotSegmenter | None = None, *,
               window: IntensityWindow | None = None, cache_prefix: Hashable | None = None,
               recent_first: bool = False,
               spacing: tuple[float, float, float] | None = None) -> Iterator[QualityProgress]:
    """Score ``plan`` (a generator): one :class:`QualityProgress` per (slice, label id), the
    label ids of a slice together, slices in z order (``recent_first``: see
    :func:`_visit_order`). Stopping the iteration (``close()``, an exception such as
    KeyboardInterrupt) keeps every event already yielded valid.

    Args:
        segmenter: the few-shot model (default :meth:`FewShotSegmenter.default`).
        window: intensity window, as propagation's (:func:`run_window`): default from a few
            slices; for :class:`Channels` one for all or one per channel (None: that
            channel's own).
        cache_prefix: result slices are encoded under ``(cache_prefix, z)`` (channel ``k``:
            ``(channel_key(cache_prefix, k), z)``); pass the propagation's prefix to reuse
            its encodings (None: private to this run).
        spacing: ``(z, y, x)`` voxel size (checked by :func:`score_labels`): distances to the
            user slices count in object widths (:func:`~.quality.object_widths`).
    """
    total = plan.total
    if total == 0:
        return
    seg = segmenter if segmenter is not None else FewShotSegmenter.default()
    window = run_window(volume, window)  # as propagation's
    prefix = cache_prefix if cache_prefix is not None else ("quality", object())
    held: dict[tuple[int, int | None], EncodedSlice] = {}  # user slices: encoded once, kept
    user_masks: dict[int, list[np.ndarray]] = {}
    channel_of: dict[int, int | None] = {}

    def encode(z: int, k: int | None) -> EncodedSlice:
        view, win = (volume, window) if k is None else (volume.arrays[k], window[k])  # type: ignore[attr-defined, index]
        return seg.encode(np.asarray(view[z]), (channel_key(prefix, k), z), window=win)

    def user_slice(z: int, k: int | None) -> EncodedSlice:
        if (z, k) not in held:
            held[z, k] = encode(z, k)
        return held[z, k]

    def masks_of(i: int) -> list[np.ndarray]:
        if i not in user_masks:
            user_masks[i] = [np.asarray(user_labels[u]) == i for u in plan.user[i]]  # type: ignore[index]
        return user_masks[i]

    shots: dict[int, object] = {}  # user slices read for the channel choice, read once

    def channel(i: int) -> int | None:  # the channel object i is judged in (support_channel)
        if i not in channel_of and isinstance(volume, Channels):
            for u in plan.user[i]:
                if u not in shots:
                    shots[u] = read_slice(volume, u)
            channel_of[i] = support_channel([shots[u] for u in plan.user[i]], masks_of(i),
                                            window)  # type: ignore[arg-type]
        return channel_of.get(i)

    every_user = {u for us in plan.user.values() for u in us}
    at: dict[int, list[int]] = {}
    for i, zs in plan.targets.items():
        for z in zs:
            at.setdefault(z, []).append(i)
    done = 0
    for z in _visit_order(plan, recent_first):
        sl = np.asarray(labels_after[z])  # type: ignore[index]
        encoded: dict[int | None, EncodedSlice] = {}  # this slice, per channel
        for i in at[z]:
            mask = sl == i
            score = _empty(z, i, plan.span[i]) if not mask.any() else unusable_score(mask, z)
            if score is None:
                k = channel(i)
                if k not in encoded:  # a user slice of another id is encoded once, and held
                    encoded[k] = user_slice(z, k) if z in every_user else encode(z, k)
                score = score_encoded(seg, encoded[k], mask,
                                      [user_slice(u, k) for u in plan.user[i]], masks_of(i),
                                      z, plan.user[i], spacing=spacing)
            done += 1
            yield QualityProgress(z, i, score, done, total)
