"""The dask cluster of a batch run: a LocalCluster started for it, or a running one.

:func:`start_local_cluster` starts what ``ifss batch`` uses without ``--scheduler``: one
single-threaded worker process per core (fewer when memory is short), workers that leave
Ctrl+C to the client, and without dask's ``MALLOC_TRIM_THRESHOLD_`` (see its docstring).
:func:`connect` yields a client of that, of a scheduler address or file, or of a given
``distributed.Client`` (left open).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidInputError

WORKER_MEMORY = 2 * 2**30  # what one worker may need: torch, the model, one volume or so


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def default_workers() -> int:
    """One worker per core, as many as memory allows (:data:`WORKER_MEMORY` each)."""
    import psutil

    return max(1, min(available_cores(), psutil.virtual_memory().total // WORKER_MEMORY))


def _ignore_interrupt(worker: Any = None) -> None:
    """In a LocalCluster worker process: leave Ctrl+C to the client, which cancels the tasks
    and closes the cluster (without this every worker prints a KeyboardInterrupt)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_setup_plugin() -> Any:
    """A WorkerPlugin running :func:`_ignore_interrupt` on every (also restarted) worker."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreInterrupt(WorkerPlugin):
        name = "napari-ifss-ignore-interrupt"

        def setup(self, worker: Any) -> None:
            _ignore_interrupt(worker)

    return IgnoreInterrupt()


def start_local_cluster(workers: int | None = None) -> Any:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes (default
    :func:`default_workers`), without dask's ``MALLOC_TRIM_THRESHOLD_=65536`` for its
    workers: that setting made every task about 1.8x slower here (torch allocates large
    buffers, which glibc then maps and unmaps for every use)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                            processes=True, dashboard_address=":0",
                            silence_logs=logging.ERROR)


@contextmanager
def connect(scheduler: Any, workers: int | None) -> Iterator[tuple[Any, bool]]:
    """``(client, local)``: a client of ``scheduler`` (a Client is used as it is; an address
    or a ``dask scheduler --scheduler-file`` JSON file is connected to) or of a new
    LocalCluster of ``workers`` processes, closed on exit."""
    from distributed import Client

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler, False
        return
    cluster = client = None
    try:
        if scheduler is None:
            cluster = start_local_cluster(workers)
            client = Client(cluster)
            client.register_plugin(_worker_setup_plugin())
        else:
            client = (Client(scheduler_file=scheduler, timeout="30s")
                      if scheduler.endswith(".json") else Client(scheduler, timeout="30s"))
            if workers:
                client.wait_for_workers(workers, timeout=600)
    except (OSError, TimeoutError, ValueError) as err:
        for opened in (client, cluster):
            if opened is not None:
                opened.close()
        raise InvalidInputError(f"cannot reach the dask scheduler {scheduler or 'LocalCluster'}"
                                f" ({err}); start it first, or leave --scheduler out") from err
    try:
        yield client, cluster is not None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dashboard_of(client: Any) -> str | None:
    """The dask dashboard address, or None when the scheduler serves none."""
    try:
        if "dashboard" in client.scheduler_info().get("services", {}):
            return str(client.dashboard_link)
    except Exception:  # a scheduler without that information
        pass
    return None
