"""Evaluation objects: single objects on 2D slices, drawn from a data folder's items.

A data folder in one of the layouts of :mod:`napari_ifss.core.data.data_layout` (``../shared/data``,
one ``images/`` + ``masks/`` folder, ...) is turned into objects grouped by *split* (a
benchmark group, not train/val):

* ``nuclei``: 2d/dsb2018 instances and 3d/cells3d_nuclei instances on val slices;
* ``natural``: 2d/coco_mval (the whole object mask of each image);
* ``em``: 2d/epfl_em connected components of the mitochondrion, axon and PSD masks, and
  3d/isbi2012_em cells (connected components of label 0) on val slices;
* ``mri_ct``: 3d/radiomics_* and 3d/totalseg_* connected components of each label on val slices;
* any other dataset: a split named after the dataset; a binary mask (one non-zero value) is
  one object, an instance map gives one object per id.

Which items: ``subset="val"`` (the default) uses held-apart items only, 2D items with
``split == "val"`` and volume slices with ``split_of_slice(z, depth) == "val"``; ``"train"``
the others and ``"all"`` every item. Mask pixels equal to ``ignore_value`` are neither object
nor background (see :mod:`.label_maps`): they are the object's ``ignore`` mask. Objects smaller
than ``min_area`` pixels or covering more than ``max_area_fraction`` of the slice are skipped.
At most ``per_image`` objects are drawn per image/slice and at most ``max_objects`` per split
(taken from the datasets in turn; None: no cap), all with a fixed seed, so that a run is
reproducible.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from ..core.data.data_layout import DataLayout, detect_layout
from ..core.data.datasets import Item2D, split_of_slice
from ..core.errors import InvalidInputError
from .label_maps import DEFAULT_IGNORE_VALUE, ignore_region, is_binary

Rule = Literal["instances", "whole", "components", "cells", "auto"]
Subset = Literal["val", "train", "all"]
log = logging.getLogger(__name__)

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
        ignore: boolean ``(H, W)`` mask of the slice's ignored pixels (shared between objects),
            or None when no pixel is ignored.
    """

    split: str
    dataset: str
    item_id: str
    label: str
    image: np.ndarray = field(repr=False, compare=False)
    bbox: tuple[int, int, int, int]
    crop: np.ndarray = field(repr=False, compare=False)
    ignore: np.ndarray | None = field(default=None, repr=False, compare=False)

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

    @classmethod
    def of_mask(cls, image: np.ndarray, mask: np.ndarray, *, split: str = "", dataset: str = "",
                item_id: str = "", label: str = "object", ignore: np.ndarray | None = None
                ) -> EvalObject:
        """The object ``mask`` (bool ``(H, W)``, non-empty) on ``image`` (``(H, W)`` or
        ``(H, W, 3)``), stored as its bounding box and crop.

        Raises:
            InvalidInputError: an empty mask.
        """
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise InvalidInputError("the object mask is empty")
        rows, cols = ndi.find_objects(mask.astype(np.uint8))[0]
        bbox = (rows.start, cols.start, rows.stop, cols.stop)
        return cls(split, dataset, item_id, label, image, bbox, mask[rows, cols].copy(), ignore)


@dataclass
class Tally:
    """What :func:`candidate_objects` looked at.

    Attributes:
        items: per split, the items (2D images or volume slices) of the chosen subset.
        candidates: per split, the candidate objects (after the ``per_image`` cap).
        unmatched: images without a mask of the same stem (skipped).
        notes: ``(dataset, note)`` -> number of masks, for masks whose ignore value was read as
            a label (see :mod:`.label_maps`).
    """

    items: Counter[str] = field(default_factory=Counter)
    candidates: Counter[str] = field(default_factory=Counter)
    unmatched: list[Path] = field(default_factory=list)
    notes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def note_lines(self) -> list[str]:
        """The notes as sentences, e.g. ``epfl_em: 27 mask(s) whose only ...``."""
        return [f"{ds}: {n} {note}" for (ds, note), n in sorted(self.notes.items())]


def split_of_dataset(dataset: str) -> str:
    """The benchmark split a dataset belongs to (its own name if not a known one)."""
    if dataset.startswith(("radiomics_", "totalseg")):
        return "mri_ct"
    return _SPLITS.get(dataset, dataset)


def rule_of_dataset(dataset: str) -> Rule:
    """How a dataset's label maps become objects (``auto`` for datasets not known here)."""
    if dataset in _RULES:
        return _RULES[dataset]
    if split_of_dataset(dataset) in ("em", "mri_ct"):
        return "components"
    return "auto"


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha1("/".join(map(str, parts)).encode()).digest()[:8], "little")


