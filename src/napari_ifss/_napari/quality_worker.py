"""JFS scoring of a finished propagation run, in a napari thread worker, cancellable.

After a run, every slice of each propagated label id's range is scored with
:func:`~napari_ifss.core.quality.quality_scan.score_plan` against the user's own slices (an empty
slice inside the range is listed as "nothing found"), with the same :class:`FewShotSegmenter`
and the same ``cache_prefix`` as the propagation, so the encoder features of the propagated
slices are reused: the slices propagation encoded last are scored first, while the LRU cache
still holds them (see :func:`reserve_cache`), and no slice is encoded twice. The worker reads only the volume and private snapshots of the labels;
scores come back to the UI thread one by one and are written into the labels layer's metadata
(:data:`~napari_ifss.core.quality.quality_store.QUALITY_KEY`) when the job ends, also after Cancel
(what was scored is kept). The worker runs :func:`~.propagation_worker.run_propagation`, which
is not specific to propagation: it loads the model, iterates a generator (here
:meth:`ScoringWork.events`) and stops on cancel; both run without Qt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from napari.layers import Labels

from ..core.errors import InvalidInputError
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.learner_segmenter import check_spacing
from ..core.normalize import IntensityWindow
from ..core.planes import PlaneStack
from ..core.provenance import Record, UserSlices, user_labels
from ..core.quality.quality_movie import MoviePlan, plan_movie, score_movie
from ..core.quality.quality_next import ScoreRow
from ..core.quality.quality_scan import QualityProgress, ScoringPlan, plan_drawn, score_plan
from ..core.quality.quality_store import (
    QUALITY_KEY,
    StoredTable,
    replace_labels,
    stored_score,
    stored_table,
    to_metadata,
)
from ..core.slice_store import compressed_copy
from .propagation_worker import PropagationRunner, RunFailed, RunFinished
from .slice_context import full_resolution

# At most this many encoded slices are kept for reuse between propagation and scoring (one
# slice is about 2 MB at the network's smallest size, 8 MB at its largest).
CACHE_SLICES_MAX = 32
_RUN_NUMBERS = itertools.count(1)


def reserve_cache(segmenter: FewShotSegmenter, n_slices: int) -> FewShotSegmenter:
    """Enlarge ``segmenter``'s LRU cache to ``n_slices`` (at most :data:`CACHE_SLICES_MAX`) so
    that scoring finds the slices propagation encoded; returns ``segmenter``. Objects that are
    not a :class:`FewShotSegmenter` (test doubles) are returned untouched."""
    if isinstance(segmenter, FewShotSegmenter):
        wanted = min(int(n_slices), CACHE_SLICES_MAX)
        segmenter.cache_size = max(segmenter.cache_size, wanted)
    return segmenter


@dataclass(frozen=True)
class ScoringRequest:
    """What a propagation run hands to scoring: the ``(Z, Y, X[, 3|4])`` volume it read, the
    label ids it propagated, the cache prefix it encoded slices under and the layer's
    ``(z, y, x)`` voxel size (distances to the user's slices count in object widths) and the
    intensity window the run used (None: the automatic one). A 3D movie's run also says
    which way it went (``along``, :mod:`~napari_ifss.core.quality.quality_movie`: its planes
    are numbered ``t * Z + z``)."""

    volume: object
    label_ids: tuple[int, ...]
    cache_prefix: Hashable
    spacing: tuple[float, float, float] | None = None
    window: IntensityWindow | None = None
    along: str | None = None

    @classmethod
    def for_run(cls, volume: object, label_ids: Sequence[int],
                spacing: Sequence[float] | None = None,
                window: IntensityWindow | None = None,
                along: str | None = None) -> ScoringRequest:
        """A request with a cache prefix of its own (one per propagation run).

        Raises:
            InvalidInputError: ``spacing`` not three positive numbers."""
        return cls(volume, tuple(int(i) for i in label_ids),
                   ("napari-ifss-propagation", next(_RUN_NUMBERS)), check_spacing(spacing),
                   window, along)


@dataclass(frozen=True)
class ScoringWork:
    """What the worker of one scoring job reads: private snapshots taken when it starts.

    Attributes:
        request: the volume, label ids and cache prefix of the propagation run.
        labels: ``(Z, Y, X)`` (a movie's ``(T, Z, Y, X)``) the labels layer's data when the
            job started (what is scored).
        user: the user's own planes of ``labels`` (a view of its planes with the propagated
            ones read as zeros).
        plan: the (slice, label id) pairs to score (a movie's per unit).
    """

    request: ScoringRequest
    labels: object
    user: UserSlices
    plan: ScoringPlan | MoviePlan

    @classmethod
    def snapshot(cls, request: ScoringRequest, data: object, record: Record) -> ScoringWork:
        """Copy ``data`` (a labels layer's data; a compressed copy,
        :func:`~napari_ifss.core.slice_store.compressed_copy`) and plan the slices of
        ``request``'s label ids the user drew; ``record`` tells the propagated planes from
        the user's."""
        if request.along is None:
            labels_after = compressed_copy(data)
            user, _ = user_labels(record, labels_after)
            return cls(request, labels_after, user,
                       plan_drawn(request.volume, labels_after, user, request.label_ids))
        labels_after = compressed_copy(PlaneStack(data), shape=tuple(np.shape(data)))
        user, _ = user_labels(record, PlaneStack(labels_after))  # numbered as its planes
        return cls(request, labels_after, user, plan_movie(
            request.volume, labels_after, user, request.along, request.label_ids))

    def events(self, segmenter: FewShotSegmenter) -> Iterator[QualityProgress]:
        """The scores, one :class:`QualityProgress` per planned (slice, label id), the slices
        the propagation encoded last first (their features are still cached); a movie's
        unit by unit, numbered as its planes."""
        req = self.request
        if isinstance(self.plan, MoviePlan):
            return score_movie(req.volume, self.labels, self.user, self.plan, segmenter,
                               window=req.window, spacing=req.spacing)
        return score_plan(req.volume, self.labels, self.user, self.plan, segmenter,
                          cache_prefix=req.cache_prefix, recent_first=True,
                          spacing=req.spacing, window=req.window)


@dataclass
class ScoringJob:
    """A running scoring job, as the UI thread sees it.

    Attributes:
        layer: the labels layer scored; its metadata receives the scores when the job ends.
        label_ids: the label ids scored (their earlier stored scores are replaced).
        labels: the snapshot that is scored (:attr:`ScoringWork.labels`) as its planes
            (:class:`~napari_ifss.core.planes.PlaneStack`).
        total: the number of (slice, label id) pairs to score.
        scores: the scores so far, ``{label_id: {z: StoredScore}}``.
        done: the number of pairs scored so far.
    """

    layer: Labels
    label_ids: tuple[int, ...]
    labels: PlaneStack
    total: int
    scores: StoredTable = field(default_factory=dict)
    done: int = 0


class QualityScorer:
    """Runs one scoring job at a time.

    Args:
        on_status: UI-thread callback for status lines.
        on_score: UI-thread callback for each scored slice: its :class:`ScoreRow`, the number
            of slices scored so far and the total.
        on_done: UI-thread callback with a closing message, after the scores were stored.
    """

    def __init__(self, on_status: Callable[[str], None],
                 on_score: Callable[[ScoreRow, int, int], None],
                 on_done: Callable[[str], None]) -> None:
        self._on_status, self._on_score, self._on_done = on_status, on_score, on_done
        self.runner = PropagationRunner(self._status, self._event, self._finished)
        self._job: ScoringJob | None = None

    @property
    def busy(self) -> bool:
        """True from :meth:`start` until the scores are stored."""
        return self.runner.busy

    @property
    def pending(self) -> tuple[Labels, tuple[int, ...], StoredTable] | None:
        """The running job's layer, label ids and the scores it has so far (None when
        idle)."""
        job = self._job
        return None if job is None else (job.layer, job.label_ids, job.scores)

    def cancel(self) -> None:
        """Stop after the slice being scored; its score and the earlier ones are kept."""
        if self.runner.busy:
            self.runner.cancel()

    def start(self, request: ScoringRequest, layer: Labels, segmenter: FewShotSegmenter,
              record: Record) -> int:
        """Score ``request``'s label ids on ``layer`` as it is now; ``record`` tells the
        propagated slices from the user's. Returns the number of slices to score (0: nothing
        started). Raises RuntimeError when a job is running."""
        if self.runner.busy:
            raise RuntimeError("a quality scoring is already running")
        # the worker's snapshots
        work = ScoringWork.snapshot(request, full_resolution(layer), record)
        total = work.plan.total
        if total == 0:
            return 0
        self._job = ScoringJob(layer, request.label_ids, PlaneStack(work.labels), total)
        self.runner.run(lambda: segmenter, work.events)
        return total

    def _status(self, text: str) -> None:
        self._on_status(f"quality check: {text}")

    def _event(self, event: QualityProgress) -> None:
        job = self._job
        if job is None:
            return
        entry = stored_score(event.score, job.labels[event.z], event.label_id)
        job.scores.setdefault(event.label_id, {})[event.z] = entry
        job.done = event.done
        self._on_score(ScoreRow(event.z, event.label_id, entry.score, entry.badge), event.done,
                       event.total)

    def _finished(self, result: RunFinished | RunFailed) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        layer = job.layer
        try:
            old = stored_table(layer)
        except InvalidInputError:
            old = {}  # unreadable scores are replaced
        table = replace_labels(old, job.label_ids, job.scores)
        layer.metadata = {**layer.metadata, QUALITY_KEY: to_metadata(table)}
        done, total = job.done, job.total
        if isinstance(result, RunFailed):
            message = f"quality check failed after {done}/{total} slices: {result.error}"
        elif result.cancelled:
            message = f"quality check cancelled after {done}/{total} slices (scores kept)"
        else:
            message = f"quality checked on {done} slice{'s' * (done != 1)} in {result.seconds:.1f} s"
        self._on_done(message)
