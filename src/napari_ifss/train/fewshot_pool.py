"""Encoded training pool for the few-shot head: frozen-encoder features cached in RAM.

Every training slice is encoded once, exactly as :class:`FewShotSegmenter` does at inference
(one intensity window per volume / image, resize, pad, bf16 encoder), and kept as fp16
``deep (C, h, w)`` / ``low (C_low, 2h, 2w)`` features. Slices are organised in *groups* whose
members share object classes, so that support and query of an episode can come from the same
group:

* a volume (train z block only, ``split_of_slice``): members ordered by z; objects are label
  ids (the largest ``MAX_OBJECTS`` ids, plus all foreground when there are several ids);
* a set of 2D images of one modality (dsb2018 by image size and colour; each epfl_em class);
* synthetic cell volumes (``core.sample.make_synthetic_cells``).

Labels are stored at network resolution ``(4h, 4w)``, ``-1`` marking padding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.data.datasets import iter_2d, iter_3d, split_of_slice
from ..core.data.sample import make_synthetic_cells
from ..core.fewshot.fewshot import FewShotSegmenter, support_window
from ..core.fewshot.volume_io import sample_window
from ..core.normalize import IntensityWindow

MAX_OBJECTS = 8
MIN_OBJECT_PIXELS = 30
FG = -1  # object id meaning "all foreground"


@dataclass
class Group:
    """Slices sharing object classes. ``positions`` are z indices (None for 2D sets)."""

    name: str
    members: list[int] = field(default_factory=list)     # indices into the pool's features
    labels: list[np.ndarray] = field(default_factory=list)  # (H, W) int16, -1 = padding
    positions: list[int] | None = None
    objects: list[int] = field(default_factory=list)    # label ids, or FG

    def mask(self, i: int, obj: int) -> np.ndarray:
        """Bool mask ``(H, W)`` of object ``obj`` on member ``i``."""
        lab = self.labels[i]
        return lab > 0 if obj == FG else lab == obj


@dataclass
class Pool:
    """Encoded features and grey network inputs (fp16), and the groups over them."""

    deep: list[torch.Tensor] = field(default_factory=list)
    low: list[torch.Tensor] = field(default_factory=list)
    image: list[torch.Tensor] = field(default_factory=list)  # (1, H, W) grey network input
    groups: list[Group] = field(default_factory=list)

    def add_slice(self, seg: FewShotSegmenter, image: np.ndarray, window: IntensityWindow,
                  labels: np.ndarray) -> tuple[int, np.ndarray]:
        """Encode ``image`` under ``window``; returns its index and labels at network size."""
        seg.window = window
        enc = seg.encode(image)
        self.deep.append(enc.feats.deep[0].half())
        self.low.append(enc.feats.low[0].half())
        self.image.append(enc.grey[0].half())
        ph, pw = (s * 4 for s in enc.feats.deep.shape[-2:])
        lab = torch.from_numpy(labels.astype(np.float32))[None, None]
        lab = F.interpolate(lab, size=enc.net_size, mode="nearest")[0, 0].numpy()
        out = np.full((ph, pw), -1, np.int16)
        out[: enc.net_size[0], : enc.net_size[1]] = lab.astype(np.int16)
        return len(self.deep) - 1, out


def pick_objects(labels: np.ndarray) -> list[int]:
    """The largest ``MAX_OBJECTS`` ids (by voxel count), plus FG when there are several ids."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    keep = [int(i) for i, c in sorted(zip(ids, counts, strict=True), key=lambda t: -t[1])
            if c >= MIN_OBJECT_PIXELS][:MAX_OBJECTS]
    return keep + ([FG] if len(ids) > 1 else [])


def add_volume(pool: Pool, seg: FewShotSegmenter, name: str, image: np.ndarray,
               labels: np.ndarray, train_only: bool = True) -> None:
    """Encode the (train z block of the) volume ``(Z, Y, X)`` as one group."""
    depth = image.shape[0]
    zs = [z for z in range(depth) if not train_only or split_of_slice(z, depth) == "train"]
    window = sample_window(image)
    group = Group(name, positions=[])
    for z in zs:
        idx, lab = pool.add_slice(seg, image[z], window, labels[z])
        group.members.append(idx)
        group.labels.append(lab)
        group.positions.append(z)  # type: ignore[union-attr]
    group.objects = pick_objects(np.stack(group.labels))
    if group.objects:
        pool.groups.append(group)


def volume_objects(name: str, labels: np.ndarray) -> np.ndarray:
    """Training label map of a volume: isbi2012 keeps membranes (1) only."""
    if name.startswith("isbi2012"):
        return (labels == 1).astype(np.int32)
    return labels


