"""The generator functions the docks' thread workers run, driven directly, without Qt.

``run_propagation`` (few-shot propagation, and JFS scoring through :class:`ScoringWork`) and
``run_exemplar`` ("Segment all like this") are iterated here like the worker thread would,
on a tiny synthetic stack; the last test runs a job through :class:`GeneratorRunner` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from types import SimpleNamespace

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_ifss._napari.exemplar_action import Failed, Finished, Found, Plan, run_exemplar
from napari_ifss._napari.propagation_worker import RunFailed, RunFinished, run_propagation
from napari_ifss._napari.quality_worker import ScoringRequest, ScoringWork
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.exemplar.exemplar import EXEMPLAR_MAX_SIDE
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.propagation import propagate
from napari_ifss.core.fewshot.volume_io import PropagationProgress
from napari_ifss.core.interactive.plane import Plane
from napari_ifss.core.provenance import record_states
from napari_ifss.core.quality.quality_scan import QualityProgress

CELL, USER_ZS, DEPTH = 2, (3, 6), 8  # cell 2 of the stack lies on slices 2..7
LOADING = ["loading the few-shot model...", "learning from the annotated slices..."]


def drain(gen: Generator) -> tuple[list, object]:
    """Every item ``gen`` yields, and what it returns."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


@pytest.fixture(scope="module")
def cells() -> tuple[np.ndarray, np.ndarray]:
    """``(8, 48, 48)`` image with 4 cells and its ground truth (make_synthetic_cells needs
    at least 8 slices)."""
    return make_synthetic_cells((DEPTH, 48, 48), n_cells=4, seed=0)


@pytest.fixture(scope="module")
def propagated(cells) -> tuple[np.ndarray, list, object, np.ndarray]:
    """The user's labels ``(Z, Y, X)`` (CELL on USER_ZS), what ``run_propagation`` yields and
    returns with the per-volume learner (the dock's default method), and the labels it
    wrote (a copy of the user's)."""
    image, truth = cells
    user = np.zeros(truth.shape, np.int32)
    for z in USER_ZS:
        user[z][truth[z] == CELL] = CELL
    out = user.copy()
    items, result = drain(run_propagation(
        lambda: None, lambda _seg: propagate(image, out, [CELL], method="learner", out=out),
        threading.Event()))
    return user, items, result, out


@pytest.fixture(scope="module")
def segmenter() -> FewShotSegmenter:
    return FewShotSegmenter.default(device="cpu", max_side=EXEMPLAR_MAX_SIDE)


def test_propagation_yields_status_then_one_event_per_slice(cells, propagated):
    _, truth = cells
    user, items, result, out = propagated
    assert items[:2] == LOADING
    events = items[2:]
    assert all(isinstance(e, PropagationProgress) for e in events)
    targets = [z for z in range(DEPTH) if z not in USER_ZS]
    assert sorted(e.z for e in events) == targets  # every other slice once, never the user's
    assert [e.done for e in events] == list(range(1, len(targets) + 1))
    assert {e.total for e in events} == {len(targets)} and {e.label_id for e in events} == {CELL}
    assert isinstance(result, RunFinished) and not result.cancelled
    assert (result.done, result.total) == (len(targets), len(targets)) and result.seconds > 0
    for e in events:  # what the dock writes: the event's mask, also in ``out`` already
        np.testing.assert_array_equal(out[e.z] == CELL, e.mask)
    for z in USER_ZS:
        np.testing.assert_array_equal(out[z], user[z])
    inside = [e for e in events if (truth[e.z] == CELL).any()]
    assert inside and all((e.mask & (truth[e.z] == CELL)).sum() > 0 for e in inside)


def _counting(n: int, closed: list) -> Generator[SimpleNamespace, None, None]:
    try:
        for k in range(1, n + 1):
            yield SimpleNamespace(done=k, total=n)
    finally:
        closed.append(True)


def test_propagation_stops_after_the_event_when_cancelled_and_closes_its_generator():
    cancel, closed = threading.Event(), []
    gen = run_propagation(lambda: "model", lambda seg: _counting(5, closed), cancel)
    assert next(gen) == LOADING[0] and next(gen) == LOADING[1]
    assert next(gen).done == 1
    cancel.set()  # set while the first event is being written, as the dock's Cancel does
    items, result = drain(gen)
    assert items == [] and closed == [True]
    assert isinstance(result, RunFinished) and result.cancelled
    assert (result.done, result.total) == (1, 5)


def test_propagation_returns_its_errors(cells):
    image, truth = cells
    labels = np.zeros(truth.shape, np.int32)
    labels[3][truth[3] == CELL] = CELL
    items, result = drain(run_propagation(  # an id not in the labels: raised by propagate
        lambda: None, lambda _seg: propagate(image, labels, [99], method="learner"),
        threading.Event()))
    assert items == LOADING and isinstance(result, RunFailed) and result.done == 0
    assert isinstance(result.error, InvalidInputError) and "99" in str(result.error)

    def broken(_seg):
        yield SimpleNamespace(done=1, total=3)
        raise RuntimeError("disk gone")

    items, result = drain(run_propagation(lambda: None, broken, threading.Event()))
    assert len(items) == 3 and isinstance(result, RunFailed) and result.done == 1
    assert str(result.error) == "disk gone"

    def no_model():
        raise FileNotFoundError("no weights")

    items, result = drain(run_propagation(no_model, broken, threading.Event()))
    assert items == LOADING[:1] and isinstance(result, RunFailed)
    assert isinstance(result.error, FileNotFoundError)


