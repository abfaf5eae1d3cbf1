"""Write files so that a reader sees either the old file or the complete new one, never half.

:func:`atomic_write` lets a writer fill a private temporary folder beside the target (same file
system, created with :func:`tempfile.mkdtemp`, so no other process and no planted symlink can
interfere) under the target's own name, which keeps extensions that pick the format
(``.nii.gz``) and the names that headers refer to (a ``.mhd`` header names its ``.zraw``).
Then every file it wrote is moved into place with :func:`os.replace`, the target last. When the
writer fails, nothing is moved and the temporary folder is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import IfssError, WriteError


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> list[Path]:
    """Run ``write(tmp)`` with a temporary path of the same name, then move its files to
    ``path``'s folder.

    Args:
        path: the file to create or replace.
        write: writes the file at the path it is given (and may write companion files beside
            it, e.g. a MetaImage pixel file); its return value is ignored.

    Returns:
        The files now in place: ``path``, then its companions (moved before it).

    Raises:
        WriteError: the folder does not exist, ``path`` is a folder, or writing/moving failed
            (OSError); no new file is left behind.
        IfssError: whatever ``write`` raised for bad input, with nothing left behind.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise WriteError(f"{target}: folder {folder} does not exist")
    if target.is_dir():
        raise WriteError(f"{target} is a folder; give a file name")
    try:
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder))
    except OSError as err:
        raise WriteError(f"cannot write in {folder}: {err}") from err
    try:
        write(tmp_dir / target.name)
        written = sorted(tmp_dir.iterdir(), key=lambda f: (f.name == target.name, f.name))
        if not written or written[-1].name != target.name:
            raise WriteError(f"{target}: the writer produced no file")
        for f in written:
            os.replace(f, folder / f.name)
        return [target, *(folder / f.name for f in written[:-1])]
    except IfssError:
        raise
    except OSError as err:
        raise WriteError(f"could not write {target}: {err}") from err
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
