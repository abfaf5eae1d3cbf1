"""Few-shot benchmark protocols: volumes (propagation) and 2D image sets, model vs baselines.

3D: for each object of a volume and each K, the K support slices are chosen by the fixed rule
(:func:`~napari_ifss.core.fewshot.support.evenly_spaced_slices` over the object's z-extent); the model
propagates from them, the baselines copy the nearest support mask / run the random forest
trained on them. Scores over every non-support slice: volume Dice, per-slice Dice, and the
volume Dice restricted to the held-out last z block (``split_of_slice == "val"``), which the
click encoder and the few-shot head never trained on (NaN where the object is absent there).

2D (:func:`run_2d_set`, both protocols): support images from the train split of a set
(:func:`sets_2d`: dsb2018 by size and colour, epfl_em per class), queries from its val split;
the LOVO protocol runs the per-volume learner there (slice-independent path) against the
random forest.

3D leave-one-volume-out (LOVO, :func:`run_lovo_case`): every method fitted only on the support
slices of the volume it segments (copy-nearest, the random forest, the per-volume learner of
:mod:`~napari_ifss.core.fewshot.volume_learner`); supports at quantiles ``i / (K + 1)`` of the object's
z-extent (:func:`quantile_slices`); Dice over every non-support slice of the volume and over the
non-support slices within the object's z-range +- 2. The shipped meta-learned head saw slices of
every development volume in training, so it appears only as :data:`HEAD_NOT_HELD_OUT`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.data.datasets import Item2D, iter_2d, split_of_slice
from ..core.fewshot.fewshot import FewShotSegmenter, support_window
from ..core.fewshot.propagation import propagate_volume
from ..core.fewshot.support import evenly_spaced_slices, object_slices
from ..core.fewshot.trunk_features import TrunkFeatures
from ..core.fewshot.volume_learner import LearnerConfig, SliceFeatures, VolumeLearner
from ..core.normalize import IntensityWindow
from .fewshot_baselines import ForestSegmenter, copy_nearest, filter_features
from .metrics import dice

METHODS = ("fewshot", "copy_nearest", "random_forest")
# The shipped meta-learned head was trained on slices of every development volume: in the LOVO
# protocol it is reported under this name only, never as a held-out number.
HEAD_NOT_HELD_OUT = "fewshot_head_NOT_held_out"
N_ORGANS = 5


def bench_objects(dataset: str, labels: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The objects scored in a volume: ``(name, bool mask (Z, Y, X))``.

    isbi2012: membranes (label 1); cells3d: all nuclei as foreground; totalseg: the
    ``N_ORGANS`` largest organs; any other volume: each id (the ``N_ORGANS`` largest if more)."""
    if dataset.startswith("isbi2012"):
        return [("membrane", labels == 1)]
    if dataset.startswith("cells3d"):
        return [("nuclei", labels > 0)]
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    order = [int(i) for i, _ in sorted(zip(ids, counts, strict=True), key=lambda t: -t[1])]
    return [(f"label{i}", labels == i) for i in order[:N_ORGANS]]


def ending_objects(dataset: str, labels: np.ndarray, n: int = 4, min_voxels: int = 500
                   ) -> list[tuple[str, np.ndarray]]:
    """Extra LOVO objects for the end rule: single label ids whose z-extent ends inside the
    volume at both ends (first and last slice free), with at least ``min_voxels``, the ``n``
    largest per volume (isbi2012 has none: its ids are classes, not objects)."""
    if dataset.startswith("isbi2012"):
        return []
    depth = labels.shape[0]
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    found = []
    for i, count in sorted(zip(ids.tolist(), counts.tolist(), strict=True), key=lambda t: -t[1]):
        zs = np.flatnonzero((labels == i).any(axis=(1, 2)))
        if count >= min_voxels and zs[0] > 0 and zs[-1] < depth - 1 and zs.size >= 3:
            found.append((f"label{i}", labels == i))
    return found[:n]


@dataclass
class VolumeContext:
    """One volume with its cached RF features and intensity window."""

    name: str
    image: np.ndarray
    window: IntensityWindow
    _features: dict[int, np.ndarray]

    def features(self, z: int) -> np.ndarray:
        if z not in self._features:
            self._features[z] = filter_features(self.image[z], self.window)
        return self._features[z]


def _scores(pred: np.ndarray, gt: np.ndarray, eval_z: list[int], extent: tuple[int, int]
            ) -> dict:
    depth = gt.shape[0]
    val_z = [z for z in eval_z if split_of_slice(z, depth) == "val"]
    in_ext = [z for z in eval_z if extent[0] <= z <= extent[1]]
    per_slice = [dice(pred[z], gt[z]) for z in eval_z]
    return {"dice_volume": dice(pred[eval_z], gt[eval_z]),
            "dice_slice_mean": float(np.mean([dice(pred[z], gt[z]) for z in in_ext]))
            if in_ext else float("nan"),
            "dice_val_block": dice(pred[val_z], gt[val_z]) if gt[val_z].any() else float("nan"),
            "dice_per_slice": per_slice}


