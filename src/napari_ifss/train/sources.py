"""Training samples: real labeled objects (train split only) and synthetic shapes.

Every real image becomes one or more *pools* entries: a normalised image ``(3, H, W)`` float32
and an ``(H, W)`` int32 object map (0 = background, one id per object). Objects are:

* dsb2018: nucleus instances; coco_mval: the object; epfl_em: connected components of the
  mitochondrion and axon masks;
* volume slices (``split_of_slice == "train"`` only): cells3d nuclei instances, isbi2012_em
  cells (components of label 0), radiomics lesions, totalseg organs, prostate-phantom labels.

Only ``split == "train"`` items are used; validation items are never loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.measure import label as cc_label

from ..core.data.datasets import iter_2d, iter_3d, split_of_slice
from ..core.encoding import prepare_slice
from .augment import crop_around, flip_rotate, intensity_jitter
from .synthetic import synthetic_sample

MIN_AREA = 16
EPFL_CLASSES = ("mitochondrion", "axon")


@dataclass
class LabeledImage:
    """One image ``(3, H, W)`` float16 in [0, 1] with its object map ``(H, W)`` int32 and object boxes."""

    dataset: str
    image: np.ndarray
    objects: np.ndarray
    boxes: dict[int, tuple[int, int, int, int]]


def _make(dataset: str, image: np.ndarray, objects: np.ndarray) -> LabeledImage | None:
    objects = objects.astype(np.int32, copy=False)
    ids = np.unique(objects)
    areas = ndimage.sum_labels(np.ones_like(objects), objects, ids)
    slices = ndimage.find_objects(objects)
    boxes = {}
    for i, area in zip(ids, areas, strict=True):
        if i == 0 or area < MIN_AREA or slices[i - 1] is None:
            continue
        sr, sc = slices[i - 1]
        boxes[int(i)] = (sr.start, sr.stop, sc.start, sc.stop)
    if not boxes:
        return None
    return LabeledImage(dataset, prepare_slice(image).astype(np.float16), objects, boxes)


def load_real_pool(root: Path | str, include_3d: bool = True) -> dict[str, list[LabeledImage]]:
    """All training-split labeled images under ``root`` grouped by source name."""
    pools: dict[str, list[LabeledImage]] = {}

    def add(group: str, entry: LabeledImage | None) -> None:
        if entry is not None:
            pools.setdefault(group, []).append(entry)

    for item in iter_2d(root):
        if item.split != "train":
            continue
        image = item.load_image()
        if item.dataset == "epfl_em":
            for cls in EPFL_CLASSES:
                if cls in item.mask_paths:
                    add("epfl_em", _make(item.dataset, image, cc_label(item.load_mask(cls) > 0)))
        elif item.dataset == "coco_mval":
            add("coco_mval", _make(item.dataset, image, item.load_mask() > 0))
        else:
            add(item.dataset, _make(item.dataset, image, item.load_mask()))
    if include_3d:
        for vol in iter_3d(root):
            image, labels, _ = vol.load()
            depth = image.shape[0]
            for z in range(depth):
                if split_of_slice(z, depth) != "train":
                    continue
                lab = labels[z]
                if vol.dataset.startswith("isbi2012"):
                    lab = cc_label(lab == 0, connectivity=1)
                elif vol.dataset.startswith("radiomics_b"):
                    lab = cc_label(lab > 0)
                add("volumes", _make(vol.dataset, image[z], lab))
    return pools


class SampleSource:
    """Draws ``(image (3, S, S), mask (S, S) bool)`` training samples from real pools and
    synthetic shapes with the given source ``weights`` (``"synthetic"`` is a source name)."""

    def __init__(self, pools: dict[str, list[LabeledImage]], weights: dict[str, float],
                 size: int, rng: np.random.Generator) -> None:
        self.pools = {k: v for k, v in pools.items() if v}
        names = [k for k in weights if k == "synthetic" or k in self.pools]
        if not names:
            raise ValueError("no training source available (no data and no synthetic weight)")
        w = np.array([weights[k] for k in names], dtype=float)
        self.names, self.probs = names, w / w.sum()
        self.size = size
        self.rng = rng
        self.min_fraction = 0.15  # smallest object side / crop side of real crops

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        for _ in range(20):
            name = self.names[rng.choice(len(self.names), p=self.probs)]
            if name == "synthetic":
                image, mask = synthetic_sample(self.size, rng)
            else:
                entry = self.pools[name][rng.integers(len(self.pools[name]))]
                ids = list(entry.boxes)
                oid = ids[rng.integers(len(ids))]
                image, mask = crop_around(entry.image, entry.objects == oid, entry.boxes[oid],
                                          self.size, rng, self.min_fraction)
            if mask.sum() >= 8:
                image, mask = flip_rotate(image, mask, rng)
                return intensity_jitter(image, rng), mask
        raise RuntimeError("could not draw a usable training sample in 20 tries")

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(images (n, 3, S, S) float32, masks (n, S, S) bool)``."""
        pairs = [self.sample() for _ in range(n)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
