"""Keep the Interactive dock's work on disk, and bring it back after napari closed or crashed.

:class:`SessionKeeper` watches the prompts (Points) layer and the labels layer of one image.
A second after the last change it saves, with :mod:`napari_ifss.core.interactive.session_store`:

* the prompts (data coordinates and polarity),
* the labels (when in memory and at most :data:`MAX_LABELS_BYTES`; lazily loaded labels such as
  zarr are saved by their own store; while no labels layer is watched, e.g. after it was
  removed, the labels saved last are kept),
* the labels layer's napari-ifss metadata (propagated slices, JFS scores).

The folder is ``<image file>.ifss/`` beside the image when the layer came from a file, else
``$IFSS_SESSION_DIR`` (default ``~/.napari-ifss/sessions``) / ``<image name>_<shape>``.
:meth:`SessionKeeper.restore` puts prompts and labels back; the labels change is one undo step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels, Points
from qtpy.QtCore import QTimer

from ..core.errors import IfssError
from ..core.interactive.session_store import (
    SavedSession,
    has_session,
    load_session,
    save_session,
    session_folder_for,
)
from ..core.provenance import RECORD_KEYS, record_from_json
from ..core.quality.quality_store import QUALITY_KEY
from .labels_history import write_labels
from .slice_context import full_resolution, spatial_shape

MAX_LABELS_BYTES = 512 * 2**20
SESSION_DIR_ENV = "IFSS_SESSION_DIR"
KEPT_METADATA = (*RECORD_KEYS, QUALITY_KEY)
LABELS_EVENTS = ("paint", "set_data", "data")  # painting, undo/redo, data replaced


def session_folder(image: Image) -> Path:
    """Where ``image``'s session is kept (see the module docstring)."""
    path = getattr(getattr(image, "source", None), "path", None)
    if path:
        return session_folder_for(path)
    base = Path(os.environ.get(SESSION_DIR_ENV, Path.home() / ".napari-ifss" / "sessions"))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", image.name).strip("_") or "image"
    shape = "x".join(str(s) for s in spatial_shape(image))
    return base / f"{safe}_{shape}"


class SessionKeeper:
    """Autosave and restore of one image's prompts and labels.

    Args:
        on_status: receives one-line messages ("session saved to ...", errors).
        delay_ms: quiet time after the last change before saving.
    """

    def __init__(self, on_status: Callable[[str], None], delay_ms: int = 1000) -> None:
        self._on_status = on_status
        self.image: Image | None = None
        self.prompts: Points | None = None
        self.labels: Labels | None = None
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)
        self.last_error: str | None = None

    # -- watching ------------------------------------------------------------------------
    def attach(self, image: Image, prompts: Points) -> None:
        """Watch ``prompts`` of ``image`` (replacing whatever was watched)."""
        self.detach()
        self.image, self.prompts = image, prompts
        prompts.events.data.connect(self.schedule)

    def watch_labels(self, labels: Labels | None) -> None:
        """Also keep ``labels`` (None: stop keeping labels)."""
        if labels is self.labels:
            return
        if self._timer.isActive():  # changes to the old layer are saved first
            self._timer.stop()
            self.save_now()
        self._disconnect_labels()
        self.labels = labels
        if labels is not None:
            for name in LABELS_EVENTS:
                getattr(labels.events, name).connect(self.schedule)

    def _disconnect_labels(self) -> None:
        if self.labels is not None:
            for name in LABELS_EVENTS:
                getattr(self.labels.events, name).disconnect(self.schedule)
        self.labels = None

    def detach(self) -> None:
        """Save pending changes, then stop watching."""
        if self._timer.isActive():
            self._timer.stop()
            self.save_now()
        if self.prompts is not None:
            self.prompts.events.data.disconnect(self.schedule)
        self._disconnect_labels()
        self.image = self.prompts = None

    def schedule(self, _event=None) -> None:
        """Save after ``delay_ms`` without further changes."""
        if self.image is not None:
            self._timer.start()

    # -- saving and restoring ------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        """The session folder of the watched image."""
        return None if self.image is None else session_folder(self.image)

    def save_now(self) -> Path | None:
        """Save the watched image's prompts and labels now; returns the folder (None when
        nothing is watched or saving failed: the reason is in ``last_error``)."""
        if self.image is None or self.prompts is None:
            return None
        labels, metadata = None, {}
        if self.labels is not None:
            metadata = {k: self.labels.metadata[k] for k in KEPT_METADATA
                        if k in self.labels.metadata}
            data = full_resolution(self.labels)
            if isinstance(data, np.ndarray) and data.nbytes <= MAX_LABELS_BYTES:
                labels = data
        try:
            folder = save_session(
                session_folder(self.image), labels=labels, points=np.asarray(self.prompts.data),
                positive=np.asarray(self.prompts.features.get("positive", []), bool),
                image_name=self.image.name, image_shape=spatial_shape(self.image),
                metadata={**metadata, "labels_layer": getattr(self.labels, "name", None)},
                keep_labels=self.labels is None)  # e.g. its layer was just removed
        except IfssError as err:
            self.last_error = str(err)
            self._on_status(f"could not save the session: {err}")
            return None
        self.last_error = None
        return folder

    def saved(self, image: Image) -> SavedSession | None:
        """The session saved for ``image``, or None (none, damaged, another shape, or nothing
        in it to restore: no prompt and no labelled voxel)."""
        folder = session_folder(image)
        if not has_session(folder):
            return None
        try:
            saved = load_session(folder)
        except IfssError as err:
            self._on_status(f"saved session in {folder} cannot be read: {err}")
            return None
        if saved.image_shape != tuple(spatial_shape(image)) or saved.is_empty:
            return None
        return saved

    def restore(self, saved: SavedSession, prompts: Points, labels: Labels | None) -> str:
        """Put ``saved`` prompts into ``prompts`` and its labels into ``labels`` (one undo
        step; voxels the saved labels leave at 0 keep what they hold). Returns a summary."""
        n_points = len(saved.points)
        if n_points:
            prompts.data = np.empty((0, prompts.ndim))
            prompts.add(saved.points.reshape(n_points, prompts.ndim))
            prompts.features["positive"] = saved.positive.tolist()
            prompts.refresh_colors()
        restored = 0
        if labels is not None and saved.labels is not None:
            current = np.asarray(full_resolution(labels))
            if saved.labels.shape != current.shape:
                return f"saved labels have shape {saved.labels.shape}, layer {labels.name!r} " \
                       f"has {current.shape}: not restored"
            idx = np.nonzero((saved.labels != 0) & (saved.labels != current))
            restored = write_labels(labels, idx, saved.labels[idx])
            kept = {k: v for k, v in saved.metadata.items() if k in KEPT_METADATA}
            for key in RECORD_KEYS:  # JSON turned their int slice keys into strings
                if key in kept:
                    kept[key] = record_from_json(kept[key])
            if kept:
                labels.metadata = {**labels.metadata, **kept}
        return (f"restored {n_points} prompt{'s' * (n_points != 1)} and {restored} labelled "
                f"voxels saved {saved.saved_at}")
