"""Runs a few-shot propagation in a napari thread worker, cancellable between slices.

The worker thread only reads: the volume, a private snapshot of the labels (the support) and
the model. Every propagated slice comes back to the UI thread as a
:class:`~napari_ifss.core.propagation.PropagationProgress` event (``yielded`` signal), where
the dock writes it into the labels layer; the run ends with a :class:`RunFinished` or a
:class:`RunFailed` (``returned`` signal). Exceptions are returned, never raised: superqt turns
a RuntimeError raised inside a generator worker into a *return value* and drops the error
signal, so an exception must come back as a result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from time import perf_counter

from napari.qt.threading import GeneratorWorker, create_worker

from ..core.fewshot import FewShotSegmenter
from ..core.propagation import PropagationProgress


@dataclass(frozen=True)
class RunFinished:
    """The run stopped: ``done`` of ``total`` slices were yielded, in ``seconds``."""

    done: int
    total: int
    cancelled: bool
    seconds: float


@dataclass(frozen=True)
class RunFailed:
    """The run raised ``error`` after ``done`` slices had been yielded."""

    error: Exception
    done: int


Starter = Callable[[FewShotSegmenter], Iterator[PropagationProgress]]


def run_propagation(
    load_segmenter: Callable[[], FewShotSegmenter], start: Starter, cancel: threading.Event
) -> Generator[str | PropagationProgress, None, RunFinished | RunFailed]:
    """The worker's body: load the model, iterate the propagation, stop when ``cancel`` is set.

    Yields status lines (str) and progress events. ``start(segmenter)`` returns the
    propagation generator (e.g. a :func:`~napari_ifss.core.propagation.propagate` call).
    """
    t0, done, total = perf_counter(), 0, 0
    events: Iterator[PropagationProgress] | None = None
    try:
        yield "loading the few-shot model..."
        segmenter = load_segmenter()
        yield "learning from the annotated slices..."
        events = start(segmenter)
        for event in events:
            done, total = event.done, event.total
            yield event
            if cancel.is_set():
                break
        return RunFinished(done, total, cancel.is_set(), perf_counter() - t0)
    except Exception as err:  # reported in the UI thread
        return RunFailed(err, done)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


class PropagationRunner:
    """Starts one propagation at a time in a napari thread worker.

    Args:
        on_status: UI-thread callback for status lines.
        on_event: UI-thread callback for each :class:`PropagationProgress`.
        on_done: UI-thread callback with the :class:`RunFinished` / :class:`RunFailed`.
    """

    def __init__(self, on_status: Callable[[str], None],
                 on_event: Callable[[PropagationProgress], None],
                 on_done: Callable[[RunFinished | RunFailed], None]) -> None:
        self._on_status, self._on_event, self._on_done = on_status, on_event, on_done
        self._cancel = threading.Event()
        self._worker: GeneratorWorker | None = None
        self._pending_result: RunFinished | RunFailed | None = None

    @property
    def busy(self) -> bool:
        """True from :meth:`start` until the result has been handed to ``on_done``."""
        return self._worker is not None

    @property
    def cancelling(self) -> bool:
        """True once :meth:`cancel` was called for the running propagation."""
        return self._cancel.is_set()

    def start(self, load_segmenter: Callable[[], FewShotSegmenter], start: Starter) -> None:
        """Run ``start(load_segmenter())`` in a worker (RuntimeError if one is running)."""
        if self._worker is not None:
            raise RuntimeError("a propagation is already running")
        self._cancel = threading.Event()
        worker = create_worker(run_propagation, load_segmenter, start, self._cancel,
                               _ignore_errors=True)
        worker.yielded.connect(self._yielded)
        worker.returned.connect(self._returned)
        worker.errored.connect(lambda err: self._returned(RunFailed(err, 0)))
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

    def cancel(self) -> None:
        """Ask the run to stop after the slice being computed (its result is still applied)."""
        self._cancel.set()

    def _yielded(self, item: str | PropagationProgress) -> None:
        if isinstance(item, str):
            self._on_status(item)
        else:
            self._on_event(item)

    def _returned(self, result: object) -> None:
        if isinstance(result, Exception):  # superqt's path for a RuntimeError
            result = RunFailed(result, 0)
        self._pending_result = result  # type: ignore[assignment]

    def _finished(self) -> None:
        result, self._pending_result = self._pending_result, None
        self._worker = None
        if result is None:
            result = RunFailed(RuntimeError("the propagation worker stopped unexpectedly"), 0)
        self._on_done(result)
