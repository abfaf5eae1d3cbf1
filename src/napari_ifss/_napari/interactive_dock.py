"""The "Interactive segmentation" dock: click on a slice, see the object, commit it as a label.

Keys on the "ifss prompts" layer: ``T`` toggles object / background clicks, ``U`` undoes the
last click on the slice, ``R`` resets the slice's object, ``C`` or ``Enter`` commits the
object (all slices with clicks) into the target Labels layer.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton
from napari.layers import Image, Labels, Points
from napari.utils.events import Event
from napari.viewer import Viewer
from qtpy.QtCore import QTimer

from ..core.errors import IfssError
from ..core.interactive.session import InteractiveSession, SessionState, takes_window
from ..core.interactive.session_store import SavedSession
from ..core.normalize import IntensityWindow
from ..core.protocols import ClickSegmenter
from . import prompt_layer as pl
from .box_prompt import BoxPrompt
from .channel_layers import ChannelChoice
from .exemplar_action import ExemplarAction
from .intensity_choice import IntensityChoice
from .labels_history import check_writable, write_labels
from .object_commit import commit_writes, drawn_slices
from .object_edit import EditTarget, start_edit
from .prediction_worker import Job, JobResult, PredictionRunner
from .preview_layer import PreviewSpans, add_preview_layer, zero_layer_data
from .session_autosave import SessionKeeper
from .slice_context import (
    SliceContext,
    clicks_on,
    current_slice,
    full_resolution,
    point_indices_on,
    show_slice,
    spatial_shape,
    stack_noun,
)

PREVIEW_NAME = "ifss preview"
LABELS_NAME = "ifss labels"
PLUGIN = "napari-ifss"
FEWSHOT_DOCK = "Few-shot propagation"  # its display name in napari.yaml
_DATA_ACTIONS = {"added", "removed", "changed"}
DOCK_MIN_HEIGHT = 200  # px: both docks and the slider fit a 1366x768 screen
log = logging.getLogger(__name__)


class InteractiveDock(Container):
    """Dock widget; ``segmenter`` defaults to the shipped click model (loaded on first click)."""

    def __init__(self, napari_viewer: Viewer, segmenter: ClickSegmenter | None = None) -> None:
        self.viewer = napari_viewer
        self._image_box = ComboBox(label="image", choices=self._image_choices, nullable=True)
        self._image_box.tooltip = "the image you click on"
        self._labels_box = ComboBox(label="save objects to", choices=self._labels_choices,
                                    nullable=True)
        self._labels_box.tooltip = ("the labels layer that Commit writes into; empty: a new "
                                    f"layer {LABELS_NAME!r} is made on the first Commit")
        self._positive = CheckBox(text="object click (T toggles)", value=True)
        self._positive.tooltip = ("checked: a click marks the object (green); unchecked: a "
                                  "click marks background that is not the object (red). Key: T")
        self._clicked_only = CheckBox(text="ignore stray blobs without a click", value=False)
        self._clicked_only.tooltip = ("keep only the parts of the outline that hold one of "
                                      "your object clicks (drops stray bits on neighbouring "
                                      "cells), from the next click on")
        self._undo_btn = PushButton(text="Undo click (U)")
        self._undo_btn.tooltip = "remove your last click on this slice. Key: U"
        self._reset_btn = PushButton(text="Reset object (R)")
        self._reset_btn.tooltip = ("remove all clicks on this slice and clear its yellow "
                                   "outline. Key: R")
        self._commit_btn = PushButton(text="Commit object (C)")
        self._commit_btn.tooltip = ("save the yellow object into the labels layer (every slice "
                                    "you clicked on); Ctrl+Z undoes it. Key: C or Enter")
        self._edit_btn = PushButton(text="Edit selected label (E)")
        self._edit_btn.tooltip = ("correct an existing object with clicks: its outline on "
                                  "this slice is the starting point, Commit replaces it. Key: E")
        self._new_btn = PushButton(text="New object (N)")
        self._new_btn.tooltip = ("the next Commit starts a new label; until then each Commit "
                                 "adds the slice's mask to the current object, so one cell "
                                 "annotated on several slices stays one label. Key: N")
        self._object = Label(label="current object", value="")
        self._through_btn = PushButton(text="Segment object through all slices")
        self._through_btn.tooltip = (
            "fill the other slices with the current object, learned from the slices you "
            "committed (Few-shot dock: progress, Cancel, one Ctrl+Z undoes it)")
        self._restore_btn = PushButton(text="Restore saved session", visible=False)
        self._restore_btn.tooltip = ("bring back the clicks and objects saved automatically "
                                     "for this image last time")
        self._status = Label(label="status", value="")
        self.last_committed: int | None = None  # the exemplar of "Segment all like this"
        # The object the next Commit adds to on slices where it is not yet (None: a new one).
        self.current_object: int | None = None
        self.exemplar = ExemplarAction(self.viewer, lambda: self.image,
                                       lambda: self._labels_box.value,
                                       lambda: self.last_committed, self._set_status)
        self.boxes = BoxPrompt(self.viewer, lambda: self.image, self._current,
                               self._box_drawn, self._set_status,
                               lambda: bool(getattr(self.runner.session.segmenter,
                                                    "takes_boxes", False)))
        self.intensity = IntensityChoice(
            self._rewindow, enabled=segmenter is None or takes_window(segmenter))
        self._channels_pending = False  # a change of channels waits for its prediction
        self.channels = ChannelChoice(
            self.viewer, lambda: self.image, self._own_layers, self._on_channels_changed,
            enabled=segmenter is None or bool(getattr(segmenter, "takes_channels", False)))
        super().__init__(
            widgets=[self._image_box, self.channels.select, self._labels_box,
                     self.intensity.combo,
                     self.boxes.button, self._positive,
                     self._clicked_only, self._undo_btn, self._reset_btn, self._commit_btn,
                     self._object,
                     self._new_btn, self._through_btn, self._edit_btn,
                     *self.exemplar.widgets, self._restore_btn, self._status],
            labels=True, scrollable=True,  # scrolls on a small (laptop) screen
        )
        self.root_native_widget.widget().layout().addStretch(1)  # controls stay packed at the top
        # Qt squeezes the lower of two stacked docks to a few pixels on a small screen: keep a
        # few rows of each visible (the rest scrolls), still far below a laptop's height
        self.root_native_widget.setMinimumHeight(DOCK_MIN_HEIGHT)
        self.keeper = SessionKeeper(self._set_status)  # autosave of prompts and labels
        self._saved: SavedSession | None = None
        self.prompts: Points | None = None
        self.preview: Image | None = None
        self._shown = PreviewSpans()
        self._states: dict[object, tuple[SliceContext, SessionState]] = {}
        self._updating = False
        self._commit_when_idle = False
        self.runner = PredictionRunner(InteractiveSession(segmenter), self._on_result,
                                       self._set_status, self._on_error, self._on_idle)
        self._image_box.changed.connect(self._on_image_changed)
        self._positive.changed.connect(self._on_polarity_changed)
        self._clicked_only.changed.connect(self._on_clicked_only_changed)
        self._undo_btn.changed.connect(self.undo_click)
        self._reset_btn.changed.connect(self.reset_object)
        self._commit_btn.changed.connect(self.commit)
        self._edit_btn.changed.connect(self.edit_object)
        self._new_btn.changed.connect(self.new_object)
        self._through_btn.changed.connect(self.segment_through_volume)
        self._editing: EditTarget | None = None
        self._restore_btn.changed.connect(self.restore_session)
        self._labels_box.changed.connect(self.keeper.watch_labels)
        self.viewer.dims.events.current_step.connect(self._on_slice_changed)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.native.destroyed.connect(self._disconnect_viewer)
        self.reset_choices()
        self._show_object()
        self._image_box.value = self._default_image()
        # never default to an existing labels layer (it may be ground truth): a new one is made
        self._labels_box.value = next(
            (ly for ly in self._labels_choices() if ly.name == LABELS_NAME), None)
        self._on_image_changed(self._image_box.value)

    @property
    def native(self):
        """The scroll area around the controls. napari docks ``native``, and magicgui's
        ``native`` of a scrollable container is the inner widget without its scroll area: the
        dock would then not scroll and could push the window past a laptop screen's height."""
        return self.root_native_widget

    def _on_clicked_only_changed(self, value: bool) -> None:
        self.runner.session.keep_clicked_regions = bool(value)

    def _default_image(self) -> Image | None:
        active = self.viewer.layers.selection.active
        images = self._image_choices()
        if active in images:
            return active
        return images[-1] if images else None

    def _disconnect_viewer(self, *_args) -> None:
        self.keeper.detach()
        self.channels.detach()
        self.viewer.dims.events.current_step.disconnect(self._on_slice_changed)
        self.viewer.layers.events.removed.disconnect(self._on_layer_removed)

    # -- layer choices -----------------------------------------------------------------
    def _image_choices(self, _widget=None) -> list[Image]:
        return [ly for ly in self.viewer.layers
                if isinstance(ly, Image) and ly is not getattr(self, "preview", None)]

    def _labels_choices(self, _widget=None) -> list[Labels]:
        return [ly for ly in self.viewer.layers if isinstance(ly, Labels)]

    @property
    def image(self) -> Image | None:
        """The image being segmented."""
        return self._image_box.value

    @property
    def status(self) -> str:
        """The status line's text."""
        return self._status.value

    @property
    def busy(self) -> bool:
        """True while predictions run or wait (also a new choice of channels not yet
        predicted)."""
        return self.runner.busy or self._channels_pending

    def _set_status(self, text: str) -> None:
        self._status.value = text

    # -- image / helper layers ---------------------------------------------------------
    def _remove_own_layers(self) -> None:
        self.keeper.detach()
        self.boxes.remove_layer()
        own, self.prompts, self.preview = (self.prompts, self.preview), None, None
        for layer in own:
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def _own_layers(self) -> tuple[object, ...]:
        """The dock's prompts and preview layers (none while the dock is being built)."""
        return getattr(self, "prompts", None), getattr(self, "preview", None)

    def _on_image_changed(self, image: Image | None) -> None:
        own = (self.prompts, self.preview)
        if (self.prompts is not None and self.prompts.metadata.get("ifss_image") is image
                and all(layer in self.viewer.layers for layer in own)):
            return
        self._remove_own_layers()
        self._states.clear()
        self._editing = None
        if not self.runner.busy:
            self.runner.session.clear()
        self.channels.reset()
        if image is None:
            self._set_status("open an image to start")
            return
        self.preview = add_preview_layer(self.viewer, image, PREVIEW_NAME)
        self._shown = PreviewSpans()  # where the new preview layer holds objects
        self.prompts = pl.make_prompt_layer(image)
        self.prompts.metadata["ifss_image"] = image
        self.viewer.add_layer(self.prompts)
        pl.set_polarity(self.prompts, self._positive.value)
        self.prompts.events.data.connect(self._on_points_data)
        pl.bind_keys(self.prompts, {"t": self.toggle_polarity, "u": self.undo_click,
                                    "r": self.reset_object, "c": self.commit,
                                    "e": self.edit_object, "n": self.new_object,
                                    "Enter": self.commit})
        self._activate_prompts()
        self._set_status(f"click on {image.name!r} (T: object/background)")
        self.keeper.attach(image, self.prompts)
        self.keeper.watch_labels(self._labels_box.value)
        self._saved = self.keeper.saved(image)
        offer = self._saved is not None and (
            self._saved.click_count > 0 or self._saved.labels is not None)
        self._restore_btn.visible = offer
        if offer:
            self._restore_btn.text = (f"Restore session saved {self._saved.saved_at} "
                                      f"({self._saved.click_count} prompts)")

    def _activate_prompts(self) -> None:
        """Select the prompts layer in add mode, so that the next canvas click is a prompt."""
        self.viewer.layers.selection.active = self.prompts
        self.prompts.mode = "add"

    def _on_layer_removed(self, event: Event) -> None:
        if self.prompts is None:
            return  # our own removal, or nothing set up
        bound = self.prompts.metadata.get("ifss_image")
        if event.value is bound or event.value in (self.prompts, self.preview):
            # changing the layer list inside its own removal event crashes Qt: do it just after
            QTimer.singleShot(0, self.native, self._rebind_image)

    def _rebind_image(self) -> None:
        self._image_box.reset_choices()
        if self._image_box.value is None:
            self._image_box.value = self._default_image()
        self._on_image_changed(self._image_box.value)

    # -- polarity ----------------------------------------------------------------------
    def toggle_polarity(self) -> None:
        """Switch between object (green) and background (red) clicks."""
        self._positive.value = not self._positive.value

    def _on_polarity_changed(self, value: bool) -> None:
        if self.prompts is not None:
            pl.set_polarity(self.prompts, value)
        self._set_status("object clicks" if value else "background clicks")

    # -- prompts -> predictions --------------------------------------------------------
    def _current(self) -> SliceContext | None:
        if self.image is None or self.prompts is None:
            return None
        try:
            return replace(current_slice(self.viewer, self.image),
                           channels=self.channels.layers)
        except IfssError as err:
            self._set_status(str(err))
            return None

    def _on_points_data(self, event: Event) -> None:
        if not self._updating and str(event.action) in _DATA_ACTIONS:
            self.sync()

    def sync(self) -> None:
        """Queue a prediction for every slice whose prompts differ from its last result."""
        ctx = self._current()
        if ctx is None:
            return
        contexts = {key: c for key, (c, _) in self._states.items()}
        contexts[ctx.key] = ctx
        for key, c in contexts.items():
            clicks, outside = clicks_on(c, self.prompts)
            box = self.boxes.box_on(c)
            done = ((self._states[key][1].clicks, self._states[key][1].box)
                    if key in self._states else ((), None))
            if outside and c is ctx:
                self._set_status(f"{outside} click(s) outside the image ignored")
            if (tuple(clicks), box) != done:
                self.runner.submit(Job(c, tuple(clicks), box=box, window=self._window(c)))

    def _window(self, ctx: SliceContext) -> IntensityWindow | tuple | None:
        """What the model sees of ``ctx`` under the intensity choice: one window, or one per
        channel when other channels are used (None: automatic)."""
        if not ctx.channels:
            return self.intensity.window(ctx.layer)
        windows = tuple(self.intensity.window(ly) for ly in ctx.layers)
        return None if all(w is None for w in windows) else windows

    def _predict_again(self, drawn: list[tuple[SliceContext, SessionState]],
                       channels: tuple[Image, ...] | None = None) -> None:
        """Predict every slice of ``drawn`` with prompts again (under the current intensity
        choice; seen with ``channels`` when given)."""
        for c, state in drawn:
            if state.clicks or state.box is not None:
                ctx = c if channels is None else replace(c, channels=channels)
                self.runner.submit(Job(ctx, tuple(state.clicks), box=state.box,
                                       window=self._window(ctx)))

    def _rewindow(self) -> None:
        """Another intensity choice: predict every slice with prompts again under it."""
        self._predict_again(list(self._states.values()))

    def _on_channels_changed(self) -> None:
        """Other channels chosen (or one of them removed from the viewer): predict again once
        the event is over, unless the dock is gone by then (closing the viewer removes every
        layer first)."""
        if not self._channels_pending:
            self._channels_pending = True
            QTimer.singleShot(0, self.native, self._predict_with_channels)

    def _predict_with_channels(self) -> None:
        """Every slice with prompts is predicted again with the chosen channels (not while a
        label is being edited: its starting outline would be lost)."""
        if not self._channels_pending:
            return  # already done (a commit asked for it first)
        self._channels_pending = False
        if self.image is None or self.image not in self.viewer.layers:
            return
        if self._editing is not None:
            previous = next(iter(self._states.values()))[0].channels if self._states else ()
            self.channels.restore(previous)
            self._set_status("commit or reset the label being edited before changing "
                             "channels")
            return
        old = list(self._states.values())
        self._states.clear()
        self._predict_again(old, self.channels.layers)
        n = len(self.channels.layers)
        self._set_status(f"the model looks at {n + 1} channels" if n else
                         "the model looks at the image alone")

    def _box_drawn(self) -> None:
        """A box was drawn or removed: predict from it; the next canvas click corrects it."""
        self.sync()
        if self.boxes.layer is not None and len(self.boxes.layer.data):
            QTimer.singleShot(0, self.native, self._activate_prompts)

    def _on_result(self, result: JobResult) -> None:
        ctx, state = result.ctx, result.state
        if (ctx.layer is not self.image or self.preview is None
                or ctx.channels != self.channels.layers):
            return  # the image or its channels changed while the job ran
        self._states[ctx.key] = (ctx, state)
        self._shown.show(self.preview, ctx.plane, state.probabilities, state.threshold)
        self.preview.refresh()
        n = len(state.clicks)
        enc = f", encoding {result.encode_ms:.0f} ms" if result.encode_ms is not None else ""
        timing = f"prediction {result.predict_ms:.0f} ms{enc}"
        log.info("%s: %d click(s), %s", ctx.description, n, timing)
        box = "box + " if state.box is not None else ""
        self._set_status(f"{ctx.description}: {box}{n} click{'s' * (n != 1)}")
        self._status.tooltip = f"last prediction: {timing}"  # timings for the curious

    def _on_error(self, err: Exception) -> None:
        self._commit_when_idle = False
        self._set_status(f"error: {err}")

    def _on_idle(self) -> None:
        if self._commit_when_idle:
            self._commit_when_idle = False
            self.commit()

    def _on_slice_changed(self, _event: Event | None = None) -> None:
        ctx = self._current()
        if ctx is None or self.runner.busy:
            return
        n = len(self._states[ctx.key][1].clicks) if ctx.key in self._states else 0
        self._set_status(f"{ctx.description}: {n} click{'s' * (n != 1)}")

    # -- editing -----------------------------------------------------------------------
    def _remove_prompts(self, indices: list[int]) -> None:
        self._updating = True
        try:
            pl.remove_points(self.prompts, indices)
        finally:
            self._updating = False

    def undo_click(self) -> None:
        """Remove the newest click on the current slice (with none left: its box) and
        re-predict."""
        ctx = self._current()
        if ctx is not None:
            on_slice = point_indices_on(ctx, self.prompts)
            if on_slice:
                self._remove_prompts(on_slice[-1:])
            else:
                self.boxes.remove_on(ctx)
            self.sync()

    def reset_object(self) -> None:
        """Remove every click and the box on the current slice (its preview is cleared)."""
        ctx = self._current()
        if ctx is not None:
            self._remove_prompts(point_indices_on(ctx, self.prompts))
            self.boxes.remove_on(ctx)
            self.sync()

    def edit_object(self) -> None:
        """Correct the labels layer's selected label on the current slice with clicks (E):
        its mask becomes the starting point; Commit then replaces it in place."""
        ctx, labels = self._current(), self._labels_box.value
        if ctx is None or labels is None:
            self._set_status("choose the labels layer holding the object to edit")
            return
        if point_indices_on(ctx, self.prompts):
            self._set_status("commit or reset the clicks on this slice first")
            return
        try:
            target, mask = start_edit(labels, ctx, int(labels.selected_label))
        except IfssError as err:
            self._set_status(str(err))
            return
        self._editing = target
        self.runner.submit(Job(ctx, (), seed=mask, window=self._window(ctx)))
        self._set_status(f"editing label {target.label_id} on {ctx.description}: click "
                         "to correct it, C replaces it")

    # -- saved session -----------------------------------------------------------------
    def restore_session(self) -> None:
        """Bring back the prompts and labels autosaved for this image (labels: one undo
        step; voxels already labelled are kept)."""
        if self._saved is None or self.prompts is None:
            return
        labels = self._target_labels() if self._saved.labels is not None else None
        self._updating = True
        try:
            summary = self.keeper.restore(self._saved, self.prompts, labels)
        finally:
            self._updating = False
        self._saved, self._restore_btn.visible = None, False
        if len(self.prompts.data):
            show_slice(self.viewer, self.prompts, self.prompts.data[0][0])  # a prompted slice
        self.sync()
        self._set_status(summary)

    # -- commit ------------------------------------------------------------------------
    def _target_labels(self) -> Labels:
        labels = self._labels_box.value
        if labels is None:
            labels = self.viewer.add_labels(  # a huge slice's: a pyramid
                **zero_layer_data(spatial_shape(self.image), np.uint32), name=LABELS_NAME,
                scale=self.image.scale, translate=self.image.translate)
            self._labels_box.reset_choices()
            self._labels_box.value = labels
            self._activate_prompts()
        return labels

    def new_object(self) -> None:
        """Start a new object: the next Commit gets the next free label id (N)."""
        self.current_object = None
        self.boxes.clear()
        self.sync()
        self._show_object()
        self._set_status("next commit starts a new object")

    def segment_through_volume(self):
        """Propagate the current object from its committed slices to the whole stack through
        the Few-shot dock (opened if need be); returns that dock, or None with a message."""
        labels, cur = self._labels_box.value, self.current_object
        if self.image is None or labels is None or cur is None:
            self._set_status(f"commit the object on one or more {stack_noun(self.image, 2)} "
                             "first")
            return None
        if len(spatial_shape(self.image)) != 3:
            self._set_status("segmenting through slices needs a 3D stack")
            return None
        _, dock = self.viewer.window.add_plugin_dock_widget(PLUGIN, FEWSHOT_DOCK)
        dock.propagate_object(self.image, labels, cur)
        self._set_status(f"label {cur}: {dock.status}")
        return dock

    def _show_object(self) -> None:
        cur = self.current_object
        self._object.value = ("new label on the next commit" if cur is None else
                              f"label {cur} (commits on other slices add to it)")

    def commit(self) -> None:
        """Write the object (every slice with clicks) into the labels layer with a new id.

        Other objects are never overwritten; the write is one step of the labels layer's undo
        history (Ctrl+Z). Then the object's prompts and preview are cleared.
        """
        if self.image is None or self.prompts is None:
            return
        if self._channels_pending:  # a new choice of channels: its predictions first
            self._predict_with_channels()
        if self.runner.busy:
            self._commit_when_idle = True
            self._set_status("committing after the running prediction...")
            return
        if not drawn_slices(list(self._states.values())):
            self._set_status("nothing to commit: click on the object first")
            return
        labels = self._target_labels()
        data = full_resolution(labels)
        if tuple(np.shape(data)) != spatial_shape(self.image):
            self._set_status(f"labels {labels.name!r} has shape {np.shape(data)}, image "
                             f"{self.image.name!r} has {spatial_shape(self.image)}")
            return
        try:
            check_writable(labels)
            writes = commit_writes(list(self._states.values()), np.asarray(data),
                                   self.current_object, self._editing)
        except IfssError as err:
            self._set_status(f"cannot commit: {err}")
            return
        if writes is None:
            return
        label_id, idx, n_slices = writes.label_id, writes.idx, writes.slices
        write_labels(labels, idx, writes.values)
        self._editing = None
        self.last_committed = label_id
        self.current_object = label_id
        self._show_object()
        self._remove_prompts(list(range(len(self.prompts.data))))
        self.boxes.clear()
        self._states.clear()
        self.runner.session.clear()
        self._shown.clear(self.preview)
        self.preview.refresh()
        self._set_status(f"committed label {label_id} ({idx[0].size} px on {n_slices} "
                         f"{stack_noun(self.image, n_slices)})")