def test_scoring_yields_one_score_per_planned_slice(cells, propagated, segmenter):
    image, _ = cells
    user, _, _, out = propagated
    record = record_states({}, out, [z for z in range(DEPTH) if z not in USER_ZS])
    work = ScoringWork.snapshot(ScoringRequest.for_run(image, [CELL, 7]), out, record)
    assert not np.shares_memory(work.labels, out)  # the worker reads its own snapshot
    np.testing.assert_array_equal(work.user, user)  # propagated slices are not the user's
    assert work.plan.user == {CELL: USER_ZS}  # id 7 is not drawn: left out
    planned = sorted(work.plan.targets[CELL])
    assert planned and not set(planned) & set(USER_ZS)
    items, result = drain(run_propagation(lambda: segmenter, work.events, threading.Event()))
    assert items[:2] == LOADING
    events = items[2:]
    assert all(isinstance(e, QualityProgress) for e in events)
    assert sorted(e.z for e in events) == planned and {e.label_id for e in events} == {CELL}
    assert [e.done for e in events] == list(range(1, len(planned) + 1))
    assert all(0.0 <= e.score.score <= 1.0 for e in events)
    assert isinstance(result, RunFinished) and not result.cancelled
    assert (result.done, result.total) == (len(planned), len(planned))


def _exemplar_plan(cells, stack: bool) -> tuple[Plan, np.ndarray]:
    image, truth = cells
    labels = np.zeros(truth.shape, np.int32)
    labels[4][truth[4] == CELL] = CELL  # the committed exemplar, on slice 4
    plan = Plan(Image(image), Labels(labels), CELL, Plane(3, (1, 2), ((0, 4),)), stack,
                first_id=CELL + 1)
    return plan, labels


def test_exemplar_on_one_slice(cells, segmenter):
    plan, labels = _exemplar_plan(cells, stack=False)
    items, result = drain(run_exemplar(plan, lambda: segmenter, labels[4].copy()))  # the plane
    assert items[:2] == ["loading the few-shot model...",
                         "looking for objects like the exemplar..."]
    (found,) = items[2:]
    assert isinstance(found, Found) and found.plane == plan.plane
    assert (found.done, found.total) == (1, 1) and found.labels.shape == (48, 48)
    assert not found.labels[labels[4] != 0].any()  # the user's voxels are never found
    assert set(np.unique(found.labels)) - {0} and found.labels.min() == 0
    assert found.labels[found.labels > 0].min() >= plan.first_id  # new ids only
    assert isinstance(result, Finished) and result.seconds > 0


def test_exemplar_through_the_stack_and_its_cancel(cells, segmenter):
    plan, labels = _exemplar_plan(cells, stack=True)
    assert plan.total == DEPTH
    items, result = drain(run_exemplar(plan, lambda: segmenter, labels.copy()))
    found = items[2:]
    assert all(isinstance(f, Found) for f in found) and isinstance(result, Finished)
    assert sorted(f.plane.fixed[0][1] for f in found) == list(range(DEPTH))
    assert found[0].plane.fixed == ((0, 4),)  # the exemplar's slice first
    assert [f.done for f in found] == list(range(1, DEPTH + 1))
    assert {f.total for f in found} == {DEPTH}

    cancel = threading.Event()
    cancel.set()  # a stack run stops after the slice it is on
    items, result = drain(run_exemplar(plan, lambda: segmenter, labels.copy(), cancel=cancel))
    assert [f.done for f in items[2:]] == [1] and isinstance(result, Finished)


def test_exemplar_returns_its_errors(cells):
    plan, labels = _exemplar_plan(cells, stack=True)

    def no_model():
        raise FileNotFoundError("no weights")

    items, result = drain(run_exemplar(plan, no_model, labels))
    assert items == ["loading the few-shot model..."] and isinstance(result, Failed)
    assert isinstance(result.error, FileNotFoundError)
    items, result = drain(run_exemplar(plan, lambda: None, labels[:, :8]))  # wrong shape
    assert isinstance(result, Failed) and isinstance(result.error, InvalidInputError)


@pytest.mark.gui
def test_generator_runner_hands_items_and_result_to_the_ui_thread(qtbot):
    """The one runner all three workers use: status lines, events, cancel, errors."""
    from napari_ifss._napari.generator_runner import GeneratorRunner

    seen: list = []
    runner = GeneratorRunner(lambda s: seen.append(("status", s)),
                             lambda e: seen.append(("event", e)),
                             lambda r: seen.append(("done", r)), failed=lambda e: ("failed", e))

    def job(n: int, wait: float, *, cancel: threading.Event):
        yield "starting"
        for k in range(n):
            yield k
            if cancel.wait(wait):  # waits for the UI thread's answer to this event
                return "cancelled"
        return "finished"

    runner.start(job, 3, 0.0)
    assert runner.busy and not runner.cancelling
    with pytest.raises(RuntimeError, match="already running"):
        runner.start(job, 3, 0.0)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10000)
    assert seen == [("status", "starting"), ("event", 0), ("event", 1), ("event", 2),
                    ("done", "finished")]

    seen.clear()
    runner._on_event = lambda e: (seen.append(("event", e)), runner.cancel())
    runner.start(job, 3, 10.0)
    qtbot.waitUntil(lambda: not runner.busy, timeout=20000)
    assert runner.cancelling
    assert seen == [("status", "starting"), ("event", 0), ("done", "cancelled")]

    def raising(*, cancel: threading.Event):
        yield "starting"
        raise ValueError("boom")

    seen.clear()
    runner.start(raising)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10000)
    kind, error = seen[-1][1]
    assert kind == "failed" and isinstance(error, ValueError)
