"""``ifss bench interactive``: the interactive-segmentation benchmark.

All methods run on the same evaluation objects (:mod:`.objects`) in one process with the robot
user of :mod:`.clicker` and the protocol of :mod:`.interactive_protocol`; results go to a JSON
(per object, per split and method, machine info, command line) and a markdown table.

Methods: ``concat`` (the shipped default: previous mask concatenated at the input, on the
pretrained EfficientNet-Lite0 trunk), ``fcfi`` (the same run with the FCFI modules; the
pre-registered comparison chose concat, see docs/models/interactive.md) and ``scratch-fcfi`` / ``scratch-concat`` / ``scratch-nofeedback`` (the
models with an encoder learned from scratch that shipped before the pretrained backbone), all
in ``benchmarks/weights/``; ``random_walker`` and ``watershed`` (classical baselines), any
``--checkpoint NAME=PATH``, and ``fcfi-no-correction`` / ``fcfi-no-fusion``: the fcfi net (or
the ``fcfi=`` checkpoint) with one FCFI module switched off at inference, which shows how much
the trained net relies on it. Any method name with the suffix ``+clicked`` (e.g.
``fcfi+clicked``) is that method with :func:`~napari_ifss.core.interactive.clicked_regions.keep_clicked_regions`
applied to every prediction.

Data (``--data``): the ``../shared/data`` layout, one dataset folder (``images/`` + ``masks/``,
e.g. a user's own folder or a public benchmark), one volume folder or a folder of dataset
folders (:mod:`napari_ifss.core.data.data_layout`). ``--split`` chooses the items: ``val`` (the
held-apart ones), ``train``, ``all``, or ``auto`` (default): ``val`` for the ``2d``/``3d``
layout the models were trained on (so that existing numbers stay reproducible), ``all`` for any
other folder (:mod:`.bench_data`). ``--ignore-value`` (default 255, ``none`` to switch off)
marks mask pixels that are neither object nor background (:mod:`.label_maps`).

``--first-prompt box``: the robot drags a jittered bounding box as each object's first prompt
and corrects with clicks (:mod:`.interactive_protocol`); methods that take no box (classical
baselines, nets trained without a box channel) are skipped and named in the report's notes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..core.data.data_layout import detect_layout
from ..core.errors import InvalidInputError
from ..core.interactive.prompts import Click
from ..core.protocols import ClickSegmenter
from .bench_data import (
    add_data_arguments,
    count_or_all,
    data_section,
    resolve_subset,
    scored_counts,
    size_or_none,
    unmatched_note,
)
from .interactive_protocol import ObjectResult, run_object, takes_boxes
from .objects import Tally, collect_objects
from .paired import paired_differences
from .report import command_line, machine_info, markdown_table, write_report

REPO_ROOT = Path(__file__).resolve().parents[3]
# Ablation checkpoints: concat on the same pretrained trunk as the shipped fcfi, and the
# from-scratch encoder models that shipped before the pretrained backbone (issue #13).
# ``fcfi`` and ``concat`` are the two nets of the same run on the same pretrained trunk: the one
# named ``registry.DEFAULT_VARIANT`` is the shipped default (loaded from the package), the other
# an ablation checkpoint here.
ABLATION_CHECKPOINTS = {"fcfi": "benchmarks/weights/click_fcfi.safetensors",
                        "concat": "benchmarks/weights/click_concat.safetensors",
                        "scratch-fcfi": "benchmarks/weights/scratch/click_fcfi.safetensors",
                        "scratch-concat": "benchmarks/weights/scratch/click_concat.safetensors",
                        "scratch-nofeedback":
                            "benchmarks/weights/scratch/click_nofeedback.safetensors"}
DEFAULT_METHODS = ("fcfi", "concat", "scratch-fcfi", "random_walker", "watershed")
CLASSICAL = ("random_walker", "watershed")
# Inference-time ablations of the fcfi net: method name -> ClickNet switch turned off.
MODULE_ABLATIONS = {"fcfi-no-correction": "correction_enabled", "fcfi-no-fusion": "fusion_enabled"}
THRESHOLDS = (0.85, 0.90)
CLICKED_SUFFIX = "+clicked"


def _resolve(path: str) -> Path:
    """``path`` as given if it exists, else relative to the repository root."""
    p = Path(path)
    if p.is_file() or p.is_absolute():
        return p
    return REPO_ROOT / p


def make_segmenter(name: str, checkpoints: dict[str, str]) -> ClickSegmenter:
    """The segmenter called ``name`` (a known method or a ``checkpoints`` entry)."""
    if name == "random_walker":
        from .random_walker import RandomWalkerSegmenter

        return RandomWalkerSegmenter()
    if name == "watershed":
        from .watershed import WatershedSegmenter

        return WatershedSegmenter()
    if name.endswith(CLICKED_SUFFIX):
        from ..core.interactive.clicked_regions import ClickedRegions

        return ClickedRegions(make_segmenter(name.removesuffix(CLICKED_SUFFIX), checkpoints))
    if name in MODULE_ABLATIONS:
        seg = make_segmenter("fcfi", checkpoints)
        net = seg.net  # type: ignore[attr-defined]
        setattr(net, MODULE_ABLATIONS[name], False)
        return seg
    from ..models.registry import DEFAULT_VARIANT

    paths = {**ABLATION_CHECKPOINTS, **checkpoints}
    if name == DEFAULT_VARIANT and name not in checkpoints:
        from ..core.interactive.predictor import ClickPredictor

        try:
            return ClickPredictor.default()
        except FileNotFoundError as exc:
            raise InvalidInputError(f"method {name!r}: {exc}") from exc
    if name not in paths:
        known = ", ".join(sorted({"fcfi", *CLASSICAL, *paths}))
        raise InvalidInputError(f"unknown method {name!r}; known methods: {known} "
                                "(or add one with --checkpoint NAME=PATH)")
    path = _resolve(paths[name])
    if not path.is_file():
        raise InvalidInputError(f"method {name!r}: checkpoint {path} not found")
    from ..core.interactive.predictor import ClickPredictor

    return ClickPredictor.from_checkpoint(path)


def warm_up(segmenter: ClickSegmenter) -> None:
    """One untimed call on a small synthetic slice (first-call overheads, lazy imports)."""
    yy, xx = np.mgrid[:96, :96]
    image = (((yy - 48) ** 2 + (xx - 48) ** 2) < 400).astype(np.uint8) * 200 + 20
    segmenter.set_image(image)
    prob = segmenter.predict([Click(48, 48, True)])
    segmenter.predict([Click(48, 48, True), Click(10, 10, False)], prob)


def aggregate(results: Sequence[ObjectResult], max_clicks: int) -> dict:
    """Mean NoC@85/90, NoF@90 count, mean IoU@1/@5 and boundary IoU@5, ms per click/encode."""
    predict = [t for r in results for t in r.predict_s]
    return {
        "objects": len(results),
        "noc@85": float(np.mean([r.noc(0.85) for r in results])),
        "noc@90": float(np.mean([r.noc(0.90) for r in results])),
        f"nof{max_clicks}@90": int(sum(not r.reached(0.90) for r in results)),
        "iou@1": float(np.mean([r.iou_at(1) for r in results])),
        "iou@5": float(np.mean([r.iou_at(5) for r in results])),
        "boundary_iou@1": float(np.mean([r.boundary_ious[0] for r in results])),
        "boundary_iou@5": float(np.mean([r.boundary_ious[1] for r in results])),
        "spc_ms": 1000 * float(np.mean(predict)),
        "spc_ms_median": 1000 * float(np.median(predict)),
        "encode_ms": 1000 * float(np.mean([r.encode_s for r in results])),
        "clicks_made": len(predict),
    }


def box_skips(segmenters: dict[str, ClickSegmenter]) -> dict[str, str]:
    """Method -> why it is skipped with ``--first-prompt box`` (it takes no box prompt)."""
    return {name: "skipped: this method takes no box prompt (classical baseline or a net "
                  "trained without boxes)"
            for name, seg in segmenters.items() if not takes_boxes(seg)}


def run_benchmark(
    objects: dict[str, list], segmenters: dict[str, ClickSegmenter], max_clicks: int = 20,
    progress: Callable[[int], object] | None = None, **protocol_kw,
) -> list[ObjectResult]:
    """Every method on every object (objects outer, methods inner)."""
    results = []
    for split in objects:
        for obj in objects[split]:
            for name, seg in segmenters.items():
                results.append(run_object(seg, obj, name, max_clicks, **protocol_kw))
                if progress is not None:
                    progress(1)
    return results


def summarize(results: Sequence[ObjectResult], max_clicks: int,
              by: str = "split") -> list[dict]:
    """Aggregate rows per (``by``, method), ``by`` = ``split`` or ``dataset``, plus ``all``."""
    methods = list(dict.fromkeys(r.method for r in results))
    groups = list(dict.fromkeys(getattr(r, by) for r in results))
    rows = []
    for group in [*groups, "all"]:
        for m in methods:
            sel = [r for r in results if r.method == m and group in ("all", getattr(r, by))]
            if sel:
                rows.append({by: group, "method": m, **aggregate(sel, max_clicks)})
    return rows


def markdown(rows: list[dict], payload: dict) -> str:
    """The markdown report: command, machine, protocol notes and the results table."""
    mc = payload["settings"]["max_clicks"]
    cols = [("split", "split"), ("method", "method"), ("noc@85", "NoC@85"),
            ("noc@90", "NoC@90"), (f"nof{mc}@90", f"NoF{mc}@90"), ("iou@1", "IoU@1"),
            ("iou@5", "IoU@5"), ("boundary_iou@5", "bIoU@5"), ("spc_ms", "SPC ms"),
            ("spc_ms_median", "SPC median ms"), ("encode_ms", "encode ms"),
            ("objects", "#objects")]
    m = payload["machine"]
    digits = {"noc@85": 2, "noc@90": 2, "iou@1": 3, "iou@5": 3, "boundary_iou@5": 3,
              "spc_ms": 1, "spc_ms_median": 1, "encode_ms": 1}
    datasets = ", ".join(f"{s}: {', '.join(d)}" for s, d in payload["datasets"].items())
    return "\n".join([
        "# Interactive segmentation benchmark", "",
        f"Produced by `{payload['command']}` on {m['date_utc']} UTC; {m['cpu']}, "
        f"{m['torch_threads']} torch threads, torch {m['torch']}"
        f"{', GPU ' + m['cuda'] if m['cuda'] else ''}; {payload['elapsed_s']:.0f} s in all.", "",
        markdown_table(rows, cols, digits), "By dataset:", "",
        markdown_table([r for r in payload["summary_by_dataset"] if r["dataset"] != "all"],
                       [("dataset", "dataset"), *cols[1:]], digits),
        "Protocol: robot user (first click at the object's interior point, then at the "
        "interior point of the largest error region: positive for a false negative, negative "
        "for a false positive), up to "
        f"{mc} clicks; the previous probability is fed back; prediction = prob > 0.5. "
        "An object stops once IoU >= 0.90 after >= 5 clicks; later IoUs count as the last one "
        f"(NoC and NoF{mc}@90 are unaffected). NoC = {mc} when never reached; NoF = objects "
        "never reaching 0.90. bIoU = boundary IoU (Cheng et al. 2021, band 2% of the "
        "diagonal). SPC = wall time of `predict` per click (mean, and median, which is robust "
        "to other processes' load spikes); encode = mean `set_image` time per object. Classical baselines (random walker, watershed): clicks seed disks of radius "
        "3 px, the image border seeds the background (the only background seed before the "
        "first negative click; kept free near positive clicks), solved at <= 256 px and "
        "upsampled; they ignore the feedback.", "",
        *_box_section(payload), *data_section(payload), f"Datasets: {datasets}.", "", *_paired_section(payload)])


def _box_section(payload: dict) -> list[str]:
    """With ``--first-prompt box``: how the box was drawn and which methods were skipped."""
    settings = payload["settings"]
    if settings.get("first_prompt", "click") != "box":
        return []
    lines = ["First prompt: a box instead of the first click: the object's bounding box with "
             "each side moved by up to 10% of the box size (as in training; fixed by the seed "
             "and the object), then clicks into the largest error region; the box counts as "
             "one click in NoC and IoU@k.", ""]
    lines += [f"{name}: {why}." for name, why in settings["skipped"].items()]
    return lines + ([""] if settings["skipped"] else [])


def _paired_section(payload: dict) -> list[str]:
    """Each method against ``fcfi`` on the same objects (NoC@90, bootstrap 95% interval)."""
    paired = payload["paired_vs_fcfi"]
    if not paired:
        return []
    rows = [{**r, "interval": f"[{r['lo']:+.2f}, {r['hi']:+.2f}]", "mean": f"{r['mean']:+.2f}"}
            for r in paired]
    return ["## Paired with fcfi", "",
            "NoC@90 of the method minus NoC@90 of fcfi on the same objects (negative: the "
            "method needs fewer clicks than fcfi), mean and 95% percentile-bootstrap interval "
            "over objects (5000 resamples, seed 0). An interval that contains 0 is no "
            "evidence either way.", "",
            markdown_table(rows, [("split", "split"), ("method", "method"), ("n", "objects"),
                                  ("mean", "mean difference"), ("interval", "95% interval")]),
            ""]


def _parse_checkpoints(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(f"--checkpoint expects NAME=PATH, got {item!r}")
        out[name] = path
    return out


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (from the parsed arguments)."""
    def count(v: int | None) -> str:
        return "all" if v is None else str(v)

    ignore = "none" if args.ignore_value is None else str(args.ignore_value)
    argv = ["bench", "interactive", "--data", str(args.data), "--methods", args.methods,
            "--first-prompt", args.first_prompt,
            "--max-clicks", str(args.max_clicks), "--max-objects", count(args.max_objects),
            "--per-image", count(args.per_image), "--seed", str(args.seed), "--rule", args.rule,
            "--split", args.split, "--ignore-value", ignore]
    for flag, value in (("--splits", args.splits), ("--threads", args.threads),
                        ("--json", args.json), ("--md", args.md)):
        if value:
            argv += [flag, str(value)]
    for item in args.checkpoint:
        argv += ["--checkpoint", item]
    return command_line(argv)


