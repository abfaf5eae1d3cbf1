"""One generator job at a time in a napari thread worker: status lines, events, one result.

A *job* is a generator function that runs in the worker thread. It yields status lines
(``str``) and progress events (anything else) and returns its result. It is called as
``job(*args, cancel=event)``, where ``event`` is a :class:`threading.Event` that
:meth:`GeneratorRunner.cancel` sets; a job that can stop early checks it between two events.

Every yielded item comes back to the UI thread (napari's ``yielded`` signal): status lines go
to ``on_status``, events to ``on_event``. When the worker has finished, ``on_done`` gets the
job's result. A job should return its exceptions, never raise them: superqt turns a
RuntimeError raised inside a generator worker into a *return value* and drops the error
signal. An exception that comes back anyway (returned or through the ``errored`` signal) is
turned into a result by ``failed``, and so is a worker that ended without any result.

Used by the few-shot propagation (:mod:`.propagation_worker`), its JFS scoring
(:mod:`.quality_worker`) and "Segment all like this" (:mod:`.exemplar_action`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from napari.qt.threading import GeneratorWorker, create_worker

__all__ = ["GeneratorRunner", "Job"]

EventT = TypeVar("EventT")
ResultT = TypeVar("ResultT")
Job = Callable[..., Generator[Any, None, Any]]  # job(*args, cancel=threading.Event)


class GeneratorRunner(Generic[EventT, ResultT]):
    """Runs one generator job at a time in a napari thread worker, cancellable.

    Args:
        on_status: UI-thread callback for the status lines (``str``) the job yields.
        on_event: UI-thread callback for every other item the job yields.
        on_done: UI-thread callback with the job's result, once the worker has finished.
        failed: makes a result of an exception that came back instead of a result.
        stopped_message: the error handed to ``failed`` when the worker ended without a
            result.
    """

    def __init__(self, on_status: Callable[[str], None], on_event: Callable[[EventT], None],
                 on_done: Callable[[ResultT], None], failed: Callable[[Exception], ResultT],
                 stopped_message: str = "the worker stopped unexpectedly") -> None:
        self._on_status, self._on_event, self._on_done = on_status, on_event, on_done
        self._failed, self._stopped_message = failed, stopped_message
        self._cancel = threading.Event()
        self._worker: GeneratorWorker | None = None
        self._pending_result: ResultT | None = None

    @property
    def busy(self) -> bool:
        """True from :meth:`start` until the result has been handed to ``on_done``."""
        return self._worker is not None

    @property
    def cancelling(self) -> bool:
        """True once :meth:`cancel` was called for the running job."""
        return self._cancel.is_set()

    def start(self, job: Job, *args: object) -> None:
        """Run ``job(*args, cancel=event)`` in a worker (RuntimeError if one is running)."""
        if self._worker is not None:
            raise RuntimeError("a job is already running")
        self._cancel = threading.Event()
        self._pending_result = None
        worker = create_worker(job, *args, cancel=self._cancel, _ignore_errors=True)
        worker.yielded.connect(self._yielded)
        worker.returned.connect(self._returned)
        worker.errored.connect(self._returned)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

    def cancel(self) -> None:
        """Ask the job to stop (it decides when; its result is still handed on)."""
        self._cancel.set()

    def _yielded(self, item: object) -> None:
        if isinstance(item, str):
            self._on_status(item)
        else:
            self._on_event(item)  # type: ignore[arg-type]

    def _returned(self, result: object) -> None:
        if isinstance(result, Exception):  # superqt's path for a RuntimeError, or errored
            result = self._failed(result)
        self._pending_result = result  # type: ignore[assignment]

    def _finished(self) -> None:
        result, self._pending_result = self._pending_result, None
        self._worker = None
        if result is None:
            result = self._failed(RuntimeError(self._stopped_message))
        self._on_done(result)
