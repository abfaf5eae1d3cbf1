"""Validation of a saved session's ``session.json`` (format version 1), entry by entry.

The file may come from anywhere (a colleague, a download), so nothing in it is trusted: every
entry must have the type and range that :func:`~napari_ifss.core.interactive.session_store.save_session`
writes, numbers must be finite and of sensible size, and entries the format does not have are
refused rather than ignored (a crafted ``"labels_file": "../../etc/passwd"`` is never
followed: the format has no paths, and the labels file always has one fixed name inside the
session folder). Every problem is a :class:`~napari_ifss.core.errors.ReadError` that names the
entry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from ..errors import IfssError, ReadError
from .prompts import Click

MAX_JSON_BYTES = 64 * 2**20
MAX_KEY_DEPTH = 4
MAX_COORDINATE = 2.0**53  # no image has more voxels along an axis
MAX_SIDE = 2**40
KEYS = frozenset({"format", "version", "saved_at", "image", "threshold", "slices", "points",
                  "positive", "has_labels", "metadata"})


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (at most :data:`MAX_JSON_BYTES`; no NaN/Infinity).

    Raises:
        ReadError: too large, not JSON, too deeply nested, not an object.
    """
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ReadError(f"{path} is {size} bytes, too large for a session file "
                            f"(at most {MAX_JSON_BYTES})")
        text = path.read_text(encoding="utf-8")
        record = json.loads(text, parse_constant=_no_constant)
    except IfssError:
        raise
    except (OSError, ValueError) as err:
        raise ReadError(f"{path} is damaged: {err}") from err
    except RecursionError:
        raise ReadError(f"{path} is damaged: nested too deeply") from None
    if not isinstance(record, dict):
        raise ReadError(f"{path} is not a napari-ifss session file")
    return record


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a session holds")


def check_keys(record: dict[str, Any], path: Path) -> None:
    """Refuse entries the format does not have, and missing ones (every version-1 file
    has all of :data:`KEYS`).

    Raises:
        ReadError: naming them.
    """
    extra = sorted(set(record) - KEYS, key=str)
    if extra:
        raise ReadError(f"{path}: unexpected entries {', '.join(map(repr, extra))}; this is not "
                        "a session file napari-ifss wrote (nothing in it was used)")
    missing = sorted(KEYS - set(record))
    if missing:
        raise ReadError(f"{path}: entries {', '.join(map(repr, missing))} are missing; the "
                        "session file is incomplete or damaged")


def version(record: dict[str, Any], path: Path) -> int:
    """The format version, a whole number >= 1.

    Raises:
        ReadError: missing or not a whole number.
    """
    value = record.get("version")
    if not _is_int(value) or value < 1:
        raise ReadError(f"{path}: format version {value!r} is not a whole number >= 1")
    return int(value)


