"""``ifss bench large-volume``: annotate and propagate a volume larger than you want in memory.

A synthetic ``(Z, side, side)`` uint16 volume of the requested size is written to a zarr store
on disk (one chunk per slice), with an empty zarr labels store beside it. Then, in a fresh
process per volume size (so the peak resident memory is that of this job alone):

1. the image is opened lazily with ``dask.array.from_zarr``;
2. one object (a tube whose radius changes with z) is annotated on two slices with one click
   each through :class:`~napari_ifss.core.interactive.session.InteractiveSession`, written into the zarr
   labels;
3. :func:`napari_ifss.api.propagate` fills every slice between and around them, writing into
   the same zarr labels store (``out=labels``);
4. peak RSS (``VmHWM``), seconds and the Dice of the result against the known tube on every
   filled slice are recorded.

Memory is bounded when the peak RSS of the large volume stays close to that of a small one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import metrics
from .fewshot_resources import in_fresh_process, peak_rss_mb
from .report import command_line, machine_info


def tube_radius(z: int, depth: int, side: int) -> float:
    """Radius in pixels of the synthetic object on slice ``z``."""
    return side * (0.12 + 0.08 * np.sin(np.pi * (z + 0.5) / depth))


def tube_mask(z: int, depth: int, side: int) -> np.ndarray:
    """Ground truth ``(side, side)`` bool of the object on slice ``z`` (centred disk)."""
    rr, cc = np.ogrid[0:side, 0:side]
    return np.hypot(rr - side / 2, cc - side / 2) < tube_radius(z, depth, side)


def image_slice(z: int, depth: int, side: int) -> np.ndarray:
    """Slice ``z``: the object (bright) on a textured background with noise, uint16."""
    rng = np.random.default_rng(z)
    rr, cc = np.ogrid[0:side, 0:side]
    texture = 300 * np.sin(rr / 23.0 + z / 7.0) * np.cos(cc / 31.0)
    img = 1000 + texture + 1500 * tube_mask(z, depth, side) + rng.normal(0, 150, (side, side))
    return np.clip(img, 0, 65535).astype(np.uint16)


def write_stores(folder: Path, depth: int, side: int) -> tuple[Path, Path]:
    """Write ``image.zarr`` (the volume) and an empty ``labels.zarr``; returns their paths."""
    import zarr

    image_path, labels_path = folder / "image.zarr", folder / "labels.zarr"
    image = zarr.create_array(str(image_path), shape=(depth, side, side), dtype="uint16",
                              chunks=(1, side, side), overwrite=True)
    for z in range(depth):
        image[z] = image_slice(z, depth, side)
    zarr.create_array(str(labels_path), shape=(depth, side, side), dtype="uint16",
                      chunks=(1, side, side), fill_value=0, overwrite=True)
    return image_path, labels_path


def _job(image_path: str, labels_path: str, threads: int, queue) -> None:
    """The measured job, run in a fresh process."""
    import dask.array as da
    import torch
    import zarr

    torch.set_num_threads(threads)
    from ..api import propagate
    from ..core.fewshot.fewshot import FewShotSegmenter
    from ..core.interactive.session import InteractiveSession

    volume = da.from_zarr(image_path)
    labels = zarr.open_array(labels_path, mode="r+")
    depth, side = int(volume.shape[0]), int(volume.shape[2])
    session = InteractiveSession()
    fewshot = FewShotSegmenter.default()
    rss_models = peak_rss_mb()
    t0 = time.perf_counter()
    annotated = [depth // 4, (3 * depth) // 4]
    for z in annotated:
        session.set_image(np.asarray(volume[z]), key=z)
        mask = session.add_click(side / 2, side / 2)
        labels[z] = mask.astype(np.uint16)
    t1 = time.perf_counter()
    propagate(volume, labels, 1, out=labels, segmenter=fewshot)
    t2 = time.perf_counter()
    dice = [metrics.dice(np.asarray(labels[z]) == 1, tube_mask(z, depth, side))
            for z in range(depth) if z not in annotated]
    queue.put({"depth": depth, "side": side,
               "volume_gib": depth * side * side * 2 / 2**30,
               "annotated_slices": annotated, "filled_slices": len(dice),
               "annotate_s": t1 - t0, "propagate_s": t2 - t1,
               "slices_per_s": len(dice) / (t2 - t1),
               "rss_after_model_load_mb": rss_models, "peak_rss_mb": peak_rss_mb(),
               "mean_dice": float(np.mean(dice)), "min_dice": float(np.min(dice))})


def measure(folder: Path, depth: int, side: int, threads: int = 1) -> dict:
    """Write the stores for ``(depth, side, side)`` under ``folder`` and run the job."""
    folder.mkdir(parents=True, exist_ok=True)
    gib = depth * side * side * 2 / 2**30
    print(f"writing a {depth}x{side}x{side} uint16 volume ({gib:.2f} GiB) to {folder}...",
          file=sys.stderr, flush=True)
    t = time.perf_counter()
    image_path, labels_path = write_stores(folder, depth, side)
    write_s = time.perf_counter() - t
    print(f"annotating 2 slices and propagating {depth - 2} in a fresh process...",
          file=sys.stderr, flush=True)
    result = in_fresh_process(_job, (str(image_path), str(labels_path), threads), 3600)
    return {**result, "write_stores_s": write_s}


def _markdown(report: dict) -> str:
    rows = report["runs"]
    head = ("| volume | GiB | filled slices | annotate s | propagate s | slices/s | RSS after "
            "model load MB | peak RSS MB | mean Dice | min Dice |\n|---|---|---|---|---|---|---|"
            "---|---|---|\n")
    body = "".join(
        f"| {r['depth']}x{r['side']}x{r['side']} uint16 | {r['volume_gib']:.2f} | "
        f"{r['filled_slices']} | {r['annotate_s']:.1f} | {r['propagate_s']:.1f} | "
        f"{r['slices_per_s']:.1f} | {r['rss_after_model_load_mb']:.0f} | "
        f"{r['peak_rss_mb']:.0f} | {r['mean_dice']:.3f} | {r['min_dice']:.3f} |\n"
        for r in rows)
    m = report["machine"]
    return (f"# Large volume: lazy (dask/zarr) annotation and propagation\n\nCommand: "
            f"`{report['command']}`  \nMachine: {m.get('cpu', '')}, torch threads "
            f"{report['threads']}, torch {m.get('torch', '')}; {report['date']}\n\n"
            + __doc__.split("\n\n", 1)[1] + "\n" + head + body)


def run(args: argparse.Namespace) -> dict:
    """Measure a small and the requested large volume; write JSON and Markdown."""
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ifss_large_"))
    side = args.side
    depths = [max(8, int(d)) for d in
              (args.small_gib * 2**30 / (2 * side * side), args.gib * 2**30 / (2 * side * side))]
    try:
        runs = [measure(base / f"d{d}", d, side, args.threads) for d in depths]
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    report = {"command": command_line(), "threads": args.threads, "machine": machine_info(),
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "runs": runs}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(_markdown(report), encoding="utf-8")
    return report


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss bench large-volume``."""
    p = subparsers.add_parser("large-volume", help="peak memory of annotating and propagating "
                              "a large lazily opened (dask/zarr) volume")
    p.add_argument("--gib", type=float, default=2.0, help="size of the large volume in GiB")
    p.add_argument("--small-gib", type=float, default=0.06,
                   help="size of the small volume it is compared with")
    p.add_argument("--side", type=int, default=1448, help="slice height and width (pixels)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--workdir", default=None, help="where the zarr stores go (default: temp)")
    p.add_argument("--keep", action="store_true", help="keep the zarr stores")
    p.add_argument("--json", default="docs/benchmarks/large_volume.json", help="JSON report")
    p.set_defaults(func=lambda a: print(json.dumps(run(a)["runs"], indent=1)) or 0)
    return p
