"""``napari_ifss.batch(...)`` and ``ifss batch``: segment many volumes on dask.distributed.

The client (this process) finds the inputs, checks the settings, hashes the model weights,
reads the apply-mode support set once and scatters it to every worker, then submits one task
per input (:func:`~napari_ifss.core.batch.batch_task.process_input`) with ``retries=`` and follows
them with ``as_completed`` (a tqdm bar with ETA). Each task writes its own outputs and
manifest; the client writes the summary (``batch_summary.csv`` / ``.json``) at the end,
also after Ctrl+C, when unfinished tasks are cancelled and the cluster is closed.

Without ``scheduler`` a ``LocalCluster`` is started: one single-threaded worker process per
core (fewer when memory is short, :mod:`.batch_cluster`), torch using ``cores // workers``
threads in each. ``scheduler="tcp://host:8786"`` uses a running cluster instead (SLURM/PBS
through dask-jobqueue, Kubernetes through dask-kubernetes: ``docs/batch.md``); its workers
must see the same files under the same paths.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError
from .batch_cluster import available_cores, connect, dashboard_of, default_workers
from .batch_inputs import find_inputs, find_labels, output_names
from .batch_manifest import Outputs, remove_temporary
from .batch_settings import BatchSettings, InputJob, InputResult, Mode, ModelSpec
from .batch_summary import write_summary

if TYPE_CHECKING:
    from .batch_apply import SupportSet

@dataclass(frozen=True)
class BatchReport:
    """The outcome of a run: one :class:`InputResult` per input (input order), the summary
    files, the dask dashboard address (None if none) and whether Ctrl+C stopped it."""

    results: tuple[InputResult, ...]
    summary_csv: Path
    summary_json: Path
    dashboard: str | None = None
    interrupted: bool = False

    def count(self, status: str) -> int:
        """How many inputs ended with ``status`` (done, skipped, failed, cancelled)."""
        return sum(r.status == status for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 all done or skipped, 3 some failed, 130 interrupted."""
        return 130 if self.interrupted else (3 if self.count("failed") else 0)


def _result(future: Any, job: InputJob) -> InputResult:
    """The task's row; a task that raised (after its retries) or whose workers all died
    becomes a failed row naming the error."""
    try:
        return future.result()
    except Exception as err:
        hint = ""
        if type(err).__name__ == "KilledWorker":
            hint = " (its worker died each time: out of memory? see the worker logs)"
        return InputResult(str(job.path), job.name, "failed", f"{type(err).__name__}: {err}"
                           + hint)


def _run(client: Any, jobs: Sequence[InputJob], support: Any, task: Callable[..., InputResult],
         retries: int, progress: bool) -> tuple[list[InputResult], bool]:
    """Submit every job, collect rows as they finish; on Ctrl+C cancel the rest."""
    from distributed import as_completed
    from tqdm import tqdm

    token = uuid.uuid4().hex[:8]
    ref = client.scatter(support, broadcast=True, hash=False) if support is not None else None
    futures = {client.submit(task, job, ref, key=f"ifss-batch-{token}-{i}", retries=retries,
                             pure=False): i for i, job in enumerate(jobs)}
    results: list[InputResult | None] = [None] * len(jobs)
    interrupted = False
    bar = tqdm(total=len(jobs), desc="batch", unit="volume", file=sys.stderr,
               disable=not progress)
    try:
        for future in as_completed(futures):
            i = futures[future]
            results[i] = _result(future, jobs[i])
            bar.update(1)
            bar.set_postfix(failed=sum(r is not None and r.status == "failed" for r in results))
    except KeyboardInterrupt:
        interrupted = True
        client.cancel(list(futures), force=True)
    finally:
        bar.close()
    rows = [r if r is not None else InputResult(str(j.path), j.name, "cancelled",
                                                "the run was interrupted first")
            for r, j in zip(results, jobs, strict=True)]
    return rows, interrupted


def plan(inputs: str | os.PathLike | Sequence[str | os.PathLike], settings: BatchSettings
         ) -> tuple[list[InputJob], SupportSet | None]:
    """Check ``settings``, find the inputs and (apply mode) read the support set: the jobs
    to run, each with the run's fingerprint (settings, weights, support, version).

    Raises:
        InvalidInputError, UnsupportedFormatError, WriteError, ReadError: before any work.
    """
    from ... import __version__
    from .batch_apply import read_support

    settings.check()
    sources = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    paths = find_inputs(sources, settings.labels_suffix)
    names = output_names(paths)
    fingerprint: dict[str, Any] = {"settings": settings.key(), "version": __version__,
                                   "model_sha256": settings.model.fingerprint()}
    support = None
    if settings.support is not None:
        labels = settings.support_labels or find_labels(settings.support, None,
                                                        settings.labels_suffix)
        support = read_support(settings.support, labels, settings.label_ids)
        fingerprint["support_sha256"] = support.sha256
    return [InputJob(p, n, settings, fingerprint) for p, n in zip(paths, names, strict=True)
            ], support


