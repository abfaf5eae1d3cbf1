"""``ifss bench fewshot``: few-shot propagation vs copy-nearest and random-forest baselines.

Runs on any folder laid out like ``../shared/data`` (see ``core.datasets``): every volume under
``3d/``, K = 1, 2, 3 support slices. Writes a JSON report and a markdown table
(``eval.report``).

``--protocol lovo`` (the default) is the leave-one-volume-out protocol (:func:`run_lovo`): only
methods that never saw a slice of the volume they segment (copy-nearest, the random forest, the
per-volume learner designs named by ``--learners``; the default design is what ``ifss
propagate`` and the Few-shot dock run), supports at quantiles of each object's z-extent, Dice
over the volume and over the object's z-range +- 2, paired bootstrap intervals over objects;
the shipped meta-learned head only with ``--head``, labelled as not held out. Default report:
``docs/benchmarks/fewshot_lovo_run.json`` / ``.md``. ``--2d`` adds the 2D cross-image sets
(:func:`run_lovo_2d`: support from the first K train images of a set, queries from its val
images; the learner designs, queried without position or neighbour, against the random forest,
paired intervals over sets and over query images); ``--no-3d`` skips the volumes. Unless
``--no-speed``, the learner's speed on synthetic 256x256 stacks (one object, one class), with
the time per stage (:func:`~.fewshot_resources.learner_speeds_256`); ``--no-3d`` alone gives
only that.

``--protocol dev`` is the older protocol of the meta-learned head, NOT held out (the head was
trained on slices of the same volumes): objects by :func:`~.fewshot_protocol.bench_objects`,
evenly spaced supports, the 2D sets of ``2d/dsb2018`` and ``2d/epfl_em``, propagation speed on
a synthetic 256x256 stack and peak memory of a dask-streamed propagation for two stack depths.
Default report: ``docs/benchmarks/fewshot.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..core.data.datasets import default_data_dir, iter_3d
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.volume_io import sample_window
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


def run_lovo(args: argparse.Namespace) -> int:
    """The leave-one-volume-out protocol (see the module docstring)."""
    from ..core.fewshot.trunk_features import LEVELS, TrunkFeatures
    from ..core.fewshot.volume_learner import SliceFeatures
    from .fewshot_designs import DEFAULT_DESIGN, design
    from .fewshot_protocol import HEAD_NOT_HELD_OUT, LovoContext, ending_objects, run_lovo_case
    from .fewshot_report import markdown_lovo, summaries, summarize_2d
    from .fewshot_resources import learner_speeds_256

    torch.set_num_threads(args.threads)
    root = Path(args.data or default_data_dir())
    ks = sorted(set(args.k))
    learners = {f"learner:{spec}": design(spec) for spec in (args.learners or [DEFAULT_DESIGN])}
    head = _segmenter(args, cache_size=1024) if args.head else None
    used = sorted({lv for c in learners.values() for lv in c.levels}, key=LEVELS.index)
    trunk = TrunkFeatures(used) if used else None

    def forest() -> ForestSegmenter:
        return ForestSegmenter(n_estimators=args.rf_trees)

    t0 = time.time()
    cases = []
    for vol in ([] if args.no_3d else iter_3d(root, datasets=args.datasets)):
        image, labels, spacing = vol.load()
        window = sample_window(image)
        ctx = LovoContext(VolumeContext(vol.dataset, image, window, {}),
                          SliceFeatures(image, window, trunk, vol.dataset), spacing)
        objects = [(o, g, "standard") for o, g in bench_objects(vol.dataset, labels)] \
            if args.objects != "ends" else []
        if args.objects != "standard":
            named = {o for o, _, _ in objects}
            objects += [(o, g, "ends") for o, g in ending_objects(vol.dataset, labels)
                        if o not in named]
        for obj, gt, group in objects:
            for k in ks:
                res = run_lovo_case(ctx, gt, k, learners, forest, head, args.head_label)
                if res is None:
                    print(f"{vol.dataset}/{obj} K={k}: skipped (object only on support slices)")
                    continue
                cases.append({"dataset": vol.dataset, "object": obj, "k": k, "set": group,
                              "shape": list(image.shape), "spacing": list(spacing), **res})
                print(f"{vol.dataset}/{obj} K={k}: " + ", ".join(
                    f"{n} {m['dice_volume']:.3f}/{m['dice_zrange']:.3f}"
                    for n, m in res["methods"].items()) + f"  ({time.time() - t0:.0f} s)",
                    flush=True)
        if trunk is not None:
            trunk.clear()
        if head is not None:
            head.clear_cache()
    methods = list(cases[0]["methods"]) if cases else []
    sets = run_lovo_2d(args, root, ks, learners, forest, trunk) if args.sets_2d else []
    extra = {"sets_2d": sets,
             "summary_2d": summarize_2d(sets, ks, ["random_forest", *learners])} if sets else {}
    payload = {
        "benchmark": "fewshot", "protocol": "lovo", "command": command_line(),
        "machine": machine_info(), "data": str(root), "ks": ks,
        "learners": {n: asdict(c) for n, c in learners.items()},
        "head": None if head is None else
        f"{args.head_label}: {args.weights}, declared by --head-label" if args.head_label else
        f"{HEAD_NOT_HELD_OUT}: {args.weights or 'shipped head'}, trained on slices of every "
        "development volume",
        **summaries(cases, ks, methods), "volumes": cases, **extra,
        "speed": None if args.no_speed else
        {n: learner_speeds_256(c, trunk) for n, c in learners.items()},
        "peak_rss_mb": peak_rss_mb(), "wall_s": time.time() - t0,
    }
    json_path, md_path = write_report(report_path(args), payload, markdown_lovo(payload),
                                      args.md if args.md else None)
    print(f"wrote {json_path} and {md_path}")
    return 0


def run_lovo_2d(args: argparse.Namespace, root: Path, ks: list[int],
                learners: dict, forest, trunk) -> list[dict]:
    """The 2D cross-image sets of the LOVO protocol (``--2d``): per set of
    :func:`~.fewshot_protocol.sets_2d` and K, the random forest and each learner design
    fitted on the first K support images, mean Dice over the queries."""
    sets = []
    for name, support, queries, cls in sets_2d(root, args.max_queries, max(ks)):
        for k in ks:
            res = run_2d_set(support, queries, cls, k, None, forest, learners, trunk)
            sets.append({"set": name, "k": k, **res})
            print(f"{name} K={k}: " + ", ".join(
                f"{m} {res[m]:.3f}" for m in ("random_forest", *learners)), flush=True)
    return sets


REPORTS = {"lovo": "docs/benchmarks/fewshot_lovo_run.json", "dev": "docs/benchmarks/fewshot.json"}


def report_path(args: argparse.Namespace) -> str:
    """``--json``, or the protocol's default report path (:data:`REPORTS`)."""
    return args.json or REPORTS[args.protocol]


