"""Which files a batch run reads: the inputs it is given, and each input's own labels.

Inputs (:func:`find_inputs`), each argument one of:

* a folder: every image file in it (``.tif``, ``.ome.tif``, ``.nii.gz``, ``.mha``, ``.mhd``,
  ``.nrrd``, ...) and every ``.zarr`` store, sorted by name, not recursive. Labels files
  (``<stem>_labels.*``), session folders (``*.ifss``) and hidden files are left out. A folder
  with no image in it but ``.dcm`` files is one DICOM series;
* a glob pattern (``data/**/*.tif``), filtered the same way;
* a list file ``*.txt``: one path per line (relative to the list file's folder; ``#``
  comments and blank lines ignored), each taken as it is;
* anything else: one input path, taken as it is (a missing one fails its own row).

Labels of an input in propagate mode (:func:`find_labels`): ``<stem><suffix><ext>`` (suffix
``_labels`` by default, any readable extension or ``.zarr``) in the labels folder, which is
the input's own folder unless another is given; else the session napari-ifss autosaved beside
the image (``<image>.ifss/``, :func:`~napari_ifss.core.interactive.session_store.session_folder_for`).
``<stem>`` is the input's name without its extension (``cells_01.ome.tif`` -> ``cells_01``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import InvalidInputError, ReadError
from ..io import READ_EXTENSIONS, extension_of

LIST_SUFFIX = ".txt"
SESSION_SUFFIX = ".ifss"
ZARR_SUFFIX = ".zarr"
IMAGE_EXTENSIONS: tuple[str, ...] = (
    *(e for e in READ_EXTENSIONS if e != ".dcm" and not e.endswith(ZARR_SUFFIX)), ZARR_SUFFIX)
MAX_LIST_BYTES = 16 * 2**20


def is_zarr(path: str | os.PathLike) -> bool:
    """True for a path named ``*.zarr``."""
    return os.fspath(path).lower().rstrip("/").endswith(ZARR_SUFFIX)


def input_stem(path: str | os.PathLike) -> str:
    """The input's name without its (possibly double) extension; a folder keeps its name
    (``.zarr`` stripped)."""
    p = Path(path)
    name = p.name
    if name.lower().endswith(ZARR_SUFFIX):
        return name[: -len(ZARR_SUFFIX)]
    ext = extension_of(p)
    if ext in READ_EXTENSIONS and name.lower().endswith(ext):
        return name[: -len(ext)]
    return name


def _is_image(path: Path, labels_suffix: str) -> bool:
    """An image file or zarr store that is not hidden, not a labels file, not a session."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(SESSION_SUFFIX):
        return False
    if not any(name.endswith(ext) for ext in IMAGE_EXTENSIONS):
        return False
    if name.endswith(ZARR_SUFFIX) != path.is_dir():
        return False
    return not input_stem(path).endswith(labels_suffix)


def _scan_folder(folder: Path, labels_suffix: str) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if _is_image(p, labels_suffix))
    if found:
        return found
    if any(p.suffix.lower() == ".dcm" for p in folder.iterdir()):
        return [folder]
    raise InvalidInputError(f"{folder}: no images in this folder (napari-ifss reads "
                            f"{', '.join(IMAGE_EXTENSIONS)} and DICOM series)")


def _read_list(path: Path) -> list[Path]:
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            raise ReadError(f"{path}: too large for a list of inputs")
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ReadError(f"{path}: cannot read the list of inputs ({err})") from err
    entries = [line.strip() for line in lines]
    return [path.parent / Path(e).expanduser() for e in entries if e and not e.startswith("#")]


def find_inputs(sources: Iterable[str | os.PathLike], labels_suffix: str = "_labels"
                ) -> list[Path]:
    """Every input named by ``sources`` (folders, globs, ``.txt`` lists, paths), in order,
    each once.

    Raises:
        InvalidInputError: nothing found, a folder without images, a glob matching nothing.
        ReadError: an unreadable list file.
    """
    found: list[Path] = []
    for source in sources:
        text = os.fspath(source)
        p = Path(text).expanduser()
        if p.is_dir() and not is_zarr(p):
            found += _scan_folder(p, labels_suffix)
        elif p.is_file() and p.suffix.lower() == LIST_SUFFIX:
            found += _read_list(p)
        elif glob.has_magic(text):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(text),
                                                         recursive=True))]
            matches = [m for m in matches if _is_image(m, labels_suffix)]
            if not matches:
                raise InvalidInputError(f"{text}: the pattern matches no image")
            found += matches
        else:
            found.append(p)
    unique = list(dict.fromkeys(Path(os.path.normpath(p)) for p in found))
    if not unique:
        raise InvalidInputError("no inputs: give folders, glob patterns, .txt lists or files")
    return unique


def output_names(inputs: Sequence[Path]) -> list[str]:
    """The output stem of each input (its :func:`input_stem`).

    Raises:
        InvalidInputError: two inputs with the same stem (their outputs would collide).
    """
    names = [input_stem(p) for p in inputs]
    seen: dict[str, Path] = {}
    for name, path in zip(names, inputs, strict=True):
        if name in seen:
            raise InvalidInputError(
                f"inputs {seen[name]} and {path} would both write outputs named {name!r}; "
                "rename one, or run them into different --out folders")
        seen[name] = path
    return names


def find_labels(image: Path, labels_dir: Path | None = None, suffix: str = "_labels") -> Path:
    """The annotated labels of ``image``: ``<labels_dir>/<stem><suffix>.<ext>``, else its
    autosaved session folder ``<image>.ifss``.

    Raises:
        InvalidInputError: none found (the message names where they were looked for), or
            several labels files for the same image.
    """
    from ..interactive.session_store import has_session, session_folder_for

    folder = labels_dir if labels_dir is not None else image.parent
    stem = input_stem(image) + suffix
    found = [folder / f"{stem}{ext}" for ext in IMAGE_EXTENSIONS
             if (folder / f"{stem}{ext}").exists()]
    if len(found) > 1:
        raise InvalidInputError(f"{image}: several labels files ({', '.join(p.name for p in found)}"
                                f") in {folder}; keep one")
    if found:
        return found[0]
    session = session_folder_for(image)
    if has_session(session):
        return session
    raise InvalidInputError(
        f"{image}: no annotated labels; expected {folder / (stem + '.tif')} (or .nii.gz, .mha, "
        f".nrrd, .zarr, ...) or a saved session {session}")
