"""Enumerate labeled data laid out like ``../shared/data`` (used by training and benchmarks).

Layout of ``../shared/data`` (a *collection*)::

    2d/<dataset>/images/<id>.(png|jpg|tif)     image (grey or RGB)
    2d/<dataset>/masks/<id>.(tif|png)          label map (instance ids or binary 0/1)
    2d/<dataset>/masks/<class>/<id>.png        one binary mask per class (e.g. epfl_em)
    3d/<dataset>/image.(tif|nrrd|nii.gz|...)   volume, z first
    3d/<dataset>/labels.(...)                  label volume, same shape

The split into training and held-apart evaluation items is a fixed hash of
``(dataset, item id)`` so that every tool agrees on it without a list on disk. For 3D volumes
slices are split by z block instead (:func:`split_of_slice`): the last fifth of each volume's
slices is held apart, so that evaluation slices are not the near-copies of training slices that
random neighbours would be.

:mod:`.data_layout` also accepts one dataset folder on its own and a folder of dataset folders.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Split = Literal["train", "val"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VOLUME_NAMES = ("image.tif", "image.tiff", "image.nrrd", "image.nii.gz", "image.nii",
                "image.mha", "image.mhd")
# Share of items held apart for evaluation/model selection.
VAL_FRACTION = 0.2


def default_data_dir() -> Path:
    """``$IFSS_DATA`` if set, else ``../shared/data`` relative to the working directory."""
    return Path(os.environ.get("IFSS_DATA", "../shared/data"))


def split_of(dataset: str, item_id: str, val_fraction: float = VAL_FRACTION) -> Split:
    """Deterministic train/val assignment of one item (stable across runs and machines)."""
    digest = hashlib.sha1(f"{dataset}/{item_id}".encode()).digest()
    return "val" if digest[0] / 256.0 < val_fraction else "train"


def split_of_slice(z: int, depth: int, val_fraction: float = VAL_FRACTION) -> Split:
    """Train/val assignment of slice ``z`` of a volume with ``depth`` slices (last block held apart)."""
    first_val = depth - max(1, int(round(depth * val_fraction)))
    return "val" if z >= first_val else "train"


@dataclass(frozen=True)
class Item2D:
    """One labeled 2D image. ``mask_paths`` maps a class name ("" for a single label map)
    to the mask file."""

    dataset: str
    item_id: str
    image_path: Path
    mask_paths: dict[str, Path] = field(hash=False)

    @property
    def split(self) -> Split:
        return split_of(self.dataset, self.item_id)

    def load_image(self) -> np.ndarray:
        """``(H, W)`` or ``(H, W, 3)`` array as stored."""
        return read_array(self.image_path)

    def load_mask(self, class_name: str = "") -> np.ndarray:
        """``(H, W)`` integer label map (instance ids, or 0/1 for binary masks)."""
        return read_mask(self.mask_paths[class_name])


@dataclass(frozen=True)
class Volume:
    """One labeled 3D volume ``(Z, Y, X)`` with its label volume."""

    dataset: str
    image_path: Path
    labels_path: Path

    def load(self) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
        """``(image, labels, spacing_zyx)``; spacing is 1.0 where the file has none."""
        image, spacing = read_volume(self.image_path)
        labels, _ = read_volume(self.labels_path)
        return image, labels.astype(np.int32, copy=False), spacing


def dataset_dirs(root: Path | str | None, kind: str, datasets: list[str] | None = None
                 ) -> Iterator[Path]:
    """The dataset folders under ``root/<kind>`` (``kind`` "2d" or "3d"), sorted by name;
    only ``datasets`` when given; nothing when the folder is missing."""
    base = Path(root if root is not None else default_data_dir()) / kind
    if not base.is_dir():
        return
    for ds_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        if datasets is None or ds_dir.name in datasets:
            yield ds_dir


def iter_2d(root: Path | str | None = None, datasets: list[str] | None = None) -> Iterator[Item2D]:
    """All 2D items under ``root/2d`` (sorted), optionally only ``datasets``."""
    for ds_dir in dataset_dirs(root, "2d", datasets):
        yield from iter_2d_dataset(ds_dir)


def iter_2d_dataset(ds_dir: Path, dataset: str | None = None,
                    unmatched: list[Path] | None = None) -> Iterator[Item2D]:
    """The items of one 2D dataset folder ``ds_dir`` (``images/`` + ``masks/``), sorted.

    Args:
        ds_dir: the dataset folder.
        dataset: the dataset name recorded in the items (default: the folder's name).
        unmatched: if given, images without a mask of the same stem are appended to it.
    """
    name = dataset if dataset is not None else ds_dir.name
    masks_dir = ds_dir / "masks"
    class_dirs = sorted(p for p in masks_dir.iterdir() if p.is_dir()) if masks_dir.is_dir() else []
    if not (ds_dir / "images").is_dir():
        return
    for img in sorted((ds_dir / "images").iterdir()):
        if img.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = img.stem
        masks: dict[str, Path] = {}
        if class_dirs:
            for cdir in class_dirs:
                found = _find_stem(cdir, stem)
                if found is not None:
                    masks[cdir.name] = found
        else:
            found = _find_stem(masks_dir, stem)
            if found is not None:
                masks[""] = found
        if masks:
            yield Item2D(name, stem, img, masks)
        elif unmatched is not None:
            unmatched.append(img)


def iter_3d(root: Path | str | None = None, datasets: list[str] | None = None) -> Iterator[Volume]:
    """All labeled volumes under ``root/3d`` (sorted)."""
    for ds_dir in dataset_dirs(root, "3d", datasets):
        volume = find_volume(ds_dir)
        if volume is not None:
            yield volume


def find_volume(ds_dir: Path, dataset: str | None = None) -> Volume | None:
    """The volume of a 3D dataset folder (``image.*`` + ``labels.*``), or None if it has none."""
    image = next((ds_dir / n for n in VOLUME_NAMES if (ds_dir / n).is_file()), None)
    if image is None:
        return None
    labels = next((ds_dir / n.replace("image", "labels") for n in VOLUME_NAMES
                   if (ds_dir / n.replace("image", "labels")).is_file()), None)
    if labels is None:
        return None
    return Volume(dataset if dataset is not None else ds_dir.name, image, labels)


def _find_stem(folder: Path, stem: str) -> Path | None:
    for suffix in (".tif", ".tiff", ".png", ".jpg"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_array(path: Path) -> np.ndarray:
    """Read a 2D image/mask file as stored (tifffile for TIFF, scikit-image otherwise)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    from skimage.io import imread

    return imread(path)


def read_mask(path: Path) -> np.ndarray:
    """A 2D mask file as an ``(H, W)`` label map: palette PNGs (e.g. DAVIS) give their palette
    indices, RGB(A) masks their first channel."""
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as img:
            if img.mode == "P":
                return np.asarray(img)
    mask = read_array(path)
    if mask.ndim == 3:  # RGB-encoded binary masks
        mask = mask[..., 0]
    return mask


def read_volume(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A volume ``(Z, Y, X)`` and its spacing in the same order."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path), (1.0, 1.0, 1.0)
    import SimpleITK as sitk

    from ..coords import itk_to_array_order

    img = sitk.ReadImage(str(path))
    spacing = itk_to_array_order(img.GetSpacing())
    return sitk.GetArrayFromImage(img), spacing  # type: ignore[return-value]
