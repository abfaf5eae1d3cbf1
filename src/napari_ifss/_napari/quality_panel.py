"""The JFS quality panel of the few-shot dock: scored slices, a badge on the canvas, next slice.

The panel follows one labels layer (the dock's). It lists every scored slice that still holds
what was scored (slice z, label id, JFS score, badge coloured good green / check amber /
review red); clicking a row moves the viewer to that slice. The canvas text overlay shows the
badges of the current slice ("annotated" on the user's own slices) and follows the dims
slider. "Annotate next" goes to the least trusted slice; "Export CSV..." writes the scores.
Scores live in the layer's metadata (:mod:`napari_ifss.core.quality_store`), so they travel
with the labels; scoring itself runs in :class:`~.quality_worker.QualityScorer`.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable

import numpy as np
from magicgui.widgets import Container, Label, PushButton
from napari.components.overlays import TextOverlay
from napari.layers import Labels
from napari.utils import progress
from napari.viewer import Viewer
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QAbstractItemView, QFileDialog, QHeaderView, QTableWidget
from qtpy.QtWidgets import QTableWidgetItem as Item

from ..core.errors import IfssError, InvalidInputError, NotReadyError
from ..core.fewshot import FewShotSegmenter
from ..core.provenance import Record, user_labels
from ..core.quality import format_score
from ..core.quality_store import (
    ScoreRow,
    ScoreTable,
    StoredScore,
    as_progress,
    current_scores,
    is_user_slice,
    replace_labels,
    score_rows,
    suggest_next,
)
from ..core.quality_volume import scores_to_csv
from ..core.support import index_labels
from .quality_worker import QualityScorer, ScoringRequest, stored_table
from .slice_context import show_slice

BADGE_COLOURS = {"good": "#2e9e44", "check": "#f0a30a", "review": "#d62728"}
BADGE_TEXT = {"good": "#ffffff", "check": "#000000", "review": "#ffffff"}
COLUMNS = ("z", "label", "JFS", "badge")


def text_overlay(viewer: Viewer) -> TextOverlay:
    """The viewer's canvas text overlay (``viewer.canvas.overlays["text"]`` in napari >= 0.9,
    ``viewer.text_overlay`` before)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    if overlays is not None and "text" in overlays:
        return overlays["text"]
    return viewer.text_overlay


def slice_text(z: int, scores: dict[int, StoredScore], annotated: bool) -> str:
    """The overlay text for slice ``z``: its ``{label_id: score}`` (one line per label id when
    there are several), or why there is none."""
    if annotated:
        return f"JFS z={z}: annotated"
    if not scores:
        return f"JFS z={z}: not scored"
    parts = [f"label {i}: {format_score(s.score)} {s.badge}" for i, s in sorted(scores.items())]
    return f"JFS z={z}" + ("  " if len(parts) == 1 else "\n") + "\n".join(parts)


