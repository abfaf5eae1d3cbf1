"""The work of one input of a batch run: read, segment, score, write. Runs on a dask worker.

Models load once per worker, not once per task: :func:`segmenter_for` keeps the
:class:`~napari_ifss.core.fewshot.fewshot.FewShotSegmenter` of each :class:`ModelSpec` in a dict
attached to the dask worker (``distributed.get_worker()``), so every later task on that
worker reuses it; the apply-mode support set is encoded once per worker and model too. The
key includes the thread, because a segmenter holds per-run state (its support set): a worker
with several threads keeps one per thread. Outside a worker (a plain loop) the dict is this
process's.

Errors of the input itself (:class:`~napari_ifss.core.errors.IfssError`: unreadable or corrupt
file, no annotation, wrong shape) fail the input's row at once. Anything else is raised, so
that dask retries the task (``retries=``); a killed worker's task is rescheduled by dask.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import IfssError, InvalidInputError
from ..io.layerdata import spacing_of
from .batch_apply import SupportSet, apply_volume, encode_support
from .batch_inputs import find_labels
from .batch_manifest import Outputs, completed, finish, start
from .batch_settings import InputJob, InputResult, ModelSpec
from .batch_volume import Volume, open_labels, open_volume, tree_sha256, write_labels

SliceHook = Callable[[int, int], None]
_LOCAL_CACHE: dict[Any, Any] = {}
_LOCK = threading.Lock()


def worker_cache() -> tuple[dict[Any, Any], str]:
    """``(cache, worker name)``: the dict attached to this dask worker (this process's dict
    when not running on a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return _LOCAL_CACHE, f"pid {os.getpid()}"
    with _LOCK:
        cache = getattr(worker, "_napari_ifss_cache", None)
        if cache is None:
            cache = {}
            worker._napari_ifss_cache = cache  # type: ignore[attr-defined]
    return cache, str(worker.address)


def segmenter_for(spec: ModelSpec) -> tuple[Any, bool]:
    """``(segmenter, loaded now)``: this worker's (and thread's) model for ``spec``."""
    cache, _ = worker_cache()
    key = ("model", spec, threading.get_ident())
    seg = cache.get(key)
    if seg is not None:
        return seg, False
    seg = spec.load()
    cache[key] = seg
    return seg, True


def _support_for(seg: Any, support: SupportSet) -> dict[int, Any]:
    """The support set encoded by ``seg``, once per worker."""
    cache, _ = worker_cache()
    key = ("support", support.sha256, id(seg))
    if key not in cache:
        cache[key] = encode_support(seg, support)
    return cache[key]


def _propagate(job: InputJob, seg: Any, volume: Volume, labels_path: Any, outputs: Outputs,
               on_slice: SliceHook | None) -> dict[int, dict[int, Any]]:
    from ...api import score
    from ..fewshot.propagation import propagate

    s = job.settings
    labels = open_labels(labels_path, tuple(volume.data.shape))
    dtype = np.dtype(labels.dtype)
    dtype = np.dtype(np.uint8) if dtype == np.bool_ else dtype

    def fill(out: Any) -> None:
        for z in range(out.shape[0]):
            out[z] = np.asarray(labels[z])
        for event in propagate(volume.data, labels, s.label_ids, segmenter=seg, out=out,
                               threshold=s.threshold):
            if on_slice is not None:
                on_slice(event.done, event.total)

    result = write_labels(outputs.labels, tuple(volume.data.shape[:3]), dtype,
                          volume.geometry, fill)
    spacing = spacing_of(volume.geometry.scale)  # distances in widths
    return score(volume.data, result, support=labels, label_ids=s.label_ids, segmenter=seg,
                 spacing=spacing)


def _apply(job: InputJob, seg: Any, volume: Volume, support: SupportSet, outputs: Outputs,
           on_slice: SliceHook | None) -> dict[int, dict[int, Any]]:
    encoded = _support_for(seg, support)
    dtype = np.dtype(np.uint16 if max(support.label_ids) <= 65535 else np.uint32)
    found: dict[str, Any] = {}

    def fill(out: Any) -> None:
        found["scores"] = apply_volume(seg, encoded, volume.data, out, job.settings.threshold,
                                       on_slice)

    write_labels(outputs.labels, tuple(volume.data.shape[:3]), dtype, volume.geometry, fill)
    return found["scores"]


def summarise(scores: dict[int, dict[int, Any]]) -> dict[str, Any]:
    """Mean score, number scored and the slices with a "review" badge."""
    values = [s.score for table in scores.values() for s in table.values()]
    flagged = sorted({z for table in scores.values() for z, s in table.items()
                      if s.badge == "review"})
    return {"mean_score": float(np.mean(values)) if values else None, "scored": len(values),
            "flagged_slices": flagged}


def process_input(job: InputJob, support: SupportSet | None = None,
                  on_slice: SliceHook | None = None) -> InputResult:
    """Segment, score and write one input; skip it when its outputs are complete and current.

    Args:
        job: the input and the run's settings.
        support: apply mode: the support set.
        on_slice: called ``(done, total)`` after each slice is written.

    Returns:
        Its summary row; a failure of the input itself is a ``failed`` row, not an exception.
    """
    t0 = time.perf_counter()
    s = job.settings
    outputs = Outputs.of(s.out_dir, job.name, s.ext)
    _, where = worker_cache()
    base = {"input": str(job.path), "name": job.name, "worker": where}
    try:
        key = {**job.fingerprint, "input_sha256": tree_sha256(job.path)}
        labels_path = None
        if s.mode == "propagate":
            labels_path = find_labels(job.path, s.labels_dir, s.labels_suffix)
            key["labels_sha256"] = tree_sha256(labels_path)
        done = None if s.overwrite else completed(outputs, key)
        if done is not None:
            return InputResult(**base, status="skipped", seconds=float(done.get("seconds", 0)),
                               mean_score=done.get("mean_score"), scored=done.get("scored", 0),
                               flagged=tuple(done.get("flagged_slices", ())),
                               outputs=tuple(str(p) for p in outputs.all()))
        start(outputs)
        seg, loaded = segmenter_for(s.model)
        volume = open_volume(job.path)
        if s.mode == "propagate":
            scores = _propagate(job, seg, volume, labels_path, outputs, on_slice)
        else:
            if support is None:
                raise InvalidInputError("apply mode needs the support set (read_support)")
            scores = _apply(job, seg, volume, support, outputs, on_slice)
        from ...api import save_scores_csv

        save_scores_csv(scores, outputs.scores)
        found = summarise(scores)
        seconds = time.perf_counter() - t0
        finish(outputs, key, {**found, "seconds": seconds, "input": str(job.path)})
    except IfssError as err:
        return InputResult(**base, status="failed", error=str(err),
                           seconds=time.perf_counter() - t0)
    return InputResult(**base, status="done", seconds=seconds, mean_score=found["mean_score"],
                       scored=found["scored"], flagged=tuple(found["flagged_slices"]),
                       outputs=tuple(str(p) for p in outputs.all()), model_loaded=loaded)