def main(args: argparse.Namespace) -> int:
    """Run the benchmark described by parsed ``args``; prints the table, writes JSON/MD."""
    from tqdm import tqdm

    data = Path(args.data)
    layout = detect_layout(data)
    if args.max_clicks < 1:
        raise InvalidInputError("--max-clicks must be >= 1")
    checkpoints = _parse_checkpoints(args.checkpoint)
    methods = [m for m in args.methods.split(",") if m]
    methods += [m for m in checkpoints if m not in methods]
    known = {"fcfi", *CLASSICAL, *ABLATION_CHECKPOINTS, *MODULE_ABLATIONS, *checkpoints}
    unknown = [m for m in methods if m.removesuffix(CLICKED_SUFFIX) not in known]
    if unknown or not methods:
        raise InvalidInputError(f"unknown method(s) {unknown}; known: {', '.join(sorted(known))} "
                                "(or add one with --checkpoint NAME=PATH)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    splits = [s for s in args.splits.split(",") if s] if args.splits else None
    subset, reason = resolve_subset(args.split, layout)
    args.split = subset  # the command line in the report names the split actually scored
    tally = Tally()
    objects = collect_objects(layout, splits, args.max_objects, per_image=args.per_image,
                              seed=args.seed, subset=subset, ignore_value=args.ignore_value,
                              tally=tally)
    missing = [s for s in splits or [] if s not in objects]
    if missing:
        raise InvalidInputError(f"no objects for split(s) {missing} under {data}; split names "
                                "are nuclei, natural, em, mri_ct or a dataset folder's name")
    if not objects:
        raise InvalidInputError(
            f"no evaluation objects under {data} ({layout.describe()}, split {subset}: "
            f"{sum(tally.items.values())} items, {len(tally.unmatched)} images without a mask "
            "of the same stem); objects need >= 100 px and <= 90% of the image"
            + ("; try --split all" if subset != "all" else ""))
    segmenters = {m: make_segmenter(m, checkpoints) for m in methods}
    for seg in segmenters.values():
        model = getattr(seg, "segmenter", seg)  # the model inside a '+clicked' wrapper
        if not hasattr(model, "focus_above"):  # click models only (not the classical baselines)
            continue
        if args.focus_above is not None:
            model.focus_above = None if args.focus_above == "none" else int(args.focus_above)
        if args.focus_min is not None:
            model.focus_min = int(args.focus_min)
    skipped = box_skips(segmenters) if args.first_prompt == "box" else {}
    segmenters = {m: s for m, s in segmenters.items() if m not in skipped}
    for name, why in skipped.items():
        print(f"{name}: {why}")
    if not segmenters:
        raise InvalidInputError("--first-prompt box: none of the methods takes a box prompt "
                                f"({', '.join(skipped)}); use --first-prompt click")
    for seg in segmenters.values():
        warm_up(seg)
    total = sum(len(v) for v in objects.values()) * len(segmenters)
    t0 = time.perf_counter()
    with tqdm(total=total, desc="interactive bench", unit="run") as bar:
        results = run_benchmark(objects, segmenters, args.max_clicks, bar.update,
                                rule=args.rule, first_prompt=args.first_prompt,
                                seed=args.seed)
    rows = summarize(results, args.max_clicks)
    payload = {
        "benchmark": "interactive", "command": _command(args),
        "machine": machine_info(), "elapsed_s": time.perf_counter() - t0,
        "settings": {"data": str(data), "layout": layout.describe(), "split": subset,
                     "split_reason": reason, "ignore_value": args.ignore_value,
                     "max_clicks": args.max_clicks,
                     "max_objects": args.max_objects, "per_image": args.per_image,
                     "seed": args.seed, "rule": args.rule, "methods": methods,
                     "first_prompt": args.first_prompt, "skipped": skipped,
                     "checkpoints": checkpoints, "stop": "IoU >= 0.90 after >= 5 clicks"},
        "datasets": {s: sorted({o.dataset for o in objs}) for s, objs in objects.items()},
        "scored": scored_counts(objects, tally),
        "notes": tally.note_lines() + unmatched_note(tally),
        "summary": rows, "summary_by_dataset": summarize(results, args.max_clicks, "dataset"),
        "objects": [r.to_dict() for r in results],
    }
    payload["paired_vs_fcfi"] = paired_differences(payload["objects"], "fcfi")  # for markdown()
    text = markdown(rows, payload)
    if args.json:
        j, m = write_report(args.json, payload, text, args.md)
        print(f"wrote {j} and {m}")
    elif args.md:
        from .report import write_markdown

        write_markdown(args.md, text)
    print(text)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``interactive`` under ``ifss bench``."""
    p = subparsers.add_parser("interactive", help="interactive-segmentation benchmark (robot "
                              "user, NoC@85/90, NoF, IoU@k, seconds per click)")
    add_data_arguments(p)
    p.add_argument("--json", help="write the full results here")
    p.add_argument("--md", help="markdown table path (default: next to --json)")
    p.add_argument("--max-clicks", type=int, default=20)
    p.add_argument("--max-objects", type=count_or_all, default=40, metavar="N|all",
                   help="objects per split (group), default 40")
    p.add_argument("--per-image", type=count_or_all, default=5, metavar="N|all",
                   help="objects per image or slice, default 5")
    p.add_argument("--splits", help="comma-separated benchmark groups (not the train/val "
                                    "split), e.g. nuclei,natural,em,mri_ct or a dataset name")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma-separated: fcfi, concat, scratch-fcfi, scratch-concat, "
                        "scratch-nofeedback, random_walker, watershed, fcfi-no-correction, "
                        "fcfi-no-fusion; any of them + '+clicked'")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="extra method from a click-model checkpoint (repeatable)")
    p.add_argument("--rule", choices=("largest_region", "ritm"), default="largest_region",
                   help="robot click rule")
    p.add_argument("--first-prompt", choices=("click", "box"), default="click",
                   help="the robot's first prompt on each object: a click at its centre, or a "
                        "box dragged around it (jittered, fixed by --seed) then clicks; the box "
                        "counts as one click; methods without box prompts are skipped")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--focus-above", type=size_or_none, default=None, metavar="PX|none",
                   help="click models: focus windows on images whose long side exceeds PX "
                        "('none': always the whole image; default: as shipped)")
    p.add_argument("--focus-min", type=int, default=None, metavar="PX",
                   help="click models: the side of the smallest focus window, image pixels "
                        "(default: as shipped)")
    p.set_defaults(func=main)
    return p