def batch(inputs: str | os.PathLike | Sequence[str | os.PathLike], mode: Mode = "propagate",
          *, out: str | os.PathLike, support: str | os.PathLike | None = None,
          support_labels: str | os.PathLike | None = None,
          labels_dir: str | os.PathLike | None = None, labels_suffix: str = "_labels",
          ext: str = ".tif", label_ids: Sequence[int] | None = None, threshold: float = 0.5,
          overwrite: bool = False, weights: str | None = None, click_weights: str | None = None,
          threads: int | None = None, device: str | None = None,
          network_side: tuple[int, int] = (256, 512), workers: int | None = None,
          scheduler: Any = None, retries: int = 2, progress: bool = False,
          task: Callable[..., InputResult] | None = None) -> BatchReport:
    """Segment every input with the few-shot model on dask; write labels, scores, summary.

    Args:
        inputs: folders, glob patterns, ``.txt`` list files or image paths (one or several).
        mode: ``"propagate"``: each input's own annotated slices (``<stem>_labels.<ext>``
            beside it, or in ``labels_dir``, or its saved session ``<image>.ifss``) fill it;
            ``"apply"``: the annotated slices of ``support`` segment every slice of each input.
        out: output folder: ``<stem>_seg<ext>``, ``<stem>_scores.csv``, a manifest per input,
            and ``batch_summary.csv`` / ``.json``.
        support, support_labels: apply mode: the annotated image and its labels (default: by
            the naming rule).
        labels_suffix: the labels naming rule's suffix.
        ext: output labels format (``.tif``, ``.nii.gz``, ``.mha``, ``.nrrd``, ``.zarr``, ...).
        label_ids: objects to segment (default: all annotated).
        threshold: object probability threshold.
        overwrite: redo inputs whose outputs are complete and current (default: skip them).
        weights, click_weights: model files (default: shipped); ``threads``: torch threads per
            worker (default: cores / workers on a LocalCluster); ``device``: torch device;
            ``network_side``: range of the long side the network sees (smaller is faster).
        workers: LocalCluster size (default: one per core); with ``scheduler``, wait
            for this many workers before starting.
        scheduler: None (a new LocalCluster), a scheduler address, a scheduler file
            (``*.json``), or a ``distributed.Client``.
        retries: dask retries of a task that raised something other than an input error.
        progress: progress bar (and the dashboard address) on stderr.
        task: the function run per input (default
            :func:`~napari_ifss.core.batch.batch_task.process_input`); for tests and custom steps.

    Returns:
        A :class:`BatchReport`; failed inputs are rows with their error, never exceptions.

    Raises:
        InvalidInputError, UnsupportedFormatError, WriteError: bad settings or no inputs,
            found before any work starts.
    """
    from .batch_task import process_input

    if workers is not None and workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {workers}")
    if threads is not None and threads < 1:
        raise InvalidInputError(f"--threads must be at least 1, got {threads}")
    if retries < 0:
        raise InvalidInputError(f"--retries must be 0 or more, got {retries}")
    n_workers = workers or (default_workers() if scheduler is None else None)
    if threads is None and scheduler is None:
        threads = max(1, available_cores() // (n_workers or 1))
    settings = BatchSettings(
        mode, Path(out), ext, None if labels_dir is None else Path(labels_dir), labels_suffix,
        None if support is None else Path(support),
        None if support_labels is None else Path(support_labels),
        None if label_ids is None else tuple(int(i) for i in label_ids), float(threshold),
        overwrite, ModelSpec(weights, click_weights, threads, device, *network_side))
    jobs, support_set = plan(inputs, settings)
    with connect(scheduler, n_workers) as (client, local):
        dashboard = dashboard_of(client)
        if progress:
            print(f"{len(jobs)} inputs, {len(client.scheduler_info()['workers'])} dask workers"
                  + (f"; dashboard: {dashboard}" if dashboard else ""), file=sys.stderr)
        rows, interrupted = _run(client, jobs, support_set, task or process_input, retries,
                                 progress)
    if interrupted and local:  # the cluster is closed: nothing writes any more
        for job in jobs:
            remove_temporary(Outputs.of(settings.out_dir, job.name, settings.ext))
    csv_path, json_path = write_summary(settings, rows, interrupted)
    return BatchReport(tuple(rows), csv_path, json_path, dashboard, interrupted)
