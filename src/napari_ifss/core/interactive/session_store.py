"""Save and restore a segmentation session: prompts, committed labels, and facts about them.

A session is a folder (by convention next to the image, ``<image>.ifss/``) holding:

* ``session.json``: format name and version, the time of saving, the image's name and shape,
  the probability threshold, the clicks per slice key (headless :class:`InteractiveSession`),
  the GUI's point prompts in data coordinates with their polarity, and free JSON metadata
  (e.g. which slices propagation filled, JFS scores).
* ``labels.tif``: the committed labels (zlib-compressed TIFF), when there are any.

Every file is written to a temporary name and moved into place
(:func:`~napari_ifss.core.io.atomic.atomic_write`), so a crash while saving leaves the previous
save intact. Loading trusts nothing in the folder (:mod:`.session_record`). Nothing here needs napari::

    save_session("stack.ifss", session=s, labels=labels, image_name="stack",
                 image_shape=stack.shape)
    saved = load_session("stack.ifss")
    s2 = InteractiveSession()
    restore_clicks(s2, saved, lambda key: stack[key])   # clicks replayed, masks recomputed
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..errors import IfssError, InvalidInputError, ReadError, WriteError
from ..io.atomic import atomic_write
from ..io.guards import check_size
from ..io.tiff import check_complete
from . import session_record as rec
from .prompts import Click
from .session import InteractiveSession

FORMAT = "napari-ifss-session"
VERSION = 1
SESSION_FILE = "session.json"
LABELS_FILE = "labels.tif"


@dataclass(frozen=True)
class SavedSlice:
    """One slice's clicks: its session key (ints, strings, tuples of them) and clicks in order."""

    key: Hashable
    clicks: tuple[Click, ...]


@dataclass(frozen=True)
class SavedSession:
    """A session read back from disk.

    Attributes:
        slices: per-key clicks of a headless session.
        points: ``(N, D)`` float prompt positions in data coordinates (e.g. ``(z, row, col)``).
        positive: ``(N,)`` bool polarity of ``points``.
        labels: the committed labels, or None when none were saved.
        image_name, image_shape: the image the session belongs to.
        threshold: object probability threshold.
        saved_at: ISO 8601 time of saving (UTC).
        metadata: free JSON data saved with the session.
    """

    slices: tuple[SavedSlice, ...] = ()
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    positive: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    labels: np.ndarray | None = None
    image_name: str = ""
    image_shape: tuple[int, ...] = ()
    threshold: float = 0.5
    saved_at: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def click_count(self) -> int:
        """All clicks and point prompts saved."""
        return sum(len(s.clicks) for s in self.slices) + len(self.points)

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to restore: no prompt and no labelled voxel."""
        return self.click_count == 0 and (self.labels is None or not np.any(self.labels))


def _key_to_json(key: Hashable) -> Any:
    if isinstance(key, bool) or key is None:
        raise InvalidInputError(f"session key {key!r} cannot be saved (use ints or strings)")
    if isinstance(key, int | np.integer):
        return int(key)
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return [_key_to_json(k) for k in key]
    raise InvalidInputError(f"session key {key!r} of type {type(key).__name__} cannot be saved; "
                            "use ints, strings or tuples of them")


def save_session(folder: str | os.PathLike, *, session: InteractiveSession | None = None,
                 labels: np.ndarray | None = None, points: np.ndarray | None = None,
                 positive: Sequence[bool] | None = None, image_name: str = "",
                 image_shape: Sequence[int] = (), metadata: Mapping[str, Any] | None = None,
                 keep_labels: bool = False) -> Path:
    """Save prompts and labels to ``folder`` (created if needed); returns the folder.

    Args:
        session: a headless session; every key with clicks is saved.
        labels: integer labels to keep (any shape), or None.
        points, positive: GUI prompts, ``(N, D)`` data coordinates and ``(N,)`` polarity.
        image_name, image_shape: the image the session belongs to (checked on restore).
        metadata: JSON-serialisable extras.
        keep_labels: with ``labels=None``, keep labels saved earlier in ``folder`` (default:
            remove them, so the folder holds exactly this session).

    Raises:
        InvalidInputError: unsaveable keys, float labels, mismatched points/polarity,
            metadata that is not JSON.
        WriteError: the folder or a file cannot be written.
    """
    slices = []
    if session is not None:
        for key in session.keys():
            snap = session.snapshot(key)
            slices.append({"key": _key_to_json(key),
                           "clicks": [[c.row, c.col, c.positive] for c in snap.clicks]})
    pts = np.zeros((0, 0)) if points is None else np.asarray(points, dtype=float)
    pos = np.ones(len(pts), bool) if positive is None else np.asarray(positive, dtype=bool)
    if pts.ndim != 2 or len(pos) != len(pts):
        raise InvalidInputError(f"points must be (N, D) with N polarities; got {pts.shape} "
                                f"and {len(pos)}")
    if labels is not None and not np.issubdtype(np.asarray(labels).dtype, np.integer):
        raise InvalidInputError(f"labels must have an integer dtype, got {labels.dtype}")
    threshold = session.threshold if session is not None else 0.5
    kept = labels is None and keep_labels and (Path(folder) / LABELS_FILE).is_file()
    record = {
        "format": FORMAT, "version": VERSION,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "image": {"name": image_name, "shape": [int(s) for s in image_shape]},
        "threshold": threshold, "slices": slices,
        "points": pts.tolist(), "positive": pos.tolist(),
        "has_labels": labels is not None or kept, "metadata": dict(metadata or {}),
    }
    try:
        text = json.dumps(record, indent=1)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"session metadata is not JSON-serialisable: {err}") from err
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(f"cannot create session folder {out}: {err}") from err
    if labels is not None:
        arr = np.asarray(labels)
        atomic_write(out / LABELS_FILE, lambda p: tifffile.imwrite(
            p, arr, compression="zlib", photometric="minisblack"))
    atomic_write(out / SESSION_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    if labels is None and not kept:
        (out / LABELS_FILE).unlink(missing_ok=True)
    return out


def has_session(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a saved session."""
    return (Path(folder) / SESSION_FILE).is_file()


