"""Speed and memory measurements of few-shot propagation (part of ``ifss bench fewshot``).

* :func:`speed_256`: encoder ms per 256x256 slice, propagation slices/s with cached features
  (the head alone) and end to end, and the random forest's seconds per slice, all in one run.
* :func:`dask_memory`: peak resident memory of propagating a lazily generated dask stack of
  256x256 slices, for several depths, each in a fresh process (events consumed, no output
  volume kept): it should not grow with the depth.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..core.data.sample import make_synthetic_cells
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.propagation import propagate_volume
from ..core.fewshot.support import evenly_spaced_slices, object_slices
from ..core.fewshot.volume_io import sample_window
from .fewshot_baselines import ForestSegmenter, filter_features

SIDE = 256


def speed_256(seg: FewShotSegmenter, forest: Callable[[], ForestSegmenter],
              depth: int = 24) -> dict:
    """Timings on a synthetic ``(depth, 256, 256)`` cell stack with 2 support slices."""
    image, cells = make_synthetic_cells((depth, SIDE, SIDE), n_cells=80, seed=7)
    gt = cells > 0
    sup = evenly_spaced_slices(object_slices(gt), 2)
    labels = np.zeros(gt.shape, np.int32)
    labels[sup] = gt[sup]
    window = sample_window(image)
    n_pred = depth - len(sup)
    seg.clear_cache()
    seg.window = window
    t = time.perf_counter()
    for z in range(depth):
        seg.encode(image[z], key=("speed", z))
    enc_ms = 1000 * (time.perf_counter() - t) / depth
    t = time.perf_counter()
    propagate_volume(image, labels, 1, segmenter=seg, window=window, cache_prefix="speed")
    cached_s = time.perf_counter() - t
    seg.clear_cache()
    t = time.perf_counter()
    propagate_volume(image, labels, 1, segmenter=seg, window=window)
    full_s = time.perf_counter() - t
    rf = forest()
    rf.fit([filter_features(image[z], window) for z in sup], [gt[z] for z in sup])
    t = time.perf_counter()
    for z in range(3):
        rf.predict(filter_features(image[z], window))
    rf_s = (time.perf_counter() - t) / 3
    return {"slice_shape": [SIDE, SIDE], "depth": depth, "predicted_slices": n_pred,
            "encoder_ms_per_slice": enc_ms,
            "propagation_slices_per_s_cached": n_pred / cached_s,
            "propagation_slices_per_s_end_to_end": n_pred / full_s,
            "random_forest_s_per_slice": rf_s}


def synthetic_slice(z: int, depth: int) -> np.ndarray:
    """Slice ``z`` of a synthetic stack: a bright disk whose radius varies with z, plus noise."""
    rr, cc = np.mgrid[0:SIDE, 0:SIDE]
    radius = 40 + 30 * np.sin(np.pi * (z + 0.5) / depth)
    disk = np.hypot(rr - SIDE / 2, cc - SIDE / 2) < radius
    noise = np.random.default_rng(z).normal(0, 20, (SIDE, SIDE))
    return np.clip(60 + 120 * disk + noise, 0, 255).astype(np.uint8)


def _labels_slice(z: int, depth: int) -> np.ndarray:
    if z != depth // 2:
        return np.zeros((SIDE, SIDE), np.int32)
    return (synthetic_slice(z, depth) > 150).astype(np.int32)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` (reset by exec, so a spawned
    child does not inherit its parent's peak), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lazy_stack(fn, depth: int, dtype) -> object:
    import dask
    import dask.array as da

    return da.stack([da.from_delayed(dask.delayed(fn)(z, depth), (SIDE, SIDE), dtype=dtype)
                     for z in range(depth)])


def _worker(depth: int, weights: str | None, click: str | None, queue) -> None:
    import torch

    torch.set_num_threads(1)
    from ..core.fewshot.propagation import propagate
    from ..models.fewshot_weights import default_fewshot_weights

    seg = FewShotSegmenter.from_checkpoint(weights or default_fewshot_weights(), click)
    volume = _lazy_stack(synthetic_slice, depth, np.uint8)
    labels = _lazy_stack(_labels_slice, depth, np.int32)
    before = peak_rss_mb()
    t = time.perf_counter()
    n = sum(1 for _ in propagate(volume, labels, 1, segmenter=seg))
    queue.put({"depth": depth, "slices": n, "seconds": time.perf_counter() - t,
               "rss_before_mb": before,
               "peak_rss_mb": peak_rss_mb()})


def in_fresh_process(target: Callable, args: tuple, timeout: float) -> dict:
    """Run ``target(*args, queue)`` in a newly spawned process (so that its peak memory is its
    own) and return the dict it puts on ``queue``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get(timeout=timeout)
    proc.join()
    return result


def dask_memory(weights: str | None, click: str | None, depths: Sequence[int]) -> list[dict]:
    """Peak RSS (MB) of a dask-streamed propagation per stack depth, each in a new process."""
    return [in_fresh_process(_worker, (int(depth), weights, click), 900) for depth in depths]


