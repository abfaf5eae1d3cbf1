""""Segment all like this" in the Interactive segmentation dock: exemplar mode in a worker.

The exemplar is the object the dock committed last, if it is on the current slice; otherwise
the labels layer's selected label, if that is on the current slice. Exemplar mode
(:mod:`napari_ifss.core.exemplar.exemplar`) then searches the current slice, or with "all slices"
checked and a ``(Z, Y, X)`` image viewed along z, every slice of the stack (objects that
continue over neighbouring slices keep one id). It runs in a napari thread worker
(:class:`~.generator_runner.GeneratorRunner` over :func:`run_exemplar`) with a progress bar; when it ends, every new object is written in one step of the labels layer's
undo history (one Ctrl+Z removes them all), only into voxels that are still 0 at that moment,
and the status line says how many objects were found.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from time import perf_counter

import numpy as np
from magicgui.widgets import CheckBox, PushButton
from napari.layers import Image, Labels
from napari.utils import progress
from napari.viewer import Viewer

from ..core.errors import IfssError, InvalidInputError
from ..core.exemplar.exemplar import (
    EXEMPLAR_MAX_SIDE,
    ExemplarSettings,
    segment_all_like_steps,
)
from ..core.exemplar.exemplar_tiles import TileProgress
from ..core.exemplar.exemplar_volume import segment_all_like_volume
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.interactive.plane import Plane
from ..core.labels_ops import next_free_id
from ..core.slice_store import compressed_copy
from .generator_runner import GeneratorRunner
from .labels_history import check_writable, write_labels
from .slice_context import current_slice, full_resolution, spatial_shape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """Objects found on one ``plane``: ``labels`` ``(H, W)`` (0 = nothing); ``done`` of
    ``total`` planes."""

    plane: Plane
    labels: np.ndarray
    done: int
    total: int


@dataclass(frozen=True)
class Finished:
    """The run ended after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Failed:
    """The run raised ``error``."""

    error: Exception


@dataclass(frozen=True)
class Plan:
    """What to run: ``exemplar_id`` on ``plane`` of ``image`` (or every z slice if ``stack``);
    new objects get ids from ``first_id`` up. ``plane_labels``: a copy of the labels on
    ``plane`` taken when the exemplar was chosen (the snapshot of a one-slice run)."""

    image: Image
    labels: Labels
    exemplar_id: int
    plane: Plane
    stack: bool
    first_id: int
    plane_labels: np.ndarray | None = None

    @property
    def total(self) -> int:
        return int(np.shape(full_resolution(self.labels))[0]) if self.stack else 1


def run_exemplar(plan: Plan, load_segmenter: Callable[[], FewShotSegmenter],
                 labels: np.ndarray, settings: ExemplarSettings | None = None, *,
                 cancel: threading.Event | None = None,
                 ) -> Generator[str | Found | TileProgress, None, Finished | Failed]:
    """The worker's body: yields status lines, :class:`Found` planes and, on a large slice,
    the :class:`~napari_ifss.core.exemplar.exemplar_tiles.TileProgress` of its tiles (runs
    without Qt).

    ``labels`` is the snapshot of the labels layer's data taken when the run started: all of
    it ``(Z, Y, X)`` for a stack run (a compressed copy, read slice by slice), else the
    plane's ``(H, W)`` (a huge slide's labels are not copied whole for one slice). Once ``cancel`` is set, a stack run stops after the slice it is on
    (the planes found so far stay valid). Exceptions are returned as :class:`Failed` (superqt
    drops the error signal of a generator worker raising RuntimeError).
    """
    t0 = perf_counter()
    try:
        yield "loading the few-shot model..."
        segmenter = load_segmenter()
        yield "looking for objects like the exemplar..."
        if plan.stack:
            for event in segment_all_like_volume(full_resolution(plan.image), labels,
                                                 plan.exemplar_id,
                                                 z=plan.plane.fixed[0][1],
                                                 segmenter=segmenter, settings=settings):
                yield Found(Plane(3, (1, 2), ((0, event.z),)), event.labels, event.done,
                            event.total)
                if cancel is not None and cancel.is_set():
                    break
        else:
            sl = plan.plane.slicer()
            steps = segment_all_like_steps(
                np.asarray(full_resolution(plan.image)[sl]), labels, plan.exemplar_id,
                segmenter=segmenter, settings=settings, first_id=plan.first_id)
            result = yield from steps  # the tiles of a large slice, then the objects
            yield Found(plan.plane, result.labels, 1, 1)
    except Exception as err:  # reported in the UI thread
        return Failed(err)
    return Finished(perf_counter() - t0)


