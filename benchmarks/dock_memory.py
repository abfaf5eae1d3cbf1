"""Peak memory of the Few-shot dock against the API on a large lazy volume (issue #20, item 6).

    xvfb-run -a python benchmarks/dock_memory.py [--depth 300 --side 1024]
        [--md docs/benchmarks/dock_memory.md]

A ``(depth, side, side)`` uint16 volume (the ``ifss bench large-volume`` tube) is written to a
zarr store with an empty uint16 zarr labels store beside it; the tube's true mask is drawn on
two slices (a quarter and three quarters deep). Each run is a fresh process (its peak RSS,
``VmHWM``, is its own), one torch thread, the default propagation (the per-volume learner):

* *API*: ``napari_ifss.propagate(dask image, labels, 1, out=zarr labels)``;
* *dock, zarr labels*: a headless napari viewer with the dask image and the zarr labels layer,
  the Few-shot dock's Propagate, then its quality check, to the end;
* *dock, numpy labels*: the same with the labels read into a numpy labels layer (how most
  layers are made).

Target (issue #20): the dock on dask/zarr within 1.5x the API's peak.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_ifss.eval.fewshot_resources import in_fresh_process, peak_rss_mb
from napari_ifss.eval.large_volume_bench import tube_mask, write_stores
from napari_ifss.eval.metrics import dice
from napari_ifss.eval.report import emit, script_header


def _annotate(labels_path: str) -> list[int]:
    import zarr

    labels = zarr.open_array(labels_path, mode="r+")
    depth, side = int(labels.shape[0]), int(labels.shape[2])
    zs = [depth // 4, (3 * depth) // 4]
    for z in zs:
        labels[z] = tube_mask(z, depth, side).astype(labels.dtype)
    return zs


def _dice(labels: object, annotated: list[int]) -> float:
    depth, side = int(np.shape(labels)[0]), int(np.shape(labels)[2])
    return float(np.mean([dice(np.asarray(labels[z]) == 1, tube_mask(z, depth, side))
                          for z in range(depth) if z not in annotated]))


def api_job(image_path: str, labels_path: str, queue) -> None:
    """The API run (fresh process)."""
    import dask.array as da
    import torch
    import zarr

    torch.set_num_threads(1)
    import napari_ifss

    annotated = _annotate(labels_path)
    labels = zarr.open_array(labels_path, mode="r+")
    t0 = time.perf_counter()
    napari_ifss.propagate(da.from_zarr(image_path), labels, 1, out=labels)
    queue.put({"run": "API, out=zarr labels", "seconds": time.perf_counter() - t0,
               "peak_rss_mb": peak_rss_mb(), "mean_dice": _dice(labels, annotated)})


def dock_job(image_path: str, labels_path: str, numpy_labels: bool, queue) -> None:
    """The Few-shot dock run, propagation and quality check (fresh process)."""
    import dask.array as da
    import napari
    import torch
    import zarr
    from qtpy.QtWidgets import QApplication

    torch.set_num_threads(1)
    from napari_ifss._napari.fewshot_dock import FewShotDock

    annotated = _annotate(labels_path)
    store = zarr.open_array(labels_path, mode="r+")
    viewer = napari.Viewer(show=False)
    viewer.add_image(da.from_zarr(image_path), name="image")
    layer = viewer.add_labels(np.asarray(store) if numpy_labels else store, name="labels")
    dock = FewShotDock(viewer)
    app = QApplication.instance()
    t0 = time.perf_counter()
    dock.propagate()
    while dock.busy or dock.quality.scorer.busy:
        app.processEvents()
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    queue.put({"run": f"Few-shot dock, {'numpy' if numpy_labels else 'zarr'} labels",
               "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
               "mean_dice": _dice(layer.data, annotated), "status": dock.status,
               "scored_rows": len(dock.quality.rows)})
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=300)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--md", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ifss_dock_memory_") as tmp:
        for name, job, extra in (("api", api_job, ()), ("zarr", dock_job, (False,)),
                                 ("numpy", dock_job, (True,))):
            image, labels = write_stores(Path(tmp) / name, args.depth, args.side)
            rows.append(in_fresh_process(job, (str(image), str(labels), *extra), 7200))
            print(rows[-1], flush=True)
    api = rows[0]["peak_rss_mb"]
    gib = args.depth * args.side ** 2 * 2 / 2 ** 30
    lines = script_header("Peak memory: the Few-shot dock against the API (issue #20, item 6)",
                          f"xvfb-run -a python benchmarks/dock_memory.py --depth {args.depth} "
                          f"--side {args.side} --md docs/benchmarks/dock_memory.md",
                          time.perf_counter() - t0) + [
        f"A {args.depth} x {args.side} x {args.side} uint16 volume ({gib:.2f} GiB) in zarr, "
        "opened with dask; uint16 labels (zarr store, or read into numpy); the object drawn on "
        "2 slices; default propagation (the learner); the dock runs include its quality "
        "check. Peak RSS of each fresh process.", "",
        "| run | seconds | peak RSS MB | ratio to the API | mean Dice |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['seconds']:.0f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['peak_rss_mb'] / api:.2f} | {r['mean_dice']:.3f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