def speed_stack(target: str, depth: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ``(depth, 256, 256)`` stack and its bool object ``(Z, Y, X)`` for the
    learner's speed: ``"class"`` = 80 cells as one class (the learner's ``auto`` prior treats
    it as a class: no neighbour prior), ``"object"`` = one disk on every slice whose radius
    varies with z (:func:`synthetic_slice`; neighbour prior on every slice)."""
    if target == "class":
        image, cells = make_synthetic_cells((depth, SIDE, SIDE), n_cells=80, seed=7)
        return image, cells > 0
    if target == "object":
        image = np.stack([synthetic_slice(z, depth) for z in range(depth)])
        rr, cc = np.mgrid[0:SIDE, 0:SIDE]
        gt = np.stack([np.hypot(rr - SIDE / 2, cc - SIDE / 2) <
                       40 + 30 * np.sin(np.pi * (z + 0.5) / depth) for z in range(depth)])
        return image, gt
    raise ValueError(f"target must be 'class' or 'object'; got {target!r}")


def learner_speeds_256(cfg, trunk=None, depth: int = 24) -> dict:
    """:func:`learner_speed_256` for one object (``"object"``) and a class (``"class"``),
    after a tiny warm-up fit (torch imports parts of itself on the first optimiser step)."""
    from ..core.fewshot.pixel_classifier import PixelClassifier

    rng = np.random.default_rng(0)
    PixelClassifier(steps=2).fit(rng.random((64, 4), dtype=np.float32),
                                 (np.arange(64) % 2).astype(np.float32),
                                 np.full(64, 1 / 32, np.float32))
    return {t: learner_speed_256(cfg, trunk, depth, t) for t in ("object", "class")}


def learner_speed_256(cfg, trunk=None, depth: int = 24, target: str = "class") -> dict:
    """Per-volume learner on a synthetic ``(depth, 256, 256)`` stack (:func:`speed_stack`),
    2 supports.

    Returns slices/s of propagation with the features cached and the classifier fitted
    (*after encoding*) and end to end (fresh caches, encoding and fit included), and
    where the time goes (``stages_ms``, ms per predicted slice unless named ``_s``): the
    filter features and the trunk pyramid of a slice (what propagation computes, cached as it
    caches them), the classifier's fit (s, once per object), its logits, the neighbour prior
    (distance transform) and the rest of a propagation step (sigmoid, threshold, end rule,
    bookkeeping)."""
    from ..core.fewshot.volume_learner import SliceFeatures, VolumeLearner, neighbour_prior

    image, gt = speed_stack(target, depth)
    sup = evenly_spaced_slices(object_slices(gt), 2)
    support = {z: gt[z] for z in sup}
    window = sample_window(image)
    n_pred = depth - len(sup)
    rest = [z for z in range(depth) if z not in sup]

    def fresh() -> SliceFeatures:
        if trunk is not None:
            trunk.clear()
        return SliceFeatures(image, window, trunk, "speed")

    feats = fresh()
    stages: dict[str, float] = {"filter_features": 0.0, "trunk_features": 0.0}
    if cfg.filters:
        t = time.perf_counter()
        for z in range(depth):
            feats._filters_of(z, image[z], cfg)
        stages["filter_features"] = 1000 * (time.perf_counter() - t) / depth
    if cfg.levels:  # the filters are cached by now: this is the trunk
        t = time.perf_counter()
        for z in range(depth):
            feats.parts(z, cfg)
        stages["trunk_features"] = 1000 * (time.perf_counter() - t) / depth
    learner = VolumeLearner(feats, cfg)
    t = time.perf_counter()
    learner.fit(support)
    fit_s = time.perf_counter() - t
    stages["fit_s"] = fit_s
    t = time.perf_counter()
    for z in rest:
        learner.logits(z)
    stages["predict"] = 1000 * (time.perf_counter() - t) / n_pred
    t = time.perf_counter()
    for z in rest:
        neighbour_prior(gt[z - 1] if z > 0 else gt[z + 1], learner.margin, cfg.strength,
                        cfg.prior == "gate", learner.sampling, cfg.inside)
    stages["prior"] = 1000 * (time.perf_counter() - t) / n_pred
    t = time.perf_counter()
    for _ in learner.propagate(support, depth, fitted=True):
        pass
    cached_s = time.perf_counter() - t
    stages["rest"] = max(0.0, 1000 * cached_s / n_pred - stages["predict"]
                         - (stages["prior"] if learner.prior != "none" else 0.0))
    feats = fresh()
    t = time.perf_counter()
    VolumeLearner(feats, cfg).segment(support, depth)
    full_s = time.perf_counter() - t
    return {"slice_shape": [SIDE, SIDE], "depth": depth, "predicted_slices": n_pred,
            "target": target, "prior": learner.prior,
            "encode_ms_per_slice": stages["filter_features"] + stages["trunk_features"],
            "fit_s": fit_s, "stages_ms": stages,
            "slices_per_s_after_encoding": n_pred / max(cached_s, 1e-9),
            "slices_per_s_end_to_end": n_pred / full_s}
