"""Checks of the text headers of MetaImage (``.mha``/``.mhd``) and NRRD files.

Both formats may keep their pixels in another file that the header names
(``ElementDataFile = ...``, ``data file: ...``), by any path: a crafted header could make
napari-ifss read ``/etc/passwd`` or a file list as pixels. Only a file beside the header (not a
link out of its folder), or the header file itself, is accepted.

ITK also reads a compressed MetaImage whose stream holds fewer bytes than ``DimSize`` claims
without complaint (the rest is garbage); :func:`check_metaimage_complete` refuses it.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ReadError

MAX_HEADER_BYTES = 1 << 20
_CHUNK = 1 << 20
_METAIMAGE_DATA = "elementdatafile"
_NRRD_DATA = ("data file", "datafile")


@dataclass(frozen=True)
class TextHeader:
    """The fields of a text header (keys lower case, first occurrence wins), the values of
    every field that names a data file, and the byte offset where the header ends."""

    fields: dict[str, str]
    data_files: tuple[str, ...]
    end: int


def read_metaimage_header(path: Path) -> TextHeader:
    """Parse a MetaImage header up to its ``ElementDataFile`` line (the last header field).

    Raises:
        ReadError: unreadable, or no ``ElementDataFile`` in the first MiB.
    """
    head = _head(path)
    fields: dict[str, str] = {}
    offset = 0
    for raw in head.split(b"\n"):
        offset += len(raw) + 1
        key, sep, value = raw.decode("latin-1").partition("=")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        fields.setdefault(key, value)
        if key == _METAIMAGE_DATA:
            return TextHeader(fields, (value,), min(offset, len(head)))
    raise ReadError(f"{path}: not a MetaImage file (no ElementDataFile line in its header)")


def read_nrrd_header(path: Path) -> TextHeader:
    """Parse a NRRD header (the lines up to the first blank line or the end of the file).

    Raises:
        ReadError: unreadable, no ``NRRD`` magic, or a header longer than a MiB.
    """
    head = _head(path)
    if not head.startswith(b"NRRD"):
        raise ReadError(f"{path}: not a NRRD file (it does not start with 'NRRD')")
    fields: dict[str, str] = {}
    data_files: list[str] = []
    offset = 0
    for raw in head.split(b"\n"):
        offset += len(raw) + 1
        line = raw.decode("latin-1").rstrip("\r")
        if not line:
            return TextHeader(fields, tuple(data_files), offset)
        key, sep, value = line.partition(":")
        if not sep or line.startswith("#") or value.startswith("="):  # comments, key:=value
            continue
        key, value = key.strip().lower(), value.strip()
        fields.setdefault(key, value)
        if key in _NRRD_DATA:
            data_files.append(value)
    if len(head) == MAX_HEADER_BYTES:
        raise ReadError(f"{path}: NRRD header longer than {MAX_HEADER_BYTES} bytes")
    return TextHeader(fields, tuple(data_files), len(head))


def check_data_files(path: Path, header: TextHeader, local_ok: bool = False) -> None:
    """Refuse data files that are not plain files beside the header (``local_ok``: the
    MetaImage keyword ``LOCAL``, pixels in the header file itself, is fine).

    Raises:
        ReadError: a file list, a numbered pattern, a path with folders (``../x``, ``/x``), or a
            link that leads out of the header's folder.
    """
    for name in header.data_files:
        if local_ok and name.upper() == "LOCAL":
            continue
        if (not name or name in (".", "..") or "/" in name or "\\" in name or "%" in name
                or os.path.isabs(name) or name.upper().startswith("LIST")
                or (len(name) > 1 and name[1] == ":")):
            raise ReadError(f"{path}: its header names the pixel file {name!r}; napari-ifss only "
                            "reads pixel data kept in one file beside the header (same folder)")
        target = path.parent / name
        if not target.is_file():
            raise ReadError(f"{path}: the pixel file {name!r} its header names is missing")
        if target.resolve().parent != path.parent.resolve():
            raise ReadError(f"{path}: the pixel file {name!r} is a link to {target.resolve()}, "
                            "outside the header's folder; copy the data beside the header")


def check_metaimage_complete(path: Path, header: TextHeader, expected: int) -> None:
    """Refuse a compressed MetaImage whose stream inflates to fewer than ``expected`` bytes.

    Raises:
        ReadError: the stream is cut short or corrupt.
    """
    if header.fields.get("compresseddata", "").lower() != "true" or "headersize" in header.fields:
        return  # uncompressed data: ITK checks the length itself
    name = header.data_files[0]
    local = name.upper() == "LOCAL"
    source, start = (path, header.end) if local else (path.parent / name, 0)
    inflater = zlib.decompressobj(wbits=47)  # zlib or gzip stream, as MetaIO accepts
    total = 0
    try:
        with open(source, "rb") as fh:
            fh.seek(start)
            pending = b""
            while total < expected and not inflater.eof:
                pending = pending or fh.read(_CHUNK)
                if not pending:
                    break
                total += len(inflater.decompress(pending, _CHUNK))
                pending = inflater.unconsumed_tail
    except (OSError, zlib.error) as exc:
        raise ReadError(f"{path}: compressed pixel data is corrupt ({exc})") from exc
    if total < expected:
        raise ReadError(f"{path}: file is truncated, or its header claims more pixels than it "
                        f"holds ({total} of {expected} bytes after decompression)")


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_HEADER_BYTES)
    except OSError as exc:
        raise ReadError(f"{path}: could not read ({exc})") from exc
