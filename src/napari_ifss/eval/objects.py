"""Evaluation objects: single objects on 2D slices, drawn from a data folder's val items.

A data folder laid out like ``../shared/data`` (see :mod:`napari_ifss.core.datasets`) is
turned into objects grouped by *split* (a benchmark group, not train/val):

* ``nuclei``: 2d/dsb2018 instances and 3d/cells3d_nuclei instances on val slices;
* ``natural``: 2d/coco_mval (the whole object mask of each image);
* ``em``: 2d/epfl_em connected components of the mitochondrion, axon and PSD masks, and
  3d/isbi2012_em cells (connected components of label 0) on val slices;
* ``mri_ct``: 3d/radiomics_* and 3d/totalseg_* connected components of each label on val slices;
* any other dataset: a split named after the dataset, objects = connected components of each
  non-zero label (4-connectivity).

Only held-apart items are used: 2D items with ``split == "val"`` and volume slices with
``split_of_slice(z, depth) == "val"``. Objects smaller than ``min_area`` pixels or covering more
than ``max_area_fraction`` of the slice are skipped. At most ``per_image`` objects are drawn
per image/slice and at most ``max_objects`` per split (taken from the datasets in turn), all with
a fixed seed, so that a run is reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from ..core.datasets import Item2D, iter_2d, iter_3d, split_of_slice

Rule = Literal["instances", "whole", "components", "cells"]

_SPLITS = {"dsb2018": "nuclei", "cells3d_nuclei": "nuclei", "coco_mval": "natural",
           "epfl_em": "em", "isbi2012_em": "em"}
_RULES: dict[str, Rule] = {"dsb2018": "instances", "cells3d_nuclei": "instances",
                           "coco_mval": "whole", "isbi2012_em": "cells"}
_CLASSES = {"epfl_em": ("PSD", "axon", "mitochondrion")}


@dataclass(frozen=True)
class EvalObject:
    """One object to segment on one 2D slice.

    Attributes:
        split: benchmark group (``nuclei``, ``natural``, ``em``, ``mri_ct`` or a dataset name).
        dataset: dataset folder name.
        item_id: 2D item id, or ``z<index>`` for a volume slice.
        label: which object: ``"<class>:<label value>#<component>"`` style, unique per item.
        image: the slice ``(H, W)`` or ``(H, W, 3)`` as stored (shared between objects).
        bbox: ``(row0, col0, row1, col1)`` of the object (end exclusive).
        crop: boolean mask of the object inside ``bbox``.
    """

    split: str
    dataset: str
    item_id: str
    label: str
    image: np.ndarray = field(repr=False, compare=False)
    bbox: tuple[int, int, int, int]
    crop: np.ndarray = field(repr=False, compare=False)

    @property
    def uid(self) -> str:
        return f"{self.dataset}/{self.item_id}/{self.label}"

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.crop))

    @property
    def mask(self) -> np.ndarray:
        """The full-size boolean object mask ``(H, W)``."""
        full = np.zeros(self.shape, dtype=bool)
        r0, c0, r1, c1 = self.bbox
        full[r0:r1, c0:c1] = self.crop
        return full


def split_of_dataset(dataset: str) -> str:
    """The benchmark split a dataset belongs to (its own name if not a known one)."""
    if dataset.startswith(("radiomics_", "totalseg")):
        return "mri_ct"
    return _SPLITS.get(dataset, dataset)


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha1("/".join(map(str, parts)).encode()).digest()[:8], "little")


def object_masks(labels: np.ndarray, rule: Rule) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, mask)`` for each candidate object of a label map ``(H, W)`` under ``rule``."""
    labels = np.asarray(labels)
    if rule == "whole":
        yield "object", labels != 0
        return
    if rule == "cells":
        comps, n = ndi.label(labels == 0)
        for i in range(1, n + 1):
            yield f"cell#{i}", comps == i
        return
    for value in np.unique(labels):
        if value == 0:
            continue
        if rule == "instances":
            yield f"{value}", labels == value
            continue
        comps, n = ndi.label(labels == value)
        for i in range(1, n + 1):
            yield f"{value}#{i}", comps == i