def run(args: argparse.Namespace) -> int:
    """``ifss bench fewshot`` (``--protocol lovo`` by default, see the module docstring)."""
    if args.protocol == "lovo":
        return run_lovo(args)
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
        "protocol": "dev",
        "held_out": "no: the head was trained on slices of these volumes",
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
    json_path, md_path = write_report(report_path(args), payload, markdown(payload),
                                      args.md if args.md else None)
    print(f"wrote {json_path} and {md_path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``fewshot`` under ``ifss bench``."""
    p = subparsers.add_parser(
        "fewshot", help="benchmark few-shot propagation against baselines (leave-one-volume-out)",
        description="Few-shot propagation on every volume under DATA/3d with K = 1, 2, 3 "
                    "annotated slices, against copy-nearest-slice and a random forest on filter "
                    "features run in the same call. Default protocol lovo (leave-one-volume-out): "
                    "only methods that never saw the volume they segment, i.e. the per-volume "
                    "learner that `ifss propagate` and the Few-shot dock use (fitted on the K "
                    "slices only), copy-nearest and the random forest; supports at quantiles of "
                    "each object's z-extent; Dice over the volume and over the object's z-range. "
                    "--protocol dev: the older benchmark of the pretrained head on the volumes "
                    "it was trained on (NOT held out), with 2D sets, speed and memory.")
    p.add_argument("--data", default=None, help="data folder (default $IFSS_DATA or "
                                                "../shared/data)")
    p.add_argument("--protocol", choices=("lovo", "dev"), default="lovo",
                   help="lovo (default): leave-one-volume-out, only methods that never saw the "
                        "volume (per-volume learner designs, copy-nearest, random forest); dev: "
                        "NOT held out, the shipped head vs baselines on the development volumes "
                        "it was trained on (2D sets, speed, memory too)")
    p.add_argument("--learners", nargs="+", default=None,
                   help="lovo: learner designs, names of eval.fewshot_designs.DESIGNS with "
                        "optional overrides (name:key=value,...); default chosen")
    p.add_argument("--objects", choices=("standard", "ends", "both"), default="standard",
                   help="lovo: the standard objects (as --protocol dev), single label ids that "
                        "end inside the volume at both ends (for the end rule), or both")
    p.add_argument("--head", action="store_true",
                   help="lovo: also run the meta-learned head (--weights), reported as NOT held "
                        "out unless --head-label says otherwise")
    p.add_argument("--head-label", default=None,
                   help="lovo: method name of the head, e.g. fewshot_head_lovo for a head "
                        "trained with `ifss train fewshot --exclude-volumes V` and run with "
                        "--datasets V (default: fewshot_head_NOT_held_out)")
    p.add_argument("--json", default=None,
                   help="JSON report path (default: docs/benchmarks/fewshot_lovo_run.json for "
                        "lovo, docs/benchmarks/fewshot.json for dev)")
    p.add_argument("--md", default=None, help="markdown path (default: next to the JSON)")
    p.add_argument("--weights", default=None,
                   help="few-shot head checkpoint (default shipped): dev, or lovo with --head")
    p.add_argument("--click-weights", default=None,
                   help="click-model checkpoint providing the encoder (default shipped)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 3], help="support counts")
    p.add_argument("--datasets", nargs="+", default=None, help="only these 3d datasets")
    p.add_argument("--max-queries", type=int, default=8, help="2D queries per set")
    p.add_argument("--rf-trees", type=int, default=50, help="random-forest trees")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--memory-depths", type=int, nargs="+", default=[32, 128],
                   help="dev: stack depths of the dask memory check")
    p.add_argument("--no-2d", action="store_true", help="dev: skip the 2D sets")
    p.add_argument("--2d", dest="sets_2d", action="store_true",
                   help="lovo: also run the 2D cross-image sets of DATA/2d (dsb2018 by size "
                        "and colour, epfl_em per class; supports from the train split, queries "
                        "from the val split): the learner designs against the random forest")
    p.add_argument("--no-3d", action="store_true",
                   help="lovo: skip the volumes (e.g. with --2d for the 2D table alone)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    p.add_argument("--no-memory", action="store_true", help="dev: skip the dask memory check")
    p.set_defaults(func=run)
    return p
