"""Batch throughput and memory: a plain loop against dask LocalClusters of 1 and 2 workers.

Run (not a test; it takes minutes)::

    nice -n 10 python -m napari_ifss.eval.batch_bench --volumes 20 \\
        --json docs/benchmarks/batch.json

1. ``--volumes`` synthetic ``64 x 256 x 256`` cell stacks (:func:`make_synthetic_cells`, 40
   cells) are written as TIFF, each with a labels file annotating its 4 largest cells on two
   slices each (at 1/3 and 2/3 of the cell's z-extent): propagate mode.
2. The same inputs are run three ways with the shipped model, each into a fresh output
   folder: a plain loop calling :func:`~napari_ifss.core.batch.batch_task.process_input` in one
   fresh process, then ``napari_ifss.batch`` on a LocalCluster of 1 and of 2 worker
   processes. Torch uses ``--threads`` threads (default 1) in every process, so the runs
   compare processes, not threads. Wall time includes loading the model; the cluster's
   start-up is shown apart. Peak memory is each process's ``VmHWM`` (peak resident set, read
   in the workers through ``client.run``).
3. Depth check: a zarr volume (``side x side`` slices, one ball ~12 slices deep in the
   middle, annotated on two slices) at two depths, zarr output, 1 worker: a worker's peak
   memory must not grow with the depth, since every slice is streamed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .fewshot_resources import in_fresh_process, peak_rss_mb
from .report import command_line, machine_info

SHAPE = (64, 256, 256)


def make_inputs(folder: Path, n: int, shape: tuple[int, int, int] = SHAPE, objects: int = 4
                ) -> None:
    """``v00.tif`` ... with ``v00_labels.tif`` ...: ``objects`` cells annotated on 2 slices."""
    import napari_ifss as ifss
    from napari_ifss.core.data.sample import SAMPLE_SPACING
    from napari_ifss.core.io import LayerData

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        image, truth = ifss.make_synthetic_cells(shape, n_cells=40, seed=k)
        labels = np.zeros(truth.shape, np.uint16)
        for new_id, i in enumerate(np.argsort(np.bincount(truth.ravel())[1:])[::-1][:objects]):
            zs = np.flatnonzero((truth == i + 1).any(axis=(1, 2)))
            for z in (zs[0] + (zs[-1] - zs[0]) // 3, zs[0] + 2 * (zs[-1] - zs[0]) // 3):
                labels[z][truth[z] == i + 1] = new_id + 1
        ifss.save(folder / f"v{k:02d}.tif", LayerData.from_array(image, scale=SAMPLE_SPACING))
        ifss.save(folder / f"v{k:02d}_labels.tif", LayerData.from_array(labels, "labels",
                                                                        scale=SAMPLE_SPACING))


def _loop_child(folder: str, out: str, threads: int, queue) -> None:
    from napari_ifss.core.batch.batch_engine import plan
    from napari_ifss.core.batch.batch_settings import BatchSettings, ModelSpec
    from napari_ifss.core.batch.batch_task import process_input

    t0 = time.perf_counter()
    jobs, _ = plan(folder, BatchSettings("propagate", Path(out), model=ModelSpec(threads=threads)))
    rows = [process_input(job) for job in jobs]
    queue.put({"run_s": time.perf_counter() - t0, "peak_mb": [peak_rss_mb()],
               "done": sum(r.status == "done" for r in rows)})


def run_loop(folder: Path, out: Path, threads: int) -> dict:
    """The plain loop in a fresh process."""
    result = in_fresh_process(_loop_child, (str(folder), str(out), threads), 7200)
    return {"config": "plain loop (no dask)", "workers": 0, "threads": threads,
            "startup_s": 0.0, **result}


def run_dask(inputs: Path, out: Path, workers: int, threads: int, **kwargs) -> dict:
    """``napari_ifss.batch`` on a new LocalCluster of ``workers`` single-threaded processes,
    started as ``ifss batch`` starts it (:func:`start_local_cluster`)."""
    from distributed import Client

    from napari_ifss.core.batch.batch_cluster import start_local_cluster
    from napari_ifss.core.batch.batch_engine import batch

    t0 = time.perf_counter()
    cluster = start_local_cluster(workers)  # what ifss batch starts
    client = Client(cluster)
    t1 = time.perf_counter()
    try:
        report = batch(inputs, "propagate", out=out, scheduler=client, threads=threads, **kwargs)
        run_s = time.perf_counter() - t1
        peaks = sorted(client.run(peak_rss_mb).values())
    finally:
        client.close()
        cluster.close()
    return {"config": f"dask LocalCluster, {workers} worker{'s' * (workers > 1)}",
            "workers": workers, "threads": threads, "startup_s": t1 - t0, "run_s": run_s,
            "peak_mb": peaks, "done": report.count("done")}


def make_zarr_ball(folder: Path, depth: int, side: int) -> Path:
    """``ball<depth>.zarr`` (uint16, one chunk per slice) and ``ball<depth>_labels.zarr``."""
    import zarr

    zc, radius, half = depth // 2, side * 0.15, 6
    rr, cc = np.ogrid[0:side, 0:side]
    disk = np.hypot(rr - side / 2, cc - side / 2)
    path = folder / f"ball{depth}.zarr"
    kw = {"shape": (depth, side, side), "dtype": "uint16", "chunks": (1, side, side)}
    image = zarr.create_array(store=str(path), **kw, attributes={"scale": [2.0, 0.5, 0.5]})
    labels = zarr.create_array(store=str(folder / f"ball{depth}_labels.zarr"), **kw,
                               fill_value=0)
    for z in range(depth):
        r = radius * np.sqrt(max(0.0, 1 - ((z - zc) / half) ** 2))
        rng = np.random.default_rng(z)
        texture = 300 * np.sin(rr / 23.0 + z / 7.0) * np.cos(cc / 31.0)
        image[z] = np.clip(1000 + texture + 1500 * (disk < r) + rng.normal(0, 150, disk.shape),
                           0, 65535).astype(np.uint16)
        if z in (zc - 3, zc + 3):
            labels[z] = (disk < r).astype(np.uint16)
    return path


def _markdown(report: dict) -> str:
    head = ("| run | workers | torch threads / process | cluster start-up s | run s | "
            "volumes / min (incl. start-up) | peak MB per process | done |\n"
            "|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['config']} | {r['workers'] or '-'} | {r['threads']} | {r['startup_s']:.1f} | "
        f"{r['run_s']:.0f} | {60 * report['volumes'] / (r['run_s'] + r['startup_s']):.2f} | "
        f"{', '.join(f'{m:.0f}' for m in r['peak_mb'])} | {r['done']}/{report['volumes']} |\n"
        for r in report["runs"])
    depth = ("| zarr volume | GiB | run s | worker peak MB |\n|---|---|---|---|\n" + "".join(
        f"| {d['depth']}x{d['side']}x{d['side']} uint16 | {d['gib']:.2f} | {d['run_s']:.0f} | "
        f"{d['peak_mb'][0]:.0f} |\n" for d in report["depth_check"]))
    m = report["machine"]
    return (f"# Batch: plain loop vs dask LocalCluster\n\nCommand: `{report['command']}`  \n"
            f"Machine: {m.get('cpu', '')}, {report['cores']} cores, load average "
            f"{report['load_before']:.1f} before / {report['load_after']:.1f} after; torch "
            f"{m.get('torch', '')}; {m.get('date_utc', '')} UTC\n\n"
            + __doc__.split("\n\n", 3)[3] + "\n" + report.get("note", "") + "\n\n"
            + f"{report['volumes']} volumes of {'x'.join(map(str, SHAPE))}, propagate mode:\n\n"
            + head + body + "\nDepth check (propagate, zarr in and out, 1 worker):\n\n" + depth)


def run(args: argparse.Namespace) -> dict:
    from napari_ifss.core.batch.batch_cluster import available_cores

    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ifss_batch_"))
    cores = available_cores()
    load_before = os.getloadavg()[0]
    try:
        print(f"writing {args.volumes} volumes to {base}...", file=sys.stderr, flush=True)
        make_inputs(base / "in", args.volumes)
        runs = [run_loop(base / "in", base / "out_loop", args.threads)]
        for workers in (1, 2):
            print(f"dask, {workers} worker(s)...", file=sys.stderr, flush=True)
            runs.append(run_dask(base / "in", base / f"out_{workers}", workers, args.threads))
        depth_rows = []
        for depth in args.depths:
            folder = base / f"depth{depth}"
            folder.mkdir()
            path = make_zarr_ball(folder, depth, args.side)
            r = run_dask(path, folder / "out", 1, args.threads, ext=".zarr")
            depth_rows.append({**r, "depth": depth, "side": args.side,
                               "gib": depth * args.side ** 2 * 2 / 2**30})
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    report = {"command": command_line(prog="nice -n 10 python -m napari_ifss.eval.batch_bench"),
              "machine": machine_info(), "cores": cores, "volumes": args.volumes,
              "load_before": load_before, "load_after": os.getloadavg()[0], "runs": runs,
              "depth_check": depth_rows, "note": args.note}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(_markdown(report), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m napari_ifss.eval.batch_bench",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--volumes", type=int, default=20, help="number of 64x256x256 volumes")
    p.add_argument("--depths", type=int, nargs="+", default=[64, 512],
                   help="depths of the zarr memory check")
    p.add_argument("--side", type=int, default=512, help="slice side of the zarr check")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--note", default="", help="a sentence for the report (e.g. why scaled down)")
    p.add_argument("--workdir", default=None, help="where the data goes (default: temp)")
    p.add_argument("--keep", action="store_true", help="keep the data and outputs")
    p.add_argument("--json", default="docs/benchmarks/batch.json", help="JSON report")
    report = run(p.parse_args(argv))
    print(json.dumps(report["runs"] + report["depth_check"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