def run_volume_case(ctx: VolumeContext, gt: np.ndarray, k: int, seg: FewShotSegmenter,
                    forest: Callable[[], ForestSegmenter]) -> dict | None:
    """All methods on one object with ``k`` support slices; scores and timings per method.
    None when no slice outside the support shows the object (nothing left to propagate to)."""
    present = object_slices(gt)
    sup = evenly_spaced_slices(present, k)
    if not set(present) - set(sup):
        return None
    eval_z = [z for z in range(gt.shape[0]) if z not in sup]
    extent = (present[0], present[-1])
    labels = np.zeros(gt.shape, np.int32)
    labels[sup] = gt[sup]
    result = {"support": sup, "n_eval": len(eval_z), "methods": {}}

    calls = seg.encoder_calls
    t = time.perf_counter()
    ours = propagate_volume(ctx.image, labels, 1, segmenter=seg, window=ctx.window,
                            cache_prefix=ctx.name) == 1
    result["methods"]["fewshot"] = {**_scores(ours, gt, eval_z, extent),
                                    "seconds": time.perf_counter() - t,
                                    "encoder_calls": seg.encoder_calls - calls}
    t = time.perf_counter()
    support = {z: gt[z] for z in sup}
    copy = np.stack([copy_nearest(support, z) for z in range(gt.shape[0])])
    result["methods"]["copy_nearest"] = {**_scores(copy, gt, eval_z, extent),
                                         "seconds": time.perf_counter() - t}
    t = time.perf_counter()
    rf = forest()
    rf.fit([ctx.features(z) for z in sup], [gt[z] for z in sup])
    pred = np.zeros_like(gt)
    for z in eval_z:
        pred[z] = rf.predict(ctx.features(z))
    result["methods"]["random_forest"] = {**_scores(pred, gt, eval_z, extent),
                                          "seconds": time.perf_counter() - t}
    return result


# ---------------------------------------------------------------------------------- 2D
def _is_colour(image: np.ndarray) -> bool:
    if image.ndim != 3:
        return False
    rgb = image[..., :3].astype(np.int16)
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() > 2 or
                np.abs(rgb[..., 1] - rgb[..., 2]).max() > 2)


def sets_2d(root: Path, max_queries: int, max_k: int) -> Iterator[tuple[str, list, list, str]]:
    """``(set name, support items, query items, class)``: dsb2018 grouped by image size and
    colour (class "" = all nuclei), epfl_em per class; supports from the train split (first
    by id), queries from the val split."""
    groups: dict[str, list[Item2D]] = {}
    for item in iter_2d(root, datasets=["dsb2018"]):
        image = item.load_image()
        key = f"dsb2018/{image.shape[0]}x{image.shape[1]}{'rgb' if _is_colour(image) else 'grey'}"
        groups.setdefault(key, []).append(item)
    for name, items in sorted(groups.items()):
        train = [i for i in items if i.split == "train"][:max_k]
        val = [i for i in items if i.split == "val"][:max_queries]
        if len(train) >= max_k and len(val) >= 2:
            yield name, train, val, ""
    epfl = list(iter_2d(root, datasets=["epfl_em"]))
    classes = sorted(set().union(*(set(i.mask_paths) for i in epfl))) if epfl else []
    for cls in classes:
        items = [i for i in epfl if cls in i.mask_paths]
        train = [i for i in items if i.split == "train"][:max_k]
        val = [i for i in items if i.split == "val"][:max_queries]
        if len(train) >= max_k and len(val) >= 1:
            yield f"epfl_em/{cls}", train, val, cls


def run_2d_set(support: list[Item2D], queries: list[Item2D], cls: str, k: int,
               seg: FewShotSegmenter | None, forest: Callable[[], ForestSegmenter],
               learners: Mapping[str, LearnerConfig] | None = None,
               trunk: TrunkFeatures | None = None) -> dict:
    """Cross-image few-shot on one 2D set: every method fitted on the first ``k`` support
    images only, mean Dice over the queries (nothing is tuned on them: the intensity window
    comes from the supports too).

    Methods: the meta-learned head ``seg`` (``fewshot``, when given), the random forest on
    filter features (``random_forest``) and each per-volume learner design of ``learners``
    (named by its key), fitted on the support images through
    :class:`~napari_ifss.core.fewshot.learner_segmenter.LearnerSegmenter` and queried without z
    position or neighbour mask (its slice-independent path, no prior), sharing ``trunk``.

    Returns:
        ``{method: mean Dice, f"{method}_per_image": [Dice per query], "n_queries",
        "queries": [query ids]}``.
    """
    from ..core.fewshot.learner_segmenter import LearnerSegmenter

    s_img = [it.load_image() for it in support[:k]]
    s_msk = [it.load_mask(cls) > 0 for it in support[:k]]
    window = support_window(s_img)
    models: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if seg is not None:
        seg.set_support(s_img, s_msk, window=window)
        models["fewshot"] = lambda img: seg.predict(img) > 0.5
    rf = forest()
    rf.fit([filter_features(im, window) for im in s_img], s_msk)
    models["random_forest"] = lambda img: rf.predict(filter_features(img, window))
    for name, cfg in (learners or {}).items():
        learner = LearnerSegmenter(cfg, trunk=trunk)
        learner.set_support(s_img, s_msk, window=window)
        models[name] = (lambda ls: lambda img: ls.predict(img) > ls.cfg.threshold)(learner)
    scores: dict[str, list[float]] = {name: [] for name in models}
    for it in queries:
        img, gt = it.load_image(), it.load_mask(cls) > 0
        for name, predict in models.items():
            scores[name].append(dice(predict(img), gt))
        if trunk is not None:
            trunk.clear()
    out: dict = {"n_queries": len(queries), "queries": [it.item_id for it in queries]}
    for name, values in scores.items():
        out[name] = float(np.mean(values))
        out[f"{name}_per_image"] = values
    return out


