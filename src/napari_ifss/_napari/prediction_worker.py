"""Runs InteractiveSession jobs in a napari thread worker, one at a time, newest per slice wins.

Every job brings one slice's session in line with the clicks currently on it (encoding the
slice first if the session is on another one). While a job runs, newer requests wait in a
queue that keeps only the newest request per slice, so a burst of clicks costs one catch-up
job, and the UI thread never waits for the model.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np
from napari.qt.threading import create_worker

from ..core.interactive.prompts import Box, Click
from ..core.interactive.session import InteractiveSession, SessionState
from ..core.normalize import IntensityWindow
from .slice_context import SliceContext


@dataclass(frozen=True)
class Job:
    """Make ``ctx``'s slice hold exactly ``clicks`` (oldest first); with a ``seed`` (bool
    ``(H, W)`` mask of an existing object), start the slice from that mask first, so the
    clicks correct it. ``box``: the box dragged as the object's first prompt (None: none; a
    changed box restarts the slice from it, then the clicks are replayed)."""

    ctx: SliceContext
    clicks: tuple[Click, ...]
    seed: np.ndarray | None = field(default=None, compare=False)
    box: Box | None = None
    window: IntensityWindow | tuple | None = None  # what the model sees (None: automatic)

    @property
    def key(self) -> Hashable:
        return self.ctx.key


@dataclass(frozen=True)
class JobResult:
    """The slice's state after a job, with timings in milliseconds."""

    ctx: SliceContext
    state: SessionState
    encode_ms: float | None
    predict_ms: float


@dataclass(frozen=True)
class JobFailed:
    """A job that raised ``error`` (the session is left as it was before the failing step)."""

    job: Job
    error: Exception


def run_job(
    session: InteractiveSession, job: Job
) -> Generator[str, None, JobResult | JobFailed]:
    """The job itself (runs in the worker thread); yields status lines for the UI.

    Exceptions are returned as :class:`JobFailed` rather than raised: superqt drops the
    ``finished`` signal of a worker that raised a RuntimeError (torch's usual error type).
    """
    encode_ms = None
    try:
        if not session.segmenter_loaded:
            yield "loading the model..."
            _ = session.segmenter
        if session.key != job.key or session.window != job.window:
            yield f"encoding {job.ctx.description}..."
            t0 = perf_counter()
            session.set_image(job.ctx.read(), key=job.key, window=job.window)
            encode_ms = 1000 * (perf_counter() - t0)
        if job.seed is not None:
            session.start_from_mask(job.seed)
        t0 = perf_counter()
        if job.seed is None and job.box != session.snapshot().box:
            if job.box is None:
                session.reset()
            else:
                session.set_box(job.box)
        session.set_clicks(job.clicks)
        predict_ms = 1000 * (perf_counter() - t0)
    except Exception as err:  # reported in the UI thread
        return JobFailed(job, err)
    return JobResult(job.ctx, session.snapshot(), encode_ms, predict_ms)


class PredictionRunner:
    """Serialises jobs on one session through napari thread workers.

    Args:
        session: the session; only the worker thread touches it while ``busy``.
        on_result: called in the UI thread with each :class:`JobResult`.
        on_status: called in the UI thread with progress lines.
        on_error: called in the UI thread with an exception raised by a job.
        on_idle: called in the UI thread when the last queued job has finished.
    """

    def __init__(
        self,
        session: InteractiveSession,
        on_result: Callable[[JobResult], None],
        on_status: Callable[[str], None],
        on_error: Callable[[Exception], None],
        on_idle: Callable[[], None],
    ) -> None:
        self.session = session
        self._on_result, self._on_status = on_result, on_status
        self._on_error, self._on_idle = on_error, on_idle
        self._pending: dict[Hashable, Job] = {}
        self._worker = None
        self.jobs_started = 0

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        return self._worker is not None or bool(self._pending)

    def submit(self, job: Job) -> None:
        """Run ``job`` now, or after the running one (replacing any waiting job of its slice)."""
        self._pending.pop(job.key, None)
        self._pending[job.key] = job
        if self._worker is None:
            self._start_next()

    def _returned(self, result: JobResult | JobFailed) -> None:
        if isinstance(result, JobFailed):
            self._on_error(result.error)
        else:
            self._on_result(result)

    def _start_next(self) -> None:
        if not self._pending:
            self._worker = None
            self._on_idle()
            return
        key = next(iter(self._pending))
        job = self._pending.pop(key)
        worker = create_worker(run_job, self.session, job, _ignore_errors=True)
        worker.yielded.connect(self._on_status)
        worker.returned.connect(self._returned)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._start_next)
        self._worker = worker
        self.jobs_started += 1
        worker.start()
