"""The JFS quality panel of the few-shot dock: scored slices, a badge on the canvas, next slice.

The panel follows one labels layer (the dock's). Its table (:mod:`.quality_table`) lists each
scored object's range as far as it still holds what was scored, "nothing found" where the
range is empty; clicking a row moves the viewer to that slice. The canvas overlay shows the
badges of the current slice ("annotated" on the user's own slices) and follows the slider.
"Annotate next" goes to the least trusted listed slice (:mod:`napari_ifss.core.quality.quality_next`);
"Export CSV..." writes the scores. Scores live in the layer's metadata (they travel with the
labels); scoring runs in :class:`~.quality_worker.QualityScorer`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from magicgui.widgets import Container, Label, PushButton
from napari.layers import Labels
from napari.utils import progress
from napari.viewer import Viewer
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog

from ..core.errors import IfssError, InvalidInputError, NotReadyError
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.planes import PlaneStack
from ..core.provenance import Record
from ..core.quality.quality import badge_label, format_score
from ..core.quality.quality_next import NEXT_RULE
from ..core.quality.quality_store import (
    ScoreRow,
    StoredTable,
    current_scores,
    is_user_slice,
    replace_labels,
    stored_table,
)
from ..core.quality.quality_table import ScoreTable
from ..core.quality.quality_volume import scores_to_csv
from .quality_table import (  # noqa: F401 (re-exported: the panel's public names)
    BADGE_COLOURS,
    COLUMNS,
    EMPTY_TIP,
    BadgeTable,
    plane_name,
    slice_text,
    text_overlay,
)
from .quality_worker import QualityScorer, ScoringRequest
from .slice_context import full_resolution, show_slice


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
        self._title = Label(value="Result quality (checked against your annotated slices)")
        self._status = Label(value="")
        self._next_btn = PushButton(text="Annotate next")
        self._next_btn.tooltip = f"go to {NEXT_RULE}"
        self._export_btn = PushButton(text="Export CSV...")
        self._export_btn.tooltip = ("save the table (slice, label, score, badge) as a CSV file "
                                    "for a spreadsheet or a report")
        buttons = Container(widgets=[self._next_btn, self._export_btn], layout="horizontal",
                            labels=False)
        buttons.margins = (0, 0, 0, 0)
        super().__init__(widgets=[self._title, self._status, buttons], labels=False)
        self.margins = (0, 0, 0, 0)
        self._status.native.setWordWrap(True)
        self.table = BadgeTable()
        self.native.layout().insertWidget(1, self.table)  # under the title
        self.table.cellClicked.connect(lambda row, _col: self._jump_to_row(row))
        self.table.currentCellChanged.connect(lambda row, *_: self._jump_to_row(row))
        self._next_btn.changed.connect(self.annotate_next)
        self._export_btn.changed.connect(self._ask_export)
        self.scorer = QualityScorer(self._set_status, self._on_score, self._on_scored)
        self.progress_bar: progress | None = None
        self._layer: Labels | None = None
        self._scores: StoredTable = {}
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
        return list(self.table.rows)

    @property
    def scores(self) -> StoredTable:
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
        planes = self._planes()
        self.table.set_planes(planes.lead if planes is not None else ())
        self.refresh()

    def _planes(self) -> PlaneStack | None:
        """The layer's labels as planes (a 3D movie's numbered ``t * Z + z``), or None."""
        data = None if self._layer is None else full_resolution(self._layer)
        if data is None or len(np.shape(data)) not in (3, 4):
            return None
        return PlaneStack(data)

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
            planes = self._planes()
            table = {} if planes is None else current_scores(stored, planes,
                                                             self._record_of(layer))
        self._scores = table
        self.table.fill(list(ScoreTable.from_labels(table)))
        self.update_overlay()

    def _jump_to_row(self, row: int) -> None:
        if 0 <= row < len(self.table.rows):
            self.jump_to(self.table.rows[row].z)

    # -- the viewer --------------------------------------------------------------------
    def jump_to(self, z: int) -> None:
        """Show slice ``z`` of the layer (its axis 0, wherever that lies in the viewer; a 3D
        movie's plane ``t * Z + z``)."""
        planes = self._planes()
        if self._layer is not None and planes is not None:
            show_slice(self.viewer, self._layer, planes.index(z))

    def current_z(self, planes: PlaneStack | None = None) -> int | None:
        """The layer's slice index the viewer shows (a 3D movie's plane number ``t * Z +
        z``; -1 outside the labels; None without a layer). ``planes``: the layer's
        :meth:`_planes`, when the caller has them."""
        layer, planes = self._layer, planes if planes is not None else self._planes()
        if layer is None or planes is None:
            return None
        data = layer.world_to_data(self.viewer.dims.point)
        index = tuple(int(round(float(v))) for v in data[:len(planes.lead)])
        if not all(0 <= i < n for i, n in zip(index, planes.lead, strict=True)):
            return -1
        return planes.number(index)

    def update_overlay(self, _event: object = None) -> None:
        """Show the current slice's badges on the canvas (hidden when nothing is scored)."""
        if self._closed:
            return
        planes = self._planes()  # built once per slice change
        overlay, layer, z = text_overlay(self.viewer), self._layer, self.current_z(planes)
        pending = self.scorer.pending
        running = pending is not None and pending[0] is layer
        if layer is None or z is None or not (self._scores or running):
            overlay.visible = False
            return
        colour = None
        if planes is None or not 0 <= z < len(planes):
            text = "quality: this slice is outside the labels"
        else:
            here = {i: e[z] for i, e in self._scores.items() if z in e}
            annotated = not here and is_user_slice(planes[z], z, self._record_of(layer))
            text = slice_text(plane_name(planes.lead, z), here, annotated)
            if here:
                colour = BADGE_COLOURS[min(here.values(), key=lambda s: s.score).badge]
        overlay.text, overlay.color, overlay.visible = text, colour, True

    # -- scoring -----------------------------------------------------------------------
    def score(self, request: ScoringRequest, layer: Labels, segmenter: FewShotSegmenter,
              record: Record | None = None) -> None:
        """Score ``request``'s label ids on ``layer`` in a thread worker (see
        :class:`~.quality_worker.QualityScorer`); its rows replace theirs as they come.
        ``record``: the propagated planes that are not the user's evidence (default the
        panel's record of the layer; a 3D movie's run through time gives its own)."""
        if self.scorer.busy:
            self._set_status("the quality check is already running")
            return
        try:
            total = self.scorer.start(request, layer, segmenter,
                                      self._record_of(layer) if record is None else record)
        except IfssError as err:
            self._set_status(f"cannot score: {err}")
            return
        if total == 0:
            self._set_status("quality: no filled slice to check")
            return
        self.progress_bar = progress(total=total, desc="quality check")
        self._set_status(f"checking quality 0/{total} slices...")
        self._on_busy(True)
        self.refresh()  # the earlier rows of these label ids go

    def cancel(self) -> None:
        """Stop scoring after the slice being scored (what was scored is kept)."""
        if self.scorer.busy:
            self.scorer.cancel()
            self._set_status("cancelling the quality check...")

    def _on_score(self, row: ScoreRow, done: int, total: int) -> None:
        if self.progress_bar is not None:
            self.progress_bar.update(1)
        pending = self.scorer.pending
        if self._closed or pending is None or pending[0] is not self._layer:
            return
        self._scores.setdefault(row.label_id, {})[row.z] = pending[2][row.label_id][row.z]
        self.table.insert(row)
        if not self.scorer.runner.cancelling:
            self._set_status(f"checking quality {done}/{total} slices...")
        if row.z == self.current_z():
            self.update_overlay()

    def _on_scored(self, message: str) -> None:
        if self.progress_bar is not None:
            self.progress_bar.close()
            self.progress_bar = None
        if self._closed:
            return
        self.refresh()
        counts = {b: sum(r.badge == b for r in self.table.rows) for b in BADGE_COLOURS}
        summary = ", ".join(f"{n} {badge_label(b)}" for b, n in counts.items() if n)
        self._set_status(f"{message}: {summary}" if summary else message)
        self._on_busy(False)

    # -- actions -----------------------------------------------------------------------
    def annotate_next(self) -> ScoreRow | None:
        """Go to the least trusted listed slice (:meth:`ScoreTable.least_trusted` of the listed
        scores, the one rule of :data:`~napari_ifss.core.quality.quality_next.NEXT_RULE`: nothing found
        inside the range first, else the lowest score), select its label for painting and say
        so; returns its row."""
        listed = ScoreTable.from_labels(self._scores)
        if not listed:
            self._set_status("no scored slice yet: propagate first")
            return None
        row = listed.least_trusted()
        self.jump_to(row.z)
        self.table.select(row.z, row.label_id)
        if self._layer is not None:
            self._layer.selected_label = row.label_id
        where = plane_name(self.table.lead, row.z)
        self._set_status(f"annotate next: slice {where} (label {row.label_id}: "
                         f"{format_score(row.score)} {badge_label(row.badge)}), the least "
                         "trusted listed slice; draw it, then Propagate again")
        return row

    def export_csv(self, path: str | os.PathLike) -> int:
        """Write the listed scores to ``path`` (columns slice, label_id, score, badge);
        returns the number of rows. Raises NotReadyError when nothing is scored."""
        if not self.table.rows:
            raise NotReadyError("no scored slice to export: propagate first")
        scores_to_csv(ScoreTable.from_labels(self._scores), path, lead=self.table.lead)
        n = len(self.table.rows)
        self._set_status(f"exported {n} scores to {os.fspath(path)}")
        return n

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.native, "Export quality scores",
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
