"""The badges table of the quality panel, and the canvas overlay's text.

One row per listed (slice z, label id): z, label id, JFS score (two decimals, rounded down)
and the badge in words, its cell coloured good green / check amber / review red / "nothing
found" purple (an empty slice inside the object's range, with a tooltip saying what to do).
Rows stay in (z, label id) order. A 3D movie's rows are its planes ``t * Z + z``
(:class:`~napari_ifss.core.planes.PlaneStack`), shown as "t, z" (:func:`plane_name`).
"""

from __future__ import annotations

import bisect

from napari.components.overlays import TextOverlay
from napari.viewer import Viewer
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget
from qtpy.QtWidgets import QTableWidgetItem as Item

from ..core.planes import plane_index
from ..core.quality.quality import badge_label, format_score
from ..core.quality.quality_store import ScoreRow, StoredScore

BADGE_COLOURS = {"good": "#2e9e44", "check": "#f0a30a", "review": "#d62728",
                 "empty": "#7b3294"}
BADGE_TEXT = {"good": "#ffffff", "check": "#000000", "review": "#ffffff", "empty": "#ffffff"}
EMPTY_TIP = ("propagation found nothing on this slice, although it lies inside the object's "
             "range: check whether the object is there")
COLUMNS = ("z", "label", "score", "badge")


def text_overlay(viewer: Viewer) -> TextOverlay:
    """The viewer's canvas text overlay (``viewer.canvas.overlays["text"]`` in napari >= 0.9,
    ``viewer.text_overlay`` before)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    if overlays is not None and "text" in overlays:
        return overlays["text"]
    return viewer.text_overlay


def plane_name(lead: tuple[int, ...], plane: int, *, short: bool = False) -> str:
    """Slice ``plane`` of a layer whose leading axes are ``lead``: ``"z=4"`` for a stack,
    ``"t=2 z=4"`` for a 3D movie (``short``: ``"4"`` and ``"2, 4"``, the table's)."""
    if len(lead) != 2:
        return str(plane) if short else f"z={plane}"
    t, z = plane_index(lead, plane)
    return f"{t}, {z}" if short else f"t={t} z={z}"


def slice_text(where: str, scores: dict[int, StoredScore], annotated: bool) -> str:
    """The overlay text for the slice named ``where`` (:func:`plane_name`): its
    ``{label_id: score}`` (one line per label id when there are several), or why there is
    none."""
    if annotated:
        return f"quality {where}: annotated"
    if not scores:
        return f"quality {where}: not scored"
    parts = [f"label {i}: {format_score(s.score)} {badge_label(s.badge)}"
             for i, s in sorted(scores.items())]
    return f"quality {where}" + ("  " if len(parts) == 1 else "\n") + "\n".join(parts)


class BadgeTable(QTableWidget):
    """The table widget; :attr:`rows` are the listed rows in table order."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumHeight(120)
        self.rows: list[ScoreRow] = []
        self.lead: tuple[int, ...] = ()  # the layer's leading axes: (Z,) or a movie's (T, Z)

    def set_planes(self, lead: tuple[int, ...]) -> None:
        """Name the rows' planes for a layer with leading axes ``lead`` (a 3D movie's
        ``(T, Z)``: the first column is "t, z")."""
        self.lead = tuple(lead)
        self.setHorizontalHeaderLabels(["t, z" if len(self.lead) == 2 else COLUMNS[0],
                                        *COLUMNS[1:]])

    def fill(self, rows: list[ScoreRow]) -> None:
        """List exactly ``rows`` (without emitting selection signals)."""
        self.blockSignals(True)
        try:
            self.setRowCount(0)
            self.rows = []
            for row in rows:
                self._insert(row)
        finally:
            self.blockSignals(False)

    def insert(self, row: ScoreRow) -> None:
        """Insert ``row`` at its (z, label id) place, replacing one with the same key."""
        self.blockSignals(True)
        try:
            self._insert(row)
        finally:
            self.blockSignals(False)

    def _insert(self, row: ScoreRow) -> None:
        keys = [(r.z, r.label_id) for r in self.rows]
        at = bisect.bisect_left(keys, (row.z, row.label_id))
        if at < len(keys) and keys[at] == (row.z, row.label_id):
            self.rows[at] = row
        else:
            self.rows.insert(at, row)
            self.insertRow(at)
        texts = (plane_name(self.lead, row.z, short=True), str(row.label_id),
                 format_score(row.score), badge_label(row.badge))
        for col, text in enumerate(texts):
            item = Item(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if col == 3:
                item.setBackground(QColor(BADGE_COLOURS[row.badge]))
                item.setForeground(QColor(BADGE_TEXT[row.badge]))
                if row.badge == "empty":
                    item.setToolTip(EMPTY_TIP)
            self.setItem(at, col, item)

    def select(self, z: int, label_id: int) -> None:
        """Select the row of (``z``, ``label_id``), if listed (without emitting signals)."""
        self.blockSignals(True)
        try:
            for i, r in enumerate(self.rows):
                if (r.z, r.label_id) == (z, label_id):
                    self.selectRow(i)
        finally:
            self.blockSignals(False)