def object_masks(labels: np.ndarray, rule: Rule, ignore: np.ndarray | None = None
                 ) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, mask)`` for each candidate object of a label map ``(H, W)`` under ``rule``.

    Rules: ``whole`` (all non-zero pixels, one object), ``instances`` (one object per value),
    ``components`` (connected components of each value), ``cells`` (connected components of
    value 0), ``auto`` (``whole`` for a binary map, else ``instances``). Pixels of ``ignore``
    ``(H, W)`` belong to no object.
    """
    labels = np.asarray(labels)
    if rule == "cells":
        background = labels == 0 if ignore is None else (labels == 0) & ~ignore
        comps, n = ndi.label(background)
        for i in range(1, n + 1):
            yield f"cell#{i}", comps == i
        return
    if ignore is not None:
        labels = np.where(ignore, 0, labels)
    if rule == "auto":
        rule = "whole" if is_binary(labels) else "instances"
    if rule == "whole":
        yield "object", labels != 0
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
                      min_area: int, max_area_fraction: float, per_image: int | None,
                      seed: int, ignore_value: int | None, tally: Tally) -> list[EvalObject]:
    found = []
    if image.ndim == 3 and image.shape[-1] == 4:  # RGBA: drop alpha
        image = np.ascontiguousarray(image[..., :3])
    limit = max_area_fraction * image.shape[0] * image.shape[1]
    for prefix, labels in named_labels:
        if labels.shape != image.shape[:2]:
            where = f"{dataset}/{item_id}" + (f" ({prefix})" if prefix else "")
            raise InvalidInputError(
                f"{where}: mask shape {labels.shape} differs from the image's (height, width) "
                f"{image.shape[:2]}; a mask must have its image's height and width")
        ignore, note = ignore_region(labels, ignore_value)
        if note is not None:
            tally.notes[(dataset, note)] += 1
        for name, mask in object_masks(labels, rule, ignore):
            area = int(np.count_nonzero(mask))
            if area < min_area or area > limit:
                continue
            label = f"{prefix}:{name}" if prefix else name
            found.append(EvalObject.of_mask(image, mask, split=split, dataset=dataset,
                                            item_id=item_id, label=label, ignore=ignore))
    if per_image is not None and len(found) > per_image:
        rng = np.random.default_rng(_stable_seed(seed, dataset, item_id))
        keep = sorted(rng.choice(len(found), per_image, replace=False))
        found = [found[i] for i in keep]
    return found


def _item_labels(item: Item2D) -> list[tuple[str, np.ndarray]]:
    wanted = _CLASSES.get(item.dataset)
    return [(name, item.load_mask(name)) for name in sorted(item.mask_paths)
            if wanted is None or name in wanted]


def _in_subset(split: str, subset: Subset) -> bool:
    return subset == "all" or split == subset


def candidate_objects(
    root: Path | str | DataLayout, splits: Sequence[str] | None = None, min_area: int = 100,
    max_area_fraction: float = 0.9, per_image: int | None = 5, seed: int = 0,
    subset: Subset = "val", ignore_value: int | None = DEFAULT_IGNORE_VALUE,
    tally: Tally | None = None,
) -> dict[str, list[EvalObject]]:
    """All candidate objects (``per_image`` cap applied) by split, in a fixed order.

    ``root`` is a data folder (its layout detected) or a detected layout; ``tally``, if
    given, receives what was looked at (items per split, images without mask, notes).

    Raises:
        InvalidInputError: if ``root`` is not a data folder, or a mask's shape differs from
            its image's.
    """
    layout = root if isinstance(root, DataLayout) else detect_layout(root)
    tally = tally if tally is not None else Tally()
    out: dict[str, list[EvalObject]] = {}
    kw = dict(min_area=min_area, max_area_fraction=max_area_fraction, per_image=per_image,
              seed=seed, ignore_value=ignore_value, tally=tally)
    for item in layout.items(tally.unmatched):
        split = split_of_dataset(item.dataset)
        if (splits is not None and split not in splits) or not _in_subset(item.split, subset):
            continue
        tally.items[split] += 1
        out.setdefault(split, []).extend(_objects_on_slice(
            split, item.dataset, item.item_id, item.load_image(), _item_labels(item),
            rule_of_dataset(item.dataset), **kw))
    for volume in layout.volumes():
        split = split_of_dataset(volume.dataset)
        if splits is not None and split not in splits:
            continue
        image, labels, _ = volume.load()
        if labels.shape != image.shape[:3]:
            raise InvalidInputError(f"{volume.labels_path}: label volume shape {labels.shape} "
                                    f"differs from the image's {image.shape}")
        depth = image.shape[0]
        for z in range(depth):
            if not _in_subset(split_of_slice(z, depth), subset):
                continue
            tally.items[split] += 1
            out.setdefault(split, []).extend(_objects_on_slice(
                split, volume.dataset, f"z{z}", np.ascontiguousarray(image[z]),
                [("", labels[z])], rule_of_dataset(volume.dataset), **kw))
    for split, objs in out.items():
        tally.candidates[split] += len(objs)
    for line in tally.note_lines():
        log.info("%s", line)
    if tally.unmatched:
        log.warning("%d image(s) without a mask of the same stem were skipped, e.g. %s",
                    len(tally.unmatched), tally.unmatched[0])
    return out


def collect_objects(
    root: Path | str | DataLayout, splits: Sequence[str] | None = None,
    max_objects: int | None = 40, min_area: int = 100, max_area_fraction: float = 0.9,
    per_image: int | None = 5, seed: int = 0, subset: Subset = "val",
    ignore_value: int | None = DEFAULT_IGNORE_VALUE, tally: Tally | None = None,
) -> dict[str, list[EvalObject]]:
    """Evaluation objects by split: at most ``max_objects`` per split (None: all), drawn in
    turn from each dataset of the split (each dataset's candidates shuffled with a fixed seed).

    Splits with no object are left out of the result. Other arguments: see
    :func:`candidate_objects`.
    """
    candidates = candidate_objects(root, splits, min_area, max_area_fraction, per_image, seed,
                                   subset, ignore_value, tally)
    cap = max_objects if max_objects is not None else sum(map(len, candidates.values()))
    result: dict[str, list[EvalObject]] = {}
    for split in sorted(candidates):
        pools: dict[str, list[EvalObject]] = {}
        for obj in candidates[split]:
            pools.setdefault(obj.dataset, []).append(obj)
        for ds, pool in pools.items():
            order = np.random.default_rng(_stable_seed(seed, ds)).permutation(len(pool))
            pools[ds] = [pool[i] for i in order]
        chosen: list[EvalObject] = []
        while len(chosen) < cap and any(pools.values()):
            for ds in sorted(pools):
                if pools[ds] and len(chosen) < cap:
                    chosen.append(pools[ds].pop(0))
        if chosen:
            result[split] = chosen
    return result
