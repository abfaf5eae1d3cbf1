"""Detect truncated NIfTI files, which ITK reads without complaint (missing voxels become 0)."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

from ..errors import ReadError

_CHUNK = 1 << 22


def check_nifti_complete(path: Path) -> None:
    """Raise :class:`ReadError` when ``path`` (.nii or .nii.gz, NIfTI-1) holds fewer bytes than
    its header promises, or its gzip stream is cut short. NIfTI-2 headers are not checked."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            header = fh.read(348)
            if len(header) < 348:
                raise ReadError(f"{path}: file is truncated (incomplete NIfTI header)")
            order = "<" if struct.unpack("<i", header[:4])[0] == 348 else ">"
            if struct.unpack(f"{order}i", header[:4])[0] != 348:
                return  # NIfTI-2 or not NIfTI: ITK's own checks apply
            dims = struct.unpack(f"{order}8h", header[40:56])
            bitpix = struct.unpack(f"{order}h", header[72:74])[0]
            vox_offset = struct.unpack(f"{order}f", header[108:112])[0]
            if not math.isfinite(vox_offset) or vox_offset < 0:
                raise ReadError(f"{path}: damaged NIfTI header (voxel offset {vox_offset})")
            n_dims = max(1, min(int(dims[0]), 7))
            expected = (int(vox_offset)
                        + math.prod(max(d, 1) for d in dims[1:n_dims + 1]) * bitpix // 8)
            size = 348
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        if isinstance(exc, ReadError):
            raise
        raise ReadError(f"{path}: file is truncated or corrupt ({exc})") from exc
    if size < expected:
        raise ReadError(f"{path}: file is truncated ({size} of {expected} bytes)")