def _objects_on_slice(split: str, dataset: str, item_id: str, image: np.ndarray,
                      named_labels: Sequence[tuple[str, np.ndarray]], rule: Rule,
                      min_area: int, max_area_fraction: float,
                      per_image: int, seed: int) -> list[EvalObject]:
    found = []
    limit = max_area_fraction * image.shape[0] * image.shape[1]
    for prefix, labels in named_labels:
        for name, mask in object_masks(labels, rule):
            area = int(np.count_nonzero(mask))
            if area < min_area or area > limit:
                continue
            rows, cols = ndi.find_objects(mask.astype(np.uint8))[0]
            bbox = (rows.start, cols.start, rows.stop, cols.stop)
            label = f"{prefix}:{name}" if prefix else name
            found.append(EvalObject(split, dataset, item_id, label, image, bbox,
                                    mask[rows, cols].copy()))
    if len(found) > per_image:
        rng = np.random.default_rng(_stable_seed(seed, dataset, item_id))
        keep = sorted(rng.choice(len(found), per_image, replace=False))
        found = [found[i] for i in keep]
    return found


def _item_labels(item: Item2D) -> list[tuple[str, np.ndarray]]:
    wanted = _CLASSES.get(item.dataset)
    return [(name, item.load_mask(name)) for name in sorted(item.mask_paths)
            if wanted is None or name in wanted]


def candidate_objects(
    root: Path | str, splits: Sequence[str] | None = None, min_area: int = 100,
    max_area_fraction: float = 0.9, per_image: int = 5, seed: int = 0,
) -> dict[str, list[EvalObject]]:
    """All candidate objects (``per_image`` cap applied) by split, in a fixed order."""
    out: dict[str, list[EvalObject]] = {}
    kw = dict(min_area=min_area, max_area_fraction=max_area_fraction, per_image=per_image,
              seed=seed)
    for item in iter_2d(root):
        split = split_of_dataset(item.dataset)
        if (splits is not None and split not in splits) or item.split != "val":
            continue
        rule = _RULES.get(item.dataset, "components")
        out.setdefault(split, []).extend(_objects_on_slice(
            split, item.dataset, item.item_id, item.load_image(), _item_labels(item), rule, **kw))
    for volume in iter_3d(root):
        split = split_of_dataset(volume.dataset)
        if splits is not None and split not in splits:
            continue
        image, labels, _ = volume.load()
        rule = _RULES.get(volume.dataset, "components")
        depth = image.shape[0]
        for z in range(depth):
            if split_of_slice(z, depth) != "val":
                continue
            out.setdefault(split, []).extend(_objects_on_slice(
                split, volume.dataset, f"z{z}", np.ascontiguousarray(image[z]),
                [("", labels[z])], rule, **kw))
    return out


def collect_objects(
    root: Path | str, splits: Sequence[str] | None = None, max_objects: int = 40,
    min_area: int = 100, max_area_fraction: float = 0.9, per_image: int = 5, seed: int = 0,
) -> dict[str, list[EvalObject]]:
    """Evaluation objects by split: at most ``max_objects`` per split, drawn in turn from each
    dataset of the split (each dataset's candidates shuffled with a fixed seed).

    Splits with no object are left out of the result.
    """
    candidates = candidate_objects(root, splits, min_area, max_area_fraction, per_image, seed)
    result: dict[str, list[EvalObject]] = {}
    for split in sorted(candidates):
        pools: dict[str, list[EvalObject]] = {}
        for obj in candidates[split]:
            pools.setdefault(obj.dataset, []).append(obj)
        for ds, pool in pools.items():
            order = np.random.default_rng(_stable_seed(seed, ds)).permutation(len(pool))
            pools[ds] = [pool[i] for i in order]
        chosen: list[EvalObject] = []
        while len(chosen) < max_objects and any(pools.values()):
            for ds in sorted(pools):
                if pools[ds] and len(chosen) < max_objects:
                    chosen.append(pools[ds].pop(0))
        if chosen:
            result[split] = chosen
    return result