def number(value: Any, what: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """A finite JSON number in ``[lo, hi]`` (not a bool).

    Raises:
        ReadError: anything else.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and isinstance(value, int):
        ok = abs(value) <= 2**63
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        raise ReadError(f"{what} is {_short(value)}, not a number in [{lo}, {hi}]")
    return float(value)


def whole(value: Any, what: str, lo: int, hi: int) -> int:
    """A JSON whole number in ``[lo, hi]``.

    Raises:
        ReadError: anything else.
    """
    if not _is_int(value) or not lo <= value <= hi:
        raise ReadError(f"{what} is {_short(value)}, not a whole number in [{lo}, {hi}]")
    return int(value)


def typed(value: Any, kind: type, what: str) -> Any:
    """``value`` when it is exactly a ``kind`` (JSON gives exact types: a bool is no int).

    Raises:
        ReadError: naming the expected type.
    """
    if type(value) is not kind:
        raise ReadError(f"{what} is {_short(value)}, not a {kind.__name__}")
    return value


def key(value: Any, what: str, depth: int = 0) -> Hashable:
    """A session key: a whole number, a string, or a (short) list of keys -> tuple.

    Raises:
        ReadError: other types, or lists nested more than :data:`MAX_KEY_DEPTH` deep.
    """
    if isinstance(value, str):
        return value
    if _is_int(value) and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list) and depth < MAX_KEY_DEPTH and len(value) <= 16:
        return tuple(key(v, what, depth + 1) for v in value)
    raise ReadError(f"{what} is {_short(value)}; a key is a whole number, a string or a short "
                    "list of them")


def clicks(value: Any, what: str) -> tuple[Click, ...]:
    """``[[row, col, positive], ...]`` -> clicks with finite coordinates.

    Raises:
        ReadError: any other structure.
    """
    out = []
    for i, item in enumerate(typed(value, list, what)):
        if not isinstance(item, list) or len(item) != 3:
            raise ReadError(f"{what}[{i}] is {_short(item)}, not [row, col, positive]")
        row = number(item[0], f"{what}[{i}] row", -MAX_COORDINATE, MAX_COORDINATE)
        col = number(item[1], f"{what}[{i}] col", -MAX_COORDINATE, MAX_COORDINATE)
        out.append(Click(row, col, typed(item[2], bool, f"{what}[{i}] polarity")))
    return tuple(out)


def points(value: Any, positive: Any, what: str) -> tuple[list[list[float]], list[bool]]:
    """Point prompts ``(N, D)`` (D <= 4, finite) and their ``N`` polarities.

    Raises:
        ReadError: ragged rows, non-numbers, counts that differ.
    """
    rows = typed(value, list, f"{what} points")
    pos = typed(positive, list, f"{what} positive")
    dims = {len(r) if isinstance(r, list) else -1 for r in rows}
    if len(dims) > 1 or dims - set(range(1, 5)):
        raise ReadError(f"{what} points must be rows of 1 to 4 coordinates of one length")
    if len(pos) != len(rows):
        raise ReadError(f"{what}: {len(rows)} points but {len(pos)} polarities")
    pts = [[number(v, f"{what} point {i}", -MAX_COORDINATE, MAX_COORDINATE) for v in r]
           for i, r in enumerate(rows)]
    return pts, [typed(p, bool, f"{what} polarity {i}") for i, p in enumerate(pos)]


def image(value: Any, what: str) -> tuple[str, tuple[int, ...]]:
    """``{"name": str, "shape": [int, ...]}`` -> ``(name, shape)``.

    Raises:
        ReadError: other types, more than 5 axes, negative or absurd sides.
    """
    entry = typed(value, dict, what)
    name = typed(entry.get("name", ""), str, f"{what} name")
    shape = typed(entry.get("shape", []), list, f"{what} shape")
    if len(shape) > 5:
        raise ReadError(f"{what} shape has {len(shape)} axes")
    return name, tuple(whole(s, f"{what} shape", 0, MAX_SIDE) for s in shape)


def metadata(value: Any, what: str) -> dict[str, Any]:
    """Free JSON metadata; the entries napari-ifss itself reads back (the propagation record,
    the quality scores) must have their format.

    Raises:
        ReadError: not an object, or a malformed known entry.
    """
    from ..provenance import RECORD_KEY
    from ..quality.quality_store import QUALITY_KEY, from_metadata

    meta = typed(value, dict, what)
    record = meta.get(RECORD_KEY)
    if record is not None:
        ok = isinstance(record, dict) and all(
            _is_whole_text(z) and isinstance(states, list)
            and all(isinstance(s, str) for s in states) for z, states in record.items())
        if not ok:
            raise ReadError(f"{what} {RECORD_KEY!r} is not a map of slice index -> checksums")
    try:
        from_metadata(meta.get(QUALITY_KEY))
    except IfssError as err:
        raise ReadError(f"{what} {QUALITY_KEY!r}: {err}") from err
    return meta


def _is_whole_text(value: str) -> bool:
    return value.isascii() and value.lstrip("-").isdigit() and len(value) < 19


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