class QualityPanel(Container):
    """Scores of one labels layer: table, canvas badge, "Annotate next" and CSV export.

    Args:
        viewer: the napari viewer (its dims and text overlay are used).
        record_of: the provenance record of a labels layer (which slices were propagated).
        on_busy: called with True when scoring starts and False when it ends.
    """

    def __init__(self, viewer: Viewer, record_of: Callable[[Labels], Record],
                 on_busy: Callable[[bool], None] | None = None) -> None:
        self.viewer = viewer
        self._record_of = record_of
        self._on_busy = on_busy or (lambda _busy: None)
        self._title = Label(value="Quality (JFS)")
        self._status = Label(value="")
        self._next_btn = PushButton(text="Annotate next")
        self._next_btn.tooltip = "go to the slice whose result is least trusted"
        self._export_btn = PushButton(text="Export CSV...")
        buttons = Container(widgets=[self._next_btn, self._export_btn], layout="horizontal",
                            labels=False)
        buttons.margins = (0, 0, 0, 0)
        super().__init__(widgets=[self._title, self._status, buttons], labels=False)
        self.margins = (0, 0, 0, 0)
        self._status.native.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMinimumHeight(120)
        self.native.layout().insertWidget(1, self.table)  # under the title
        self.table.cellClicked.connect(lambda row, _col: self._jump_to_row(row))
        self.table.currentCellChanged.connect(lambda row, *_: self._jump_to_row(row))
        self._next_btn.changed.connect(self.annotate_next)
        self._export_btn.changed.connect(self._ask_export)
        self.scorer = QualityScorer(self._set_status, self._on_score, self._on_scored)
        self.progress_bar: progress | None = None
        self._layer: Labels | None = None
        self._scores: ScoreTable = {}
        self._rows: list[ScoreRow] = []
        self._closed = False
        self._timer = QTimer(self.native)  # refresh shortly after the labels change
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        self.viewer.dims.events.current_step.connect(self.update_overlay)

    # -- state -------------------------------------------------------------------------
    @property
    def layer(self) -> Labels | None:
        """The labels layer whose scores are shown."""
        return self._layer

    @property
    def rows(self) -> list[ScoreRow]:
        """The listed rows, in table order ((z, label id) order)."""
        return list(self._rows)

    @property
    def scores(self) -> ScoreTable:
        """The listed scores, ``{label_id: {z: StoredScore}}``."""
        return {i: dict(e) for i, e in self._scores.items()}

    @property
    def status(self) -> str:
        """The panel's status line."""
        return self._status.value

    @property
    def busy(self) -> bool:
        """True while scoring runs."""
        return self.scorer.busy

    def _set_status(self, text: str) -> None:
        if not self._closed:
            self._status.value = text

    def set_layer(self, layer: Labels | None) -> None:
        """Follow ``layer`` (None: none) and list its scores."""
        if layer is not self._layer:
            self._watch(False)
            self._layer = layer
            self._watch(True)
        self.refresh()

    def _watch(self, on: bool) -> None:
        """(Dis)connect the layer's ``set_data`` event, the one undo and redo emit."""
        if self._layer is not None:
            emitter = self._layer.events.set_data
            (emitter.connect if on else emitter.disconnect)(self._schedule)

    def _schedule(self, _event: object = None) -> None:
        if not self._closed:
            self._timer.start()

    def refresh(self) -> None:
        """List the layer's stored scores that still hold (and those of a running job)."""
        if self._closed:
            return
        layer, table = self._layer, {}
        if layer is not None:
            try:
                stored = stored_table(layer)
            except InvalidInputError as err:
                self._set_status(str(err))
                stored = {}
            pending = self.scorer.pending
            if pending is not None and pending[0] is layer:
                stored = replace_labels(stored, pending[1], pending[2])
            table = current_scores(stored, layer.data, self._record_of(layer))
        self._scores = table
        self._fill(score_rows(table))
        self.update_overlay()

    # -- the table ---------------------------------------------------------------------
    def _fill(self, rows: list[ScoreRow]) -> None:
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(0)
            self._rows = []
            for row in rows:
                self._insert(row)
        finally:
            self.table.blockSignals(False)

    def _insert(self, row: ScoreRow) -> None:
        """Insert ``row`` at its (z, label id) place (replacing one with the same key)."""
        keys = [(r.z, r.label_id) for r in self._rows]
        at = bisect.bisect_left(keys, (row.z, row.label_id))
        if at < len(keys) and keys[at] == (row.z, row.label_id):
            self._rows[at] = row
        else:
            self._rows.insert(at, row)
            self.table.insertRow(at)
        texts = (str(row.z), str(row.label_id), format_score(row.score), row.badge)
        for col, text in enumerate(texts):
            item = Item(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if col == 3:
                item.setBackground(QColor(BADGE_COLOURS[row.badge]))
                item.setForeground(QColor(BADGE_TEXT[row.badge]))
            self.table.setItem(at, col, item)

    def _jump_to_row(self, row: int) -> None:
        if 0 <= row < len(self._rows):
            self.jump_to(self._rows[row].z)

    def _select(self, z: int, label_id: int) -> None:
        self.table.blockSignals(True)
        try:
            for i, r in enumerate(self._rows):
                if (r.z, r.label_id) == (z, label_id):
                    self.table.selectRow(i)
        finally:
            self.table.blockSignals(False)

    # -- the viewer --------------------------------------------------------------------
    def jump_to(self, z: int) -> None:
        """Show slice ``z`` of the layer (its axis 0, wherever that lies in the viewer)."""
        if self._layer is not None:
            show_slice(self.viewer, self._layer, z)

    def current_z(self) -> int | None:
        """The layer's slice index the viewer shows (None without a layer)."""
        layer = self._layer
        if layer is None:
            return None
        return int(round(float(layer.world_to_data(self.viewer.dims.point)[0])))

    def update_overlay(self, _event: object = None) -> None:
        """Show the current slice's badges on the canvas (hidden when nothing is scored)."""
        if self._closed:
            return
        overlay, layer, z = text_overlay(self.viewer), self._layer, self.current_z()
        pending = self.scorer.pending
        running = pending is not None and pending[0] is layer
        if layer is None or z is None or not (self._scores or running):
            overlay.visible = False
            return
        colour = None
        if not 0 <= z < layer.data.shape[0]:
            text = "JFS: this slice is outside the labels"
        else:
            here = {i: e[z] for i, e in self._scores.items() if z in e}
            annotated = not here and is_user_slice(layer.data[z], z, self._record_of(layer))
            text = slice_text(z, here, annotated)
            if here:
                colour = BADGE_COLOURS[min(here.values(), key=lambda s: s.score).badge]
        overlay.text, overlay.color, overlay.visible = text, colour, True

    # -- scoring -----------------------------------------------------------------------
    def score(self, request: ScoringRequest, layer: Labels, segmenter: FewShotSegmenter
              ) -> None:
        """Score ``request``'s label ids on ``layer`` in a thread worker (see
        :class:`~.quality_worker.QualityScorer`); its rows replace theirs as they come."""
        if self.scorer.busy:
            self._set_status("JFS scoring is already running")
            return
        try:
            total = self.scorer.start(request, layer, segmenter, self._record_of(layer))
        except IfssError as err:
            self._set_status(f"cannot score: {err}")
            return
        if total == 0:
            self._set_status("JFS: no propagated slice to score")
            return
        self.progress_bar = progress(total=total, desc="JFS scoring")
        self._set_status(f"JFS scoring 0/{total} slices...")
        self._on_busy(True)
        self.refresh()  # the earlier rows of these label ids go

    def cancel(self) -> None:
        """Stop scoring after the slice being scored (what was scored is kept)."""
        if self.scorer.busy:
            self.scorer.cancel()
            self._set_status("cancelling JFS scoring...")

    def _on_score(self, row: ScoreRow, done: int, total: int) -> None:
        if self.progress_bar is not None:
            self.progress_bar.update(1)
        pending = self.scorer.pending
        if self._closed or pending is None or pending[0] is not self._layer:
            return
        self._scores.setdefault(row.label_id, {})[row.z] = pending[2][row.label_id][row.z]
        self.table.blockSignals(True)
        try:
            self._insert(row)
        finally:
            self.table.blockSignals(False)
        if not self.scorer.runner.cancelling:
            self._set_status(f"JFS scoring {done}/{total} slices...")
        if row.z == self.current_z():
            self.update_overlay()

    def _on_scored(self, message: str) -> None:
        if self.progress_bar is not None:
            self.progress_bar.close()
            self.progress_bar = None
        if self._closed:
            return
        self.refresh()
        counts = {b: sum(r.badge == b for r in self._rows) for b in BADGE_COLOURS}
        summary = ", ".join(f"{n} {b}" for b, n in counts.items() if n)
        self._set_status(f"{message}: {summary}" if summary else message)
        self._on_busy(False)

    # -- actions -----------------------------------------------------------------------
    def annotate_next(self) -> ScoreRow | None:
        """Go to the slice where annotating should help most (core ``suggest_next``: inside
        the largest run of poorly trusted slices) and say so; returns its row."""
        layer = self._layer
        annotated: dict[int, tuple[int, ...]] = {}
        if layer is not None:
            user = user_labels(self._record_of(layer), np.asarray(layer.data))[0]
            annotated = dict(index_labels(user).slices_of)
        try:
            row = suggest_next(self._scores, annotated)
        except InvalidInputError:
            self._set_status("no scored slice yet: propagate first")
            return None
        self.jump_to(row.z)
        self._select(row.z, row.label_id)
        if self._layer is not None:
            self._layer.selected_label = row.label_id
        self._set_status(f"annotate next: slice z={row.z} (label {row.label_id}: "
                         f"{format_score(row.score)} {row.badge}); draw it, then Propagate again")
        return row

    def export_csv(self, path: str | os.PathLike) -> int:
        """Write the listed scores to ``path`` (columns slice, label_id, score, badge);
        returns the number of rows. Raises NotReadyError when nothing is scored."""
        if not self._rows:
            raise NotReadyError("no scored slice to export: propagate first")
        scores_to_csv(as_progress(self._scores), path)
        self._set_status(f"exported {len(self._rows)} scores to {os.fspath(path)}")
        return len(self._rows)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.native, "Export JFS scores",
                                              "jfs_scores.csv", "CSV files (*.csv)")
        if not path:
            return
        try:
            self.export_csv(path)
        except (IfssError, OSError) as err:
            self._set_status(f"cannot export: {err}")

    def detach(self) -> None:
        """Stop scoring and leave the viewer alone (called when the dock goes)."""
        if self._closed:
            return
        self.scorer.cancel()
        self._timer.stop()
        self._watch(False)
        self.viewer.dims.events.current_step.disconnect(self.update_overlay)
        text_overlay(self.viewer).visible = False
        self._closed = True
