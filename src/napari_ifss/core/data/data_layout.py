"""Which layout a data folder has: the ``../shared/data`` collection or one dataset folder.

Benchmarks accept four layouts (:func:`detect_layout`):

* ``collection``: ``2d/<dataset>/...`` and/or ``3d/<dataset>/...`` (see :mod:`.datasets`);
* ``dataset``: one 2D dataset folder, ``images/<id>.(png|jpg|tif)`` + ``masks/<id>.(png|tif)``
  with the same stem (a user's own folder, or a public benchmark such as GrabCut, Berkeley or
  DAVIS converted to that layout), or ``masks/<class>/<id>.png``;
* ``volume``: one folder holding ``image.*`` + ``labels.*``;
* ``datasets``: a folder whose sub-folders are ``dataset`` or ``volume`` folders.

The dataset name of a single folder is the folder's own name, so that a dataset folder of the
collection keeps the item split (:func:`~.datasets.split_of`) it has inside the collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InvalidInputError
from .datasets import Item2D, Volume, find_volume, iter_2d_dataset, iter_3d

LayoutKind = Literal["collection", "datasets", "dataset", "volume"]
LAYOUTS_HELP = (
    "  DIR/images/<id>.(png|jpg|tif) + DIR/masks/<id>.(png|tif)   one 2D dataset (same stem;\n"
    "      masks may also be DIR/masks/<class>/<id>.png, one binary mask per class)\n"
    "  DIR/image.(tif|nrrd|nii.gz) + DIR/labels.(same)            one 3D volume, z first\n"
    "  DIR/2d/<dataset>/... and/or DIR/3d/<dataset>/...           the ../shared/data layout\n"
    "  DIR/<dataset>/...                                          a folder of dataset folders"
)


@dataclass(frozen=True)
class DataLayout:
    """What a data folder holds, as found by :func:`detect_layout`.

    Attributes:
        kind: ``collection`` (``2d/`` + ``3d/`` of datasets, the ``../shared/data`` layout),
            ``datasets`` (a folder of dataset folders), ``dataset`` (one 2D dataset folder:
            ``images/`` + ``masks/``) or ``volume`` (one folder with ``image.*`` + ``labels.*``).
        root: the folder.
        shared: True if the folder is, or sits inside, the ``2d``/``3d`` layout (a collection,
            its ``2d``/``3d`` folder or one of their dataset folders): data of that layout is
            what models are trained on, so only its held-apart split is fair to score.
    """

    kind: LayoutKind
    root: Path
    shared: bool

    def _dataset_dirs(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_dir() and _is_dataset(p))

    def items(self, unmatched: list[Path] | None = None) -> Iterator[Item2D]:
        """All 2D items (sorted by dataset, then id); images without a mask go to
        ``unmatched`` when given."""
        if self.kind == "collection":
            base = self.root / "2d"
            dirs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        elif self.kind == "datasets":
            dirs = self._dataset_dirs()
        else:
            dirs = [self.root] if self.kind == "dataset" else []
        for ds_dir in dirs:
            yield from iter_2d_dataset(ds_dir, _folder_name(ds_dir), unmatched)

    def volumes(self) -> Iterator[Volume]:
        """All labeled volumes (sorted by dataset)."""
        if self.kind == "collection":
            yield from iter_3d(self.root)
            return
        dirs = self._dataset_dirs() if self.kind == "datasets" else [self.root]
        for ds_dir in dirs:
            volume = find_volume(ds_dir, _folder_name(ds_dir))
            if volume is not None:
                yield volume

    def describe(self) -> str:
        """One line for reports, e.g. ``one 2D dataset folder (images/ + masks/)``."""
        return {"collection": "the 2d/3d data layout of ../shared/data",
                "datasets": "a folder of dataset folders",
                "dataset": "one 2D dataset folder (images/ + masks/)",
                "volume": "one 3D volume folder (image.* + labels.*)"}[self.kind]


def _folder_name(path: Path) -> str:
    return path.resolve().name


def _is_dataset(path: Path) -> bool:
    return ((path / "images").is_dir() and (path / "masks").is_dir()) or \
        find_volume(path) is not None


def detect_layout(root: Path | str) -> DataLayout:
    """Which of the layouts of :class:`DataLayout` the folder ``root`` has.

    Raises:
        InvalidInputError: if ``root`` does not exist or is none of the layouts (the message
            lists them).
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"data folder {root} does not exist (pass --data DIR or set "
                                "IFSS_DATA)")
    in_shared = root.resolve().parent.name in ("2d", "3d")
    if (root / "2d").is_dir() or (root / "3d").is_dir():
        return DataLayout("collection", root, True)
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return DataLayout("dataset", root, in_shared)
    if find_volume(root) is not None:
        return DataLayout("volume", root, in_shared)
    if any(p.is_dir() and _is_dataset(p) for p in root.iterdir()):
        return DataLayout("datasets", root, _folder_name(root) in ("2d", "3d"))
    hint = ""
    if (root / "images").is_dir():
        hint = " It has images/ but no masks/: put one mask per image, same file stem, there."
    elif (root / "masks").is_dir():
        hint = " It has masks/ but no images/."
    raise InvalidInputError(
        f"no evaluation objects under {root}: it is none of the data layouts napari-ifss "
        f"reads.{hint} Expected one of:\n{LAYOUTS_HELP}")