def load_session(folder: str | os.PathLike) -> SavedSession:
    """Read a session saved by :func:`save_session`.

    Nothing in the folder is trusted (see :mod:`.session_record`): every entry is checked,
    ``session.json`` and ``labels.tif`` must be files in ``folder`` (not links out of it), and
    the labels must be integer and fit in memory.

    Raises:
        ReadError: no session there, a damaged or foreign file, a newer format version, an
            entry of the wrong type or range, a file that links outside the folder.
    """
    path = Path(folder) / SESSION_FILE
    if not path.is_file():
        raise ReadError(f"no saved session in {folder} ({SESSION_FILE} missing)")
    _check_inside(path, folder)
    record = rec.read_json(path)
    if record.get("format") != FORMAT:
        raise ReadError(f"{path} is not a napari-ifss session file")
    if rec.version(record, path) > VERSION:
        raise ReadError(f"{path} was saved by a newer napari-ifss (format version "
                        f"{record['version']} > {VERSION})")
    rec.check_keys(record, path)
    where = f"{SESSION_FILE}:"
    try:
        slices = tuple(
            SavedSlice(rec.key(rec.typed(s, dict, f"{where} slice {i}").get("key"),
                               f"{where} slice {i} key"),
                       rec.clicks(s.get("clicks"), f"{where} slice {i} clicks"))
            for i, s in enumerate(rec.typed(record.get("slices", []), list, f"{where} slices")))
        pts, pos = rec.points(record.get("points", []), record.get("positive", []), where)
        name, shape = rec.image(record.get("image", {}), f"{where} image")
        threshold = rec.number(record.get("threshold", 0.5), f"{where} threshold", 0.0, 1.0)
        saved_at = rec.typed(record.get("saved_at", ""), str, f"{where} saved_at")
        metadata = rec.metadata(record.get("metadata", {}), f"{where} metadata")
        has_labels = rec.typed(record.get("has_labels", False), bool, f"{where} has_labels")
    except ReadError as err:
        raise ReadError(f"{folder}: saved session is damaged: {err}") from None
    labels = _read_labels(Path(folder)) if has_labels else None
    points = np.asarray(pts, dtype=float) if pts else np.zeros((0, 0))
    return SavedSession(slices, points, np.asarray(pos, dtype=bool), labels, name, shape,
                        threshold, saved_at, metadata)


def _check_inside(path: Path, folder: str | os.PathLike) -> None:
    """Refuse ``path`` when it is a link that leads out of ``folder``."""
    if path.resolve().parent != Path(folder).resolve():
        raise ReadError(f"{path} links to {path.resolve()}, outside the session folder; "
                        "a session's files must lie in its folder")


def _read_labels(folder: Path) -> np.ndarray:
    """The session's integer labels (checked for type and size before they are read)."""
    path = folder / LABELS_FILE
    if not path.is_file():
        raise ReadError(f"{folder}: saved session is incomplete or damaged: {LABELS_FILE} "
                        "is missing")
    _check_inside(path, folder)
    try:
        with tifffile.TiffFile(path) as tf:
            check_complete(tf, path)
            series = tf.series[0]
            dtype = np.dtype(series.dtype)
            if dtype.kind not in "iu":
                raise ReadError(f"{path} holds {dtype} values, not integer labels")
            check_size(series.shape, dtype.itemsize, str(path))
            return series.asarray()
    except IfssError:
        raise
    except Exception as err:  # tifffile raises many types for corrupt input
        raise ReadError(f"{folder}: saved session is incomplete or damaged: {err}") from err


def restore_clicks(session: InteractiveSession, saved: SavedSession,
                   image_of: Callable[[Hashable], np.ndarray]) -> int:
    """Replay the saved clicks into ``session``; returns how many clicks were replayed.

    Masks are recomputed by ``session``'s model (so a restored session reflects the current
    weights). ``image_of(key)`` returns the ``(H, W)`` slice for a saved key.
    """
    session.threshold = saved.threshold
    n = 0
    for saved_slice in saved.slices:
        session.set_image(image_of(saved_slice.key), key=saved_slice.key)
        session.set_clicks(saved_slice.clicks)
        n += len(saved_slice.clicks)
    return n


def session_folder_for(image_path: str | os.PathLike) -> Path:
    """The conventional session folder of an image file: ``<image path>.ifss`` beside it."""
    p = Path(image_path)
    return p.with_name(p.name + ".ifss")
