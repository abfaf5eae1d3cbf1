"""Save and restore a segmentation session: prompts, committed labels, and facts about them.

A session is a folder (by convention next to the image, ``<image>.ifss/``) holding:

* ``session.json``: format name and version, the time of saving, the image's name and shape,
  the probability threshold, the clicks per slice key (headless :class:`InteractiveSession`),
  the GUI's point prompts in data coordinates with their polarity, and free JSON metadata
  (e.g. which slices propagation filled, JFS scores).
* ``labels.tif``: the committed labels (zlib-compressed TIFF), when there are any.

Every file is written to a temporary name and moved into place (``os.replace``), so a crash
while saving leaves the previous save intact. Nothing here needs napari::

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

from .errors import InvalidInputError, ReadError, WriteError
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


def _key_from_json(value: Any) -> Hashable:
    return tuple(_key_from_json(v) for v in value) if isinstance(value, list) else value


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"could not write {path}: {err}") from err


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
        _atomic_write(out / LABELS_FILE, lambda p: tifffile.imwrite(
            p, arr, compression="zlib", photometric="minisblack"))
    _atomic_write(out / SESSION_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    if labels is None and not kept:
        (out / LABELS_FILE).unlink(missing_ok=True)
    return out


def has_session(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a saved session."""
    return (Path(folder) / SESSION_FILE).is_file()


def load_session(folder: str | os.PathLike) -> SavedSession:
    """Read a session saved by :func:`save_session`.

    Raises:
        ReadError: no session there, a damaged or foreign file, a newer format version.
    """
    path = Path(folder) / SESSION_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReadError(f"no saved session in {folder} ({SESSION_FILE} missing)") from None
    except (OSError, ValueError) as err:
        raise ReadError(f"{path} is damaged: {err}") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ReadError(f"{path} is not a napari-ifss session file")
    if int(record.get("version", 0)) > VERSION:
        raise ReadError(f"{path} was saved by a newer napari-ifss (format version "
                        f"{record['version']} > {VERSION})")
    try:
        slices = tuple(SavedSlice(_key_from_json(s["key"]),
                                  tuple(Click(float(r), float(c), bool(p))
                                        for r, c, p in s["clicks"]))
                       for s in record["slices"])
        points = np.asarray(record["points"], dtype=float)
        points = points.reshape(len(points), -1) if len(points) else np.zeros((0, 0))
        positive = np.asarray(record["positive"], dtype=bool)
        image = record["image"]
        labels = None
        if record.get("has_labels"):
            labels = tifffile.imread(Path(folder) / LABELS_FILE)
        return SavedSession(slices, points, positive, labels, str(image["name"]),
                            tuple(int(s) for s in image["shape"]), float(record["threshold"]),
                            str(record["saved_at"]), dict(record.get("metadata", {})))
    except (KeyError, TypeError, ValueError, OSError, tifffile.TiffFileError) as err:
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
