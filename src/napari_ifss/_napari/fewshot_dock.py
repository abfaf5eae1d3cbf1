"""The "Few-shot propagation" dock: spread annotated objects from a few slices to the stack.

Pick the image (and its other channels, used together: :mod:`.channel_layers`), the labels
layer holding the annotated (support) slices, the label ids, the method (a per-volume learner fitted on those slices, the default, or the pretrained few-shot
head; JFS quality scores always use the head) and which slices to fill (all, a z range, or
only between annotated slices), or another image of
the same ``(Y, X)`` size as the target (its result goes into a new labels layer). Slices come
back one by one from a thread worker and are written as they arrive; slices holding any label
and other objects' voxels are never overwritten; Cancel keeps what was written; the whole run
is one undo step (Ctrl+Z) of the labels layer.

A 3D movie ``(T, Z, Y, X)`` gets *follow the object*: through the slices of each annotated
time point, or through time one z plane at a time (:func:`.fewshot_plan.plan_run`); its planes
are numbered ``t * Z + z`` (:class:`~napari_ifss.core.planes.PlaneStack`) for the writes, the
undo step and the record below, and runs through time keep a record of their own.

Slices a run filled are remembered in the labels layer's metadata (see
:mod:`napari_ifss.core.provenance`): as long as the user leaves them as they are, the next run
does not take them as annotations but recomputes them (inside the same one undo step); a slice
the user corrects by painting becomes an annotation.

After a finished run the propagated slices are scored with JFS and listed in the embedded
quality panel (:mod:`.quality_panel`; a 3D movie's unit by unit as its run went, listed as
"t, z"); Cancel also stops that scoring.
"""

from __future__ import annotations

import logging

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, LineEdit, PushButton, SpinBox
from napari.layers import Image, Labels
from napari.utils import progress
from napari.viewer import Viewer
from qtpy.QtCore import QTimer

from ..core.errors import IfssError
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.learner_segmenter import DEFAULT_METHOD
from ..core.fewshot.support import index_labels
from ..core.fewshot.volume_io import PropagationProgress
from ..core.planes import PlaneStack
from ..core.provenance import record_states
from .channel_layers import ChannelChoice
from .fewshot_plan import ALL, BETWEEN, RANGE, Selection, plan_run, plane_words
from .fewshot_run import RunPlan, RunState, every_propagated, propagated_record, user_support
from .intensity_choice import IntensityChoice
from .interactive_dock import DOCK_MIN_HEIGHT, LABELS_NAME, PREVIEW_NAME
from .propagation_worker import PropagationRunner, RunFailed, RunFinished
from .quality_panel import QualityPanel
from .slice_context import full_resolution, spatial_shape, stack_noun

ALONG_CHOICES = [("through the slices of each time point", "z"), ("through time", "t")]
ALONG_TIP = ("a 3D movie: fill each time point you annotated through its slices, or follow the "
             "object through time, one z plane at a time, from the time points where it is "
             "drawn (draw it in 3D on one time point first)")
CHANNELS_TIP = ("other channels of this image used together with it, each with its own "
                "brightness: 'learn from this image' looks at all of them; the pretrained model "
                "and the quality scores use, for each object, the channel it stands out in "
                "most on your slices. Ctrl+click to add or remove one; none selected: only the "
                "image above")
METHOD_CHOICES = [("learn from this image", "learner"), ("pretrained few-shot model", "head")]
METHOD_TIP = ("how the other slices are segmented. 'learn from this image' (recommended): a "
              "classifier is trained in seconds on the slices you annotated, uses the image's "
              "voxel size and stops where the object ends. 'pretrained few-shot model': the "
              "network shipped with the plugin, trained on other images")
SUPPORT_LINES = 6  # label ids listed one per line; more are summed up in one line
log = logging.getLogger(__name__)