def iter_2d_sets(root: Path, max_per_set: int) -> Iterator[
        tuple[str, list[np.ndarray], dict[str, list[np.ndarray]]]]:
    """Train-split 2D image sets of one modality: ``(name, images, {class: label maps})``.

    dsb2018 is grouped by image size and colour (one class, all nuclei); epfl_em is one set
    whose six classes each give a group."""
    dsb: dict[tuple, list] = {}
    epfl = []
    for item in iter_2d(root, datasets=["dsb2018", "epfl_em"]):
        if item.split != "train":
            continue
        if item.dataset == "epfl_em":
            if len(epfl) < max_per_set:
                epfl.append(item)
            continue
        image = item.load_image()
        key = (image.shape[:2], image.ndim == 3 and not _is_grey(image))
        if len(dsb.setdefault(key, [])) < max_per_set:
            dsb[key].append((image, (item.load_mask() > 0).astype(np.int32)))
    for key, pairs in sorted(dsb.items(), key=lambda kv: str(kv[0])):
        if len(pairs) >= 3:
            yield (f"dsb2018/{key[0][0]}x{key[0][1]}{'rgb' if key[1] else 'grey'}",
                   [p[0] for p in pairs], {"nuclei": [p[1] for p in pairs]})
    if len(epfl) >= 3:
        classes = sorted(set.intersection(*(set(it.mask_paths) for it in epfl)))
        yield ("epfl_em", [it.load_image() for it in epfl],
               {c: [(it.load_mask(c) > 0).astype(np.int32) for it in epfl] for c in classes})


def _like(reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``labels`` resized (nearest) into the layout of ``reference`` (network size, -1 pad)."""
    valid = reference >= 0
    h, w = int(valid.any(axis=1).sum()), int(valid.any(axis=0).sum())
    lab = torch.from_numpy(labels.astype(np.float32))[None, None]
    lab = F.interpolate(lab, size=(h, w), mode="nearest")[0, 0].numpy().astype(np.int16)
    out = np.full(reference.shape, -1, np.int16)
    out[:h, :w] = lab
    return out


def _usable(group: Group) -> bool:
    """At least two members show the object."""
    return sum(bool((lab > 0).sum() >= MIN_OBJECT_PIXELS) for lab in group.labels) >= 2


def _is_grey(image: np.ndarray) -> bool:
    rgb = image[..., :3].astype(np.int16)
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() < 3 and
                np.abs(rgb[..., 1] - rgb[..., 2]).max() < 3)


def build_pool(seg: FewShotSegmenter, root: Path | str | None, n_synthetic: int = 4,
               max_per_set: int = 12, seed: int = 0, log=print,
               synthetic_shape: tuple[int, int, int] = (20, 160, 160),
               exclude_volumes: tuple[str, ...] = ()) -> Pool:
    """Encode real training data under ``root`` (None: synthetic only) and ``n_synthetic``
    synthetic cell volumes of ``synthetic_shape``; the 3D datasets named in
    ``exclude_volumes`` are left out entirely (no slice of them, for leave-one-volume-out)."""
    pool = Pool()
    if root is not None and Path(root).is_dir():
        for vol in iter_3d(root):
            if vol.dataset in exclude_volumes:
                log(f"left out volume {vol.dataset}")
                continue
            image, labels, _ = vol.load()
            add_volume(pool, seg, vol.dataset, image, volume_objects(vol.dataset, labels))
            log(f"encoded volume {vol.dataset}: {len(pool.deep)} slices so far")
        for name, images, maps in iter_2d_sets(Path(root), max_per_set):
            window = support_window(images)
            groups = {c: Group(f"{name}/{c}", objects=[1]) for c in maps}
            for i, image in enumerate(images):
                first = next(iter(maps))
                idx, lab_n = pool.add_slice(seg, image, window, maps[first][i])
                for c, group in groups.items():
                    group.members.append(idx)
                    group.labels.append(lab_n if c == first else _like(lab_n, maps[c][i]))
            pool.groups.extend(g for g in groups.values() if _usable(g))
            log(f"encoded set {name}: {len(pool.deep)} slices so far")
    for i in range(n_synthetic):
        rng = np.random.default_rng(seed + i)
        n_cells = int(rng.integers(25, 60) * np.prod(synthetic_shape) / (20 * 160 * 160))
        image, labels = make_synthetic_cells(synthetic_shape, n_cells=max(3, n_cells),
                                             seed=seed + 1000 + i)
        add_volume(pool, seg, f"synthetic{i}", image, labels, train_only=False)
    log(f"pool: {len(pool.deep)} slices, {len(pool.groups)} groups")
    return pool
