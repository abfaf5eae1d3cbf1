"""Runs a few-shot propagation in a napari thread worker, cancellable between slices.

The worker thread only reads: the volume, a private snapshot of the labels (the support) and
the model. Every propagated slice comes back to the UI thread as a
:class:`~napari_ifss.core.fewshot.volume_io.PropagationProgress` event (``yielded`` signal), where
the dock writes it into the labels layer; the run ends with a :class:`RunFinished` or a
:class:`RunFailed` (``returned`` signal). Exceptions are returned, never raised (see
:mod:`.generator_runner`, which runs the worker).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from time import perf_counter
from typing import Protocol

from ..core.fewshot.fewshot import FewShotSegmenter
from .generator_runner import GeneratorRunner


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


class Progress(Protocol):
    """A progress event: ``done`` of ``total`` steps (``done`` counts this one), e.g. a
    :class:`~napari_ifss.core.fewshot.volume_io.PropagationProgress` or a
    :class:`~napari_ifss.core.quality.quality_scan.QualityProgress`."""

    @property
    def done(self) -> int: ...

    @property
    def total(self) -> int: ...


Starter = Callable[[FewShotSegmenter], Iterator[Progress]]


def run_propagation(
    load_segmenter: Callable[[], FewShotSegmenter], start: Starter, cancel: threading.Event
) -> Generator[str | Progress, None, RunFinished | RunFailed]:
    """The worker's body: load the model, iterate the propagation, stop when ``cancel`` is set.

    Yields status lines (str) and progress events. ``start(segmenter)`` returns the
    propagation generator (e.g. a :func:`~napari_ifss.core.fewshot.propagation.propagate` call) or
    any other generator of progress events (JFS scoring runs in it too). Runs without Qt:
    iterate it directly to test it.
    """
    t0, done, total = perf_counter(), 0, 0
    events: Iterator[Progress] | None = None
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


class PropagationRunner(GeneratorRunner[Progress, RunFinished | RunFailed]):
    """Runs one :func:`run_propagation` at a time in a napari thread worker
    (a :class:`~.generator_runner.GeneratorRunner`; :meth:`cancel` stops it between events).

    Args:
        on_status: UI-thread callback for status lines.
        on_event: UI-thread callback for each progress event (e.g. a
            :class:`~napari_ifss.core.fewshot.volume_io.PropagationProgress`).
        on_done: UI-thread callback with the :class:`RunFinished` / :class:`RunFailed`.
    """

    def __init__(self, on_status: Callable[[str], None], on_event: Callable[[Progress], None],
                 on_done: Callable[[RunFinished | RunFailed], None]) -> None:
        super().__init__(on_status, on_event, on_done, failed=lambda err: RunFailed(err, 0),
                         stopped_message="the propagation worker stopped unexpectedly")

    def run(self, load_segmenter: Callable[[], FewShotSegmenter], start: Starter) -> None:
        """Run ``start(load_segmenter())`` in a worker (RuntimeError if one is running)."""
        if self.busy:
            raise RuntimeError("a propagation is already running")
        self.start(run_propagation, load_segmenter, start)