class FewShotDock(Container):
    """Dock widget; ``segmenter`` defaults to the shipped few-shot model (loaded on a run)."""

    def __init__(self, napari_viewer: Viewer, segmenter: FewShotSegmenter | None = None) -> None:
        self.viewer = napari_viewer
        self.segmenter = segmenter
        self._image_box = ComboBox(label="image", choices=self._images, nullable=True)
        self._image_box.tooltip = "the image whose slices are annotated"
        self.channels = ChannelChoice(napari_viewer, lambda: self._image_box.value,
                                      self._not_images, None, tooltip=CHANNELS_TIP)
        self._channels_of: Image | None = None  # the image the channel list was made for
        self._labels_box = ComboBox(label="labels", choices=self._labels_layers, nullable=True)
        self._labels_box.tooltip = ("the labels layer holding your annotated slices; the "
                                    "other slices are filled in it")
        self._ids = LineEdit(label="label ids", value="")
        self._ids.tooltip = "comma-separated label ids; empty: every id present"
        self._mode = ComboBox(label="slices to fill", choices=[ALL, BETWEEN, RANGE], value=ALL)
        self._along = ComboBox(label="follow the object", choices=ALONG_CHOICES, value="z",
                               visible=False)
        self._along.tooltip = ALONG_TIP
        self._mode.tooltip = "which slices get objects: all, a z range, or between annotations"
        self._method = ComboBox(label="method", choices=METHOD_CHOICES, value=DEFAULT_METHOD)
        self._method.tooltip = METHOD_TIP
        self.intensity = IntensityChoice(whole_stack=True)
        self._z_from = SpinBox(label="from z", min=0, max=100000)
        self._z_to = SpinBox(label="to z", min=0, max=100000)
        self._target_box = ComboBox(label="segment in another image", choices=self._images,
                                    nullable=True)
        self._target_box.tooltip = ("empty: segment the image itself; else the objects are "
                                    "looked for in this other image (same Y, X size) and "
                                    "written into a new labels layer")
        self._support = Label(label="annotated slices", value="")
        self._run_btn = PushButton(text="Propagate")
        self._run_btn.tooltip = ("segment the annotated objects on the other slices; slices "
                                 "you annotated are never changed, one Ctrl+Z undoes the run")
        self._cancel_btn = PushButton(text="Cancel", enabled=False)
        self._cancel_btn.tooltip = ("stop after the slice being computed; the slices already "
                                    "filled stay")
        self._status = Label(label="status", value="")
        self.quality = QualityPanel(napari_viewer, every_propagated, self._on_scoring)
        super().__init__(widgets=[
            self._image_box, self.channels.select, self._labels_box, self._ids, self._method,
            self.intensity.combo, self._along,
            self._mode,
            self._z_from, self._z_to, self._target_box, self._support, self._run_btn,
            self._cancel_btn, self._status,
            self.quality], scrollable=True)  # scrolls on a small (laptop) screen
        self.root_native_widget.widget().layout().addStretch(1)  # controls stay packed at the top
        # Qt squeezes the lower of two stacked docks to a few pixels on a small screen: keep a
        # few rows of each visible (the rest scrolls), still far below a laptop's height
        self.root_native_widget.setMinimumHeight(DOCK_MIN_HEIGHT)
        for label in (self._support, self._status):
            label.native.setWordWrap(True)  # long lists and messages wrap, not widen the dock
        self.runner = PropagationRunner(self._set_status, self._on_event, self._on_done)
        self.progress_bar: progress | None = None
        self._run: RunState | None = None
        self._watched: Labels | None = None
        self._timer = QTimer(self.native)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh_support)
        for box in (self._labels_box, self._image_box, self._ids, self._mode,
                    self._along):
            box.changed.connect(self._on_selection_changed)
        self._run_btn.changed.connect(self.propagate)
        self._cancel_btn.changed.connect(self.cancel)
        self.native.destroyed.connect(self._on_destroyed)
        self.reset_choices()
        images = self._images()
        active = self.viewer.layers.selection.active
        self._image_box.value = active if active in images else (images[0] if images else None)
        labels = self._labels_layers()  # the Interactive dock's layer, else the active one
        preferred = [ly for ly in labels if ly.name == LABELS_NAME] + [
            ly for ly in labels if ly is active] + labels[-1:]
        self._labels_box.value = preferred[0] if preferred else None
        self._target_box.value = None
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self._on_selection_changed()

    @property
    def native(self):
        """The scroll area around the controls. napari docks ``native``, and magicgui's
        ``native`` of a scrollable container is the inner widget without its scroll area: the
        dock would then not scroll and could push the window past a laptop screen's height."""
        return self.root_native_widget

    def _on_layer_inserted(self, event) -> None:
        """The Interactive dock's labels layer appears (first commit): propagate from it, not
        from whatever Labels layer (e.g. a ground truth) was chosen before it existed."""
        layer = event.value
        if isinstance(layer, Labels) and layer.name == LABELS_NAME and not self.busy:
            self.reset_choices()
            self._labels_box.value = layer

    # -- choices and state -------------------------------------------------------------
    def _images(self, _widget=None) -> list[Image]:
        preview = self._not_images()
        return [ly for ly in self.viewer.layers if isinstance(ly, Image) and ly not in preview]

    def _not_images(self) -> list[Image]:
        """Image layers that are not images of the sample (the click preview)."""
        return [ly for ly in self.viewer.layers
                if isinstance(ly, Image) and ly.name == PREVIEW_NAME]

    def _labels_layers(self, _widget=None) -> list[Labels]:
        return [ly for ly in self.viewer.layers if isinstance(ly, Labels)]

    @property
    def status(self) -> str:
        """The status line's text."""
        return self._status.value

    @property
    def support_text(self) -> str:
        """The list of annotated slices per label id."""
        return self._support.value

    @property
    def busy(self) -> bool:
        """True while a propagation, or the JFS scoring after it, runs."""
        return self.runner.busy or self.quality.busy

    def _set_status(self, text: str) -> None:
        self._status.value = text

    def _on_scoring(self, busy: bool) -> None:
        self._run_btn.enabled, self._cancel_btn.enabled = not busy, busy

    def _on_selection_changed(self, *_args) -> None:
        if self._image_box.value is not self._channels_of:  # offer this image's channels
            self._channels_of = self._image_box.value
            self.channels.reset()
            self._along.visible = self._is_movie()
        labels = self._labels_box.value
        if labels is not self._watched:
            for layer, connect in ((self._watched, False), (labels, True)):
                if layer is not None:
                    for emitter in (layer.events.paint, layer.events.data):
                        (emitter.connect if connect else emitter.disconnect)(self._schedule)
            self._watched = labels
        self._z_from.enabled = self._z_to.enabled = self._mode.value == RANGE
        self.refresh_support()

    def _schedule(self, _event=None) -> None:
        """Refresh the support list shortly (painting emits many events)."""
        self._timer.start()

    def _on_destroyed(self, *_args) -> None:
        self.runner.cancel()
        self.viewer.layers.events.inserted.disconnect(self._on_layer_inserted)
        self.quality.detach()
        if self._watched is not None:
            self._watched.events.paint.disconnect(self._schedule)
            self._watched.events.data.disconnect(self._schedule)
            self._watched = None

    def refresh_support(self) -> None:
        """List the annotated slices of every label id of the labels layer."""
        labels = self._labels_box.value
        self.quality.set_layer(labels)
        stale: list[int] = []
        try:
            if labels is None:
                index = None
            else:
                support, stale = user_support(labels, self._along_key())
                index = index_labels(support)
        except IfssError as err:
            self._support.value = str(err)
            return
        if index is None or not index.slices_of:
            self._support.value = f"no annotated {self._noun()}" if index is not None else ""
            return
        self._z_to.max = self._z_from.max = max(index.depth - 1, 0)
        items = sorted(index.slices_of.items())
        lead = support.labels.lead  # (Z,), or (T, Z) for a 3D movie
        lines = [f"label {i}: {plane_words(lead, list(zs), self._noun(len(zs)))}"
                 for i, zs in items[:SUPPORT_LINES]]
        if len(items) > SUPPORT_LINES:  # keep the dock compact for layers with many objects
            where = "" if len(lead) == 2 else \
                f" on {self._noun(2)} {index.annotated[0]}-{index.annotated[-1]}"
            lines.append(f"... and {len(items) - SUPPORT_LINES} more labels{where}")
        if stale:
            noun = "planes" if len(lead) == 2 else self._noun(len(stale))
            lines.append(f"{len(stale)} propagated {noun} (recomputed by the next run)")
        self._support.value = "\n".join(lines)

    def _along_key(self) -> str:
        """The direction of this dock's next run: a movie's choice, else z."""
        return self._along.value if self._is_movie() else "z"

    def _is_movie(self) -> bool:
        """Whether the chosen image is a 3D movie ``(T, Z, Y, X)``."""
        image = self._image_box.value
        return image is not None and len(spatial_shape(image)) == 4

    def _noun(self, count: int = 1) -> str:
        """"slice(s)", or "time point(s)" when the image's stacked axis is time."""
        return stack_noun(self._image_box.value, count)

    # -- starting a run ----------------------------------------------------------------
    def _plan(self) -> RunPlan:
        """Validate the selection and say what the run does (:func:`.fewshot_plan.plan_run`)."""
        before = list(self.viewer.layers)
        plan = plan_run(self.viewer, Selection(
            self._image_box.value, self._labels_box.value, self._ids.value, self.method,
            self._mode.value, (int(self._z_from.value), int(self._z_to.value)),
            self._target_box.value, self.channels.layers, self.intensity.window,
            self._along_key() if self._is_movie() else None))
        if plan.layer not in before:  # a new labels layer for another target image
            self._labels_box.reset_choices()
        return plan

    @property
    def method(self) -> str:
        """``"learner"`` or ``"head"``: how slices are segmented (the "method" box)."""
        return self._method.value

    def _load_segmenter(self) -> FewShotSegmenter:
        """Runs in the worker thread (the dock keeps the model for the next run)."""
        if self.segmenter is None:
            self.segmenter = FewShotSegmenter.default()
        return self.segmenter

    def propagate_object(self, image: Image, labels: Labels, label_id: int) -> None:
        """Propagate one object through every slice of ``image`` from its annotated slices in
        ``labels`` (the Interactive dock's "through all slices"), as if chosen here."""
        self.reset_choices()
        self._image_box.value, self._labels_box.value = image, labels
        self._ids.value = str(int(label_id))
        self._mode.value = ALL
        self._target_box.value = None
        self.propagate()

    def propagate(self) -> None:
        """Validate the selection and start the run (a message and no change on bad input)."""
        if self.busy:
            self._set_status("a propagation or its quality scoring is already running")
            return
        try:
            plan = self._plan()
        except IfssError as err:
            self._set_status(f"cannot propagate: {err}")
            return
        total = plan.total
        self._run = RunState(plan.layer, total, plan.scoring, plan.clear(),
                             unit=plan.unit or self._noun(2), record_key=plan.record_key)
        self.progress_bar = progress(total=total, desc="few-shot propagation")
        self._run_btn.enabled, self._cancel_btn.enabled = False, True
        self._set_status(f"propagating 0/{total} {self._run.unit}...")
        self.runner.run(self._load_segmenter, plan.start)

    def cancel(self) -> None:
        """Stop after the slice being computed; slices already written stay. Stops JFS
        scoring likewise (scores so far stay)."""
        if self.runner.busy:
            self.runner.cancel()
            self._set_status("cancelling...")
        self.quality.cancel()

    # -- results (UI thread) -----------------------------------------------------------
    def _on_event(self, event: PropagationProgress) -> None:
        run = self._run
        if run is None:
            return
        layer = run.layer
        planes = PlaneStack(full_resolution(layer))  # event.z: the plane (t * Z + z in a 3D movie)
        current = np.array(planes[event.z])
        gained = event.mask & (current == 0)  # the user may have painted meanwhile
        if gained.any():
            current[gained] = event.label_id
            planes[event.z] = current
            flat = np.flatnonzero(gained)  # 32-bit where a slice allows: kept for the undo
            run.written.append((event.z, flat.astype(np.int32) if gained.size < 2**31
                                else flat, event.label_id))
        run.done = event.done
        if not self.runner.cancelling:
            self._set_status(f"propagating {int(event.done)}/{event.total} {run.unit}...")
        # last: redrawing may process queued signals (even the end of the run) re-entrantly
        if gained.any():
            layer.refresh()
        if self.progress_bar is not None:
            self.progress_bar.update(event.done - self.progress_bar.n)

    def _on_done(self, result: RunFinished | RunFailed) -> None:
        run, self._run = self._run, None
        if self.progress_bar is not None:
            self.progress_bar.close()
            self.progress_bar = None
        layer = run.layer
        run.record_undo()
        layer.metadata = {**layer.metadata, run.record_key: record_states(
            propagated_record(layer, run.record_key), PlaneStack(full_resolution(layer)),
            run.touched)}
        self._run_btn.enabled, self._cancel_btn.enabled = True, False
        done, total, unit = int(run.done), run.total, run.unit
        if isinstance(result, RunFailed):
            self._set_status(f"error after {done}/{total} {unit}: {result.error}")
        elif result.cancelled:
            self._set_status(f"cancelled after {done}/{total} {unit}")
        else:
            log.info("propagation: %d/%d %s in %.1f s", done, total, unit, result.seconds)
            self._set_status(f"done: {done}/{total} {unit} into {layer.name!r} "
                             "(Ctrl+Z undoes the run)")
        self.refresh_support()
        scoring = run.scoring
        if isinstance(result, RunFinished) and not result.cancelled and scoring is not None:
            self.quality.score(scoring, layer, self.segmenter,
                               record=propagated_record(layer, run.record_key))