class ExemplarAction:
    """The "Segment all like this" button and its "all slices" option.

    Args:
        viewer: the viewer.
        image, labels: return the dock's image / target labels layer (or None).
        last_committed: returns the id the dock committed last (or None).
        on_status: shows a status line.
        segmenter: the few-shot model (default: the shipped one, loaded on the first run).
    """

    def __init__(self, viewer: Viewer, image: Callable[[], Image | None],
                 labels: Callable[[], Labels | None], last_committed: Callable[[], int | None],
                 on_status: Callable[[str], None],
                 segmenter: FewShotSegmenter | None = None) -> None:
        self.viewer = viewer
        self._image, self._labels, self._last = image, labels, last_committed
        self._on_status = on_status
        self.segmenter = segmenter
        self.button = PushButton(text="Segment all like this")
        self.button.tooltip = ("find the other objects like the last committed one (or the "
                               "selected label) and give each a new label id")
        self.all_slices = CheckBox(text="all slices", value=False)
        self.all_slices.tooltip = ("Segment all like this looks on every slice of the stack, "
                                   "not only on the slice you are viewing")
        self.widgets = [self.button, self.all_slices]
        self.button.changed.connect(self.run)
        self.progress_bar: progress | None = None
        self.runner: GeneratorRunner[Found | TileProgress, Finished | Failed] = GeneratorRunner(
            self._on_status, self._on_found, self._on_done, failed=Failed,
            stopped_message="the worker stopped")
        self._parts: list[Found] = []
        self._plan: Plan | None = None

    @property
    def busy(self) -> bool:
        """True from the start of a run until its objects are written."""
        return self.runner.busy

    def _load_segmenter(self) -> FewShotSegmenter:
        """Runs in the worker thread (the model is kept for the next run)."""
        if self.segmenter is None:
            self.segmenter = FewShotSegmenter.default(max_side=EXEMPLAR_MAX_SIDE)
        return self.segmenter

    def plan(self) -> Plan:
        """Check the selection and choose the exemplar (see the module docstring).

        Raises:
            IfssError: with a message for the status line.
        """
        image, labels = self._image(), self._labels()
        if image is None:
            raise InvalidInputError("open an image first")
        if labels is None:
            raise InvalidInputError("commit an object first: it is the exemplar")
        data = full_resolution(labels)
        if tuple(np.shape(data)) != spatial_shape(image):
            raise InvalidInputError(f"labels {labels.name!r} has shape {np.shape(data)}, "
                                    f"image {image.name!r} has {spatial_shape(image)}")
        check_writable(labels)
        plane = current_slice(self.viewer, image).plane
        on_slice = np.array(data[plane.slicer()])  # a copy: a one-slice run's snapshot
        candidates = [self._last(), int(labels.selected_label)]
        exemplar = next((i for i in candidates if i and np.any(on_slice == i)), None)
        if exemplar is None:
            raise InvalidInputError("no exemplar on this slice: commit an object here (or "
                                    "select its label in the labels layer)")
        stack = bool(self.all_slices.value) and len(plane.fixed) == 1 \
            and plane.axes == (1, 2) and plane.ndim == 3
        return Plan(image, labels, int(exemplar), plane, stack,
                    next_free_id(np.asarray(data)), on_slice)

    def run(self) -> None:
        """Start exemplar mode (a status message and no change on bad input)."""
        if self.busy:
            self._on_status("exemplar mode is already running")
            return
        try:
            plan = self.plan()
        except IfssError as err:
            self._on_status(f"cannot segment all like this: {err}")
            return
        self._plan, self._parts = plan, []
        self.progress_bar = progress(total=plan.total, desc="segment all like this")
        self.button.enabled = False
        # a stack run reads its labels one slice at a time; a one-slice run, the plane's copy
        snapshot = compressed_copy(full_resolution(plan.labels)) if plan.stack \
            else plan.plane_labels
        self.runner.start(run_exemplar, plan, self._load_segmenter, snapshot)

    def _on_found(self, item: Found | TileProgress) -> None:
        bar = self.progress_bar
        if isinstance(item, TileProgress):  # a large slice, tile by tile
            self._on_status(f"segment all like this: {item.done}/{item.total} parts of the "
                            "slice...")
            if bar is not None:
                if bar.total != item.total:
                    bar.total = item.total
                bar.update(item.done - bar.n)
            return
        self._parts.append(item)
        self._on_status(f"segment all like this: {item.done}/{item.total} slices...")
        if bar is not None:  # (a slice done in tiles has its bar full already)
            bar.update(max(0, item.done - bar.n))

    def _on_done(self, result: Finished | Failed) -> None:
        plan, self._plan = self._plan, None
        if self.progress_bar is not None:
            self.progress_bar.close()
            self.progress_bar = None
        self.button.enabled = True
        if isinstance(result, Failed) or plan is None:
            error = result.error if isinstance(result, Failed) else "the worker stopped"
            self._on_status(f"segment all like this failed: {error}")
            return
        ids = self.write(plan.labels, self._parts)
        found = int(np.count_nonzero(ids >= plan.first_id))
        log.info("segment all like label %d: %d object(s) in %.1f s", plan.exemplar_id, found,
                 result.seconds)  # the timing goes to the log, not the status line
        self._on_status(f"found {found} object{'s' * (found != 1)} like label "
                        f"{plan.exemplar_id} (Ctrl+Z undoes them)")

    @staticmethod
    def write(layer: Labels, parts: list[Found]) -> np.ndarray:
        """Write ``parts`` into ``layer`` as one undo step, only into voxels that are 0 now;
        returns the distinct ids written (new objects, and objects continued on other
        slices)."""
        idx_parts, values = [], []
        for part in parts:
            mask = part.labels > 0
            if mask.any():
                idx_parts.append(part.plane.volume_indices(mask))
                values.append(part.labels[mask])
        if not values:
            return np.zeros(0, np.int64)
        idx = tuple(np.concatenate(ax) for ax in zip(*idx_parts, strict=True))
        vals = np.concatenate(values)
        free = np.asarray(full_resolution(layer)[idx]) == 0
        idx, vals = tuple(a[free] for a in idx), vals[free]
        write_labels(layer, idx, vals)
        return np.unique(vals)
