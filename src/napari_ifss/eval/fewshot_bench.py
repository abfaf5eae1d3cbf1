"""``ifss bench fewshot``: few-shot propagation vs copy-nearest and random-forest baselines.

Runs on any folder laid out like ``../shared/data`` (see ``core.datasets``): every volume under
``3d/`` (objects by :func:`~.fewshot_protocol.bench_objects`), K = 1, 2, 3 support slices, and
the 2D sets of ``2d/dsb2018`` and ``2d/epfl_em``. Also measures propagation speed on a
synthetic 256x256 stack and peak memory of a dask-streamed propagation for two stack depths.
Writes a JSON report and a markdown table (``eval.report``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..core.datasets import default_data_dir, iter_3d
from ..core.fewshot import FewShotSegmenter
from ..core.propagation import sample_window
from .fewshot_baselines import ForestSegmenter
from .fewshot_protocol import (
    METHODS,
    VolumeContext,
    bench_objects,
    run_2d_set,
    run_volume_case,
    sets_2d,
)
from .fewshot_report import markdown, summarize
from .fewshot_resources import dask_memory, peak_rss_mb, speed_256
from .report import command_line, machine_info, write_report


def _segmenter(args: argparse.Namespace, cache_size: int) -> FewShotSegmenter:
    from ..models.fewshot_weights import default_fewshot_weights

    return FewShotSegmenter.from_checkpoint(args.weights or default_fewshot_weights(),
                                            args.click_weights, cache_size=cache_size)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    root = Path(args.data or default_data_dir())
    ks = sorted(set(args.k))
    seg = _segmenter(args, cache_size=1024)
    encoder_info = getattr(seg.head, "encoder_info", None)

    def forest() -> ForestSegmenter:
        return ForestSegmenter(n_estimators=args.rf_trees)

    t0 = time.time()
    cases = []
    for vol in iter_3d(root, datasets=args.datasets):
        image, labels, _ = vol.load()
        ctx = VolumeContext(vol.dataset, image, sample_window(image), {})
        for obj, gt in bench_objects(vol.dataset, labels):
            for k in ks:
                res = run_volume_case(ctx, gt, k, seg, forest)
                if res is None:
                    print(f"{vol.dataset}/{obj} K={k}: skipped (object only on support slices)")
                    continue
                cases.append({"dataset": vol.dataset, "object": obj, "k": k,
                              "shape": list(image.shape), **res})
                m = res["methods"]
                print(f"{vol.dataset}/{obj} K={k}: " + ", ".join(
                    f"{n} {m[n]['dice_volume']:.3f}" for n in METHODS)
                    + f"  ({time.time() - t0:.0f} s)", flush=True)
        seg.clear_cache()
    sets = []
    if not args.no_2d:
        for name, support, queries, cls in sets_2d(root, args.max_queries, max(ks)):
            for k in ks:
                res = run_2d_set(support, queries, cls, k, seg, forest)
                sets.append({"set": name, "k": k, **res})
                print(f"{name} K={k}: fewshot {res['fewshot']:.3f}, "
                      f"random_forest {res['random_forest']:.3f}", flush=True)
    speed = speed_256(seg, forest) if not args.no_speed else None
    memory = dask_memory(args.weights, args.click_weights, args.memory_depths) \
        if not args.no_memory else None
    payload = {
        "benchmark": "fewshot",
        "command": command_line(),
        "machine": machine_info(),
        "data": str(root),
        "weights": str(args.weights or "shipped"),
        "click_encoder": encoder_info,
        "ks": ks,
        "summary_3d": summarize(cases, sets, ks),
        "volumes": cases,
        "sets_2d": sets,
        "speed": speed,
        "memory": memory,
        "peak_rss_mb": peak_rss_mb(),
        "wall_s": time.time() - t0,
    }
    json_path, md_path = write_report(args.json, payload, markdown(payload),
                                      args.md if args.md else None)
    print(f"wrote {json_path} and {md_path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``fewshot`` under ``ifss bench``."""
    p = subparsers.add_parser(
        "fewshot", help="benchmark few-shot propagation against baselines",
        description="Few-shot propagation on every volume under DATA/3d (K support slices "
                    "evenly spaced over each object's z-extent) and 2D sets, against "
                    "copy-nearest-slice and a random forest on filter features.")
    p.add_argument("--data", default=None, help="data folder (default $IFSS_DATA or "
                                                "../shared/data)")
    p.add_argument("--json", default="docs/benchmarks/fewshot.json", help="JSON report path")
    p.add_argument("--md", default=None, help="markdown path (default: next to the JSON)")
    p.add_argument("--weights", default=None, help="few-shot head checkpoint (default shipped)")
    p.add_argument("--click-weights", default=None,
                   help="click-model checkpoint providing the encoder (default shipped)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 3], help="support counts")
    p.add_argument("--datasets", nargs="+", default=None, help="only these 3d datasets")
    p.add_argument("--max-queries", type=int, default=8, help="2D queries per set")
    p.add_argument("--rf-trees", type=int, default=50, help="random-forest trees")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--memory-depths", type=int, nargs="+", default=[32, 128],
                   help="stack depths of the dask memory check")
    p.add_argument("--no-2d", action="store_true", help="skip the 2D sets")
    p.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    p.add_argument("--no-memory", action="store_true", help="skip the dask memory check")
    p.set_defaults(func=run)
    return p