# ------------------------------------------------------------ 3D, leave-one-volume-out
def quantile_slices(present: list[int], k: int) -> list[int]:
    """The LOVO support rule: slices at quantiles ``i / (k + 1)``, ``i = 1..k``, of the
    object's z-extent ``[z0, z1]`` (``round(z0 + i (z1 - z0) / (k + 1))``), each moved to the
    nearest free slice that shows the object (lower z on ties); ``min(k, len(present))``."""
    zs = np.unique(np.asarray(present, dtype=int))
    if zs.size == 0:
        raise ValueError("the object occurs on no slice")
    z0, z1 = int(zs[0]), int(zs[-1])
    chosen: list[int] = []
    for i in range(1, min(k, zs.size) + 1):
        target = int(np.floor(z0 + i * (z1 - z0) / (k + 1) + 0.5))
        free = zs[~np.isin(zs, chosen)]
        chosen.append(int(free[np.argmin(np.abs(free - target))]))
    return sorted(chosen)


@dataclass
class LovoContext:
    """One volume in the LOVO protocol: RF features, learner features, spacing (z, y, x)."""

    volume: VolumeContext
    learner_features: SliceFeatures
    spacing: tuple[float, float, float]


def lovo_scores(pred: np.ndarray, gt: np.ndarray, eval_z: list[int], extent: tuple[int, int],
                pad: int = 2) -> dict:
    """Dice over all ``eval_z`` and over those within the object's z-range +- ``pad``."""
    near = [z for z in eval_z if extent[0] - pad <= z <= extent[1] + pad]
    return {"dice_volume": dice(pred[eval_z], gt[eval_z]),
            "dice_zrange": dice(pred[near], gt[near]),
            "empty_outside": float(np.mean([not pred[z].any() for z in eval_z
                                            if not gt[z].any()]))
            if any(not gt[z].any() for z in eval_z) else float("nan")}


def run_lovo_case(ctx: LovoContext, gt: np.ndarray, k: int,
                  learners: Mapping[str, LearnerConfig],
                  forest: Callable[[], ForestSegmenter],
                  head: FewShotSegmenter | None = None,
                  head_label: str | None = None) -> dict | None:
    """Copy-nearest, the random forest, each learner design (and the meta-learned head when
    given, named ``head_label``, default :data:`HEAD_NOT_HELD_OUT`) on one object with ``k``
    quantile supports; None when every slice that shows the object is a support."""
    present = object_slices(gt)
    sup = quantile_slices(present, k)
    if not set(present) - set(sup):
        return None
    depth = gt.shape[0]
    eval_z = [z for z in range(depth) if z not in sup]
    extent = (present[0], present[-1])
    support = {z: gt[z] for z in sup}
    out: dict = {"support": sup, "n_eval": len(eval_z), "extent": list(extent), "methods": {}}

    def record(name: str, pred: np.ndarray, t0: float) -> None:
        out["methods"][name] = {**lovo_scores(pred, gt, eval_z, extent),
                                "seconds": time.perf_counter() - t0}

    t = time.perf_counter()
    record("copy_nearest", np.stack([copy_nearest(support, z) for z in range(depth)]), t)
    t = time.perf_counter()
    rf = forest()
    rf.fit([ctx.volume.features(z) for z in sup], [gt[z] for z in sup])
    pred = np.zeros_like(gt)
    for z in eval_z:
        pred[z] = rf.predict(ctx.volume.features(z))
    record("random_forest", pred, t)
    for name, cfg in learners.items():
        t = time.perf_counter()
        learner = VolumeLearner(ctx.learner_features, cfg, ctx.spacing)
        record(name, learner.segment(support, depth), t)
    if head is not None:
        labels = np.zeros(gt.shape, np.int32)
        labels[sup] = gt[sup]
        t = time.perf_counter()
        pred = propagate_volume(ctx.volume.image, labels, 1, segmenter=head,
                                window=ctx.volume.window, cache_prefix=ctx.volume.name) == 1
        record(head_label or HEAD_NOT_HELD_OUT, pred, t)
    return out
