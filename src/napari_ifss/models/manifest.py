"""sha256 checksums of the shipped weights (``models/weights/SHA256SUMS``).

The manifest has the format of ``sha256sum`` (``<hex>  <name>`` per line), so
``sha256sum -c SHA256SUMS`` checks an installation by hand too. A file in the shipped folder that
the manifest lists is compared with it every time it is loaded; any other path is not.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..core.errors import InvalidInputError

MANIFEST = "SHA256SUMS"


class DamagedInstallationError(InvalidInputError):
    """A shipped weights file does not match the checksum napari-ifss was released with."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str | os.PathLike) -> dict[str, str] | None:
    """``{file name: sha256}`` of ``folder/SHA256SUMS``; None if there is no manifest."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, _, name = line.strip().partition(" ")
            entries[name.strip().lstrip("*")] = digest.lower()
    return entries


def update_manifest(folder: str | os.PathLike, names: list[str]) -> Path:
    """Record the current sha256 of ``folder/<name>`` for each of ``names`` (other entries whose
    files still exist are kept); returns the manifest path."""
    folder = Path(folder)
    entries = {k: v for k, v in (read_manifest(folder) or {}).items() if (folder / k).is_file()}
    entries.update({name: file_sha256(folder / name) for name in names})
    path = folder / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text("".join(f"{entries[k]}  {k}\n" for k in sorted(entries)), encoding="utf-8")
    os.replace(tmp, path)
    return path


def verify_shipped(path: str | os.PathLike, shipped_dir: str | os.PathLike) -> None:
    """If ``path`` is a file of ``shipped_dir`` listed in its manifest, check its sha256.

    Raises:
        DamagedInstallationError: if the checksum differs, or the manifest is missing.
    """
    path, shipped_dir = Path(path).resolve(), Path(shipped_dir).resolve()
    if path.parent != shipped_dir:
        return
    manifest = read_manifest(shipped_dir)
    if manifest is None:
        raise DamagedInstallationError(
            f"{path}: the checksum list {shipped_dir / MANIFEST} of the shipped weights is "
            "missing, so they cannot be verified; the napari-ifss installation is damaged: "
            "reinstall napari-ifss")
    expected = manifest.get(path.name)
    if expected is not None and file_sha256(path) != expected:
        raise DamagedInstallationError(
            f"{path} does not match the checksum napari-ifss was shipped with; the installation "
            "is damaged (or the file was replaced): reinstall napari-ifss")
