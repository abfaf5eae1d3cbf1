"""``ifss bench exemplar``: exemplar mode ("segment all like this") on dsb2018 nuclei.

For the first ``--max-images`` held-apart (``split_of(id) == "val"``) images of
``DATA/2d/dsb2018`` in sorted order, one nucleus is the exemplar and exemplar mode finds the
others (protocol: :mod:`.exemplar_protocol`). Reports instance recall and precision at
IoU >= 0.5 (pooled over all nuclei, and the per-image mean) and the robot's clicks to segment
every nucleus with the click model alone versus starting from exemplar mode's result. Writes
a JSON report and a markdown table (``eval.report``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..core.data.datasets import default_data_dir, iter_2d
from ..core.errors import InvalidInputError
from ..core.exemplar.exemplar import EXEMPLAR_MAX_SIDE, ExemplarSettings
from .exemplar_protocol import DONE_IOU, MATCH_IOU, ImageResult, run_image
from .report import command_line, machine_info, markdown_table, write_report

DATASET = "dsb2018"
DEFAULT_IMAGES = 120  # all 119 val images of ../shared/data in about 8 min on one thread
DEFAULT_CLICK_OBJECTS = 10


def _mean(values: Sequence[float]) -> float:
    vals = [v for v in values if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def summarize(results: Sequence[ImageResult]) -> dict:
    """Pooled and per-image-mean recall/precision, click totals and timings."""
    others = sum(r.others for r in results)
    found = sum(r.found for r in results)
    matched = sum(r.matched for r in results)
    alone = float(sum(r.clicks_alone for r in results))
    with_ex = float(sum(r.clicks_with for r in results))
    return {
        "images": len(results), "objects": others, "found": found, "matched": matched,
        "done@85": sum(r.done for r in results),
        "recall": matched / others if others else float("nan"),
        "precision": matched / found if found else float("nan"),
        "recall_image_mean": _mean([r.recall for r in results]),
        "precision_image_mean": _mean([r.precision for r in results]),
        "matched_iou_mean": _mean([r.matched_iou_mean for r in results]),
        "clicks_alone": alone, "clicks_with_exemplar": with_ex,
        "clicks_saved": alone - with_ex,
        "clicks_saved_fraction": (alone - with_ex) / alone if alone else float("nan"),
        "clicks_per_object_alone": alone / (others + len(results)) if results else float("nan"),
        "clicks_per_object_with": with_ex / (others + len(results)) if results else float("nan"),
        "objects_clicked": sum(r.clicked for r in results),
        "exemplar_s_mean": _mean([r.exemplar_s for r in results]),
        "exemplar_s_max": max((r.exemplar_s for r in results), default=float("nan")),
        "robot_s": float(sum(r.robot_s for r in results)),
    }


def markdown(payload: dict) -> str:
    """The markdown report of a benchmark payload."""
    m, s, cfg = payload["machine"], payload["summary"], payload["settings"]
    summary_cols = [("images", "images"), ("objects", "nuclei (not exemplar)"),
                    ("found", "found"), ("matched", "matched@0.5"),
                    ("recall", "recall"), ("precision", "precision"),
                    ("recall_image_mean", "recall (image mean)"),
                    ("precision_image_mean", "precision (image mean)"),
                    ("matched_iou_mean", "mean IoU of matches")]
    click_cols = [("clicks_alone", "clicks, click model alone"),
                  ("clicks_with_exemplar", "clicks, with exemplar mode"),
                  ("clicks_saved", "clicks saved"), ("clicks_saved_fraction", "saved share"),
                  ("clicks_per_object_alone", "per nucleus alone"),
                  ("clicks_per_object_with", "per nucleus with"),
                  ("exemplar_s_mean", "exemplar mode s/image"),
                  ("exemplar_s_max", "max s/image")]
    image_cols = [("item_id", "image"), ("shape", "H, W"), ("exemplar_area", "exemplar px"),
                  ("others", "nuclei"), ("found", "found"), ("matched", "matched"),
                  ("done", "IoU>=0.85"), ("recall", "recall"), ("precision", "precision"),
                  ("clicked", "robot on"), ("clicks_alone", "clicks alone"),
                  ("clicks_with", "clicks with"), ("exemplar_s", "s")]
    rows = [{**r, "item_id": r["item_id"][:12], "shape": "x".join(map(str, r["shape"]))}
            for r in payload["images"]]
    return "\n".join([
        "# Exemplar mode benchmark (\"segment all like this\")", "",
        f"Command: `{payload['command']}`  ",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch threads "
        f"{m['torch_threads']}, torch {m['torch']}; {m['date_utc']} UTC; "
        f"{payload['elapsed_s']:.0f} s in all  ",
        f"Data: `{cfg['data']}/2d/{DATASET}`, the first {s['images']} held-apart (val) images "
        "in sorted order.", "",
        "## Detection", "", markdown_table([s], summary_cols, 3),
        "## Clicks to segment every nucleus (robot user, NoC@85)", "",
        markdown_table([s], click_cols, {"clicks_alone": 0, "clicks_with_exemplar": 0,
                                          "clicks_saved": 0, "clicks_saved_fraction": 3,
                                          "clicks_per_object_alone": 2,
                                          "clicks_per_object_with": 2,
                                          "exemplar_s_mean": 2, "exemplar_s_max": 2}),
        "## Per image", "",
        markdown_table(rows, image_cols, {"recall": 3, "precision": 3, "clicks_alone": 1,
                                          "clicks_with": 1, "exemplar_s": 2}),
        "## Protocol", "",
        "Exemplar = the nucleus whose area is closest to the image's median nucleus area; "
        "exemplar mode (`napari_ifss.core.exemplar.exemplar.segment_all_like`, shipped few-shot head "
        f"on the shipped click encoder, long side up to {cfg['max_side']} px, default "
        "settings) gets its ground-truth mask as the only label. Found instances are matched "
        f"one-to-one to the other nuclei (Hungarian on IoU, IoU >= {MATCH_IOU}); recall and "
        "precision are pooled over all nuclei of all images, and also averaged per image. "
        f"Clicks: the robot user of `eval/clicker.py` with the shipped click model, NoC at "
        f"IoU {DONE_IOU}, at most {cfg['max_clicks']} clicks per object (never reached = "
        f"{cfg['max_clicks']}). *Alone*: the exemplar's NoC + every other nucleus's NoC from "
        "scratch. *With exemplar mode*: the exemplar's NoC + per other nucleus 0 clicks if "
        f"its matched instance has IoU >= {DONE_IOU}, else the robot's clicks to fix that "
        "instance (the session starts from it as the previous mask: "
        "`InteractiveSession.start_from_mask`), or NoC from scratch when unmatched; + 1 "
        "click per unmatched found instance (deleting it). In images with more than "
        f"{cfg['click_objects']} other nuclei the robot runs on a seeded sample of "
        f"{cfg['click_objects']} (seed {cfg['seed']}) and the sample's mean per nucleus "
        "times the number of nuclei stands for their sum (the *robot on* column); "
        "detection numbers always use every nucleus. The exemplar mode settings were chosen "
        "on dsb2018 training images, never on these.", ""])


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (from the parsed arguments)."""
    argv = ["bench", "exemplar", "--data", str(args.data or default_data_dir()),
            "--json", str(args.json)]
    if args.md:
        argv += ["--md", str(args.md)]
    argv += ["--max-images", str(args.max_images), "--click-objects", str(args.click_objects),
             "--max-clicks", str(args.max_clicks), "--max-side", str(args.max_side),
             "--seed", str(args.seed), "--threads", str(args.threads)]
    return command_line(argv)


def _items(root: Path, max_images: int) -> list:
    items = [it for it in iter_2d(root, [DATASET]) if it.split == "val"]
    if not items:
        raise InvalidInputError(f"no val images under {root / '2d' / DATASET} (expected "
                                "images/<id>.png and masks/<id>.tif)")
    return items[:max_images]


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by parsed ``args``; writes JSON and markdown."""
    import torch

    from ..core.fewshot.fewshot import FewShotSegmenter
    from ..core.interactive.predictor import ClickPredictor
    from ..core.interactive.session import InteractiveSession

    if args.max_images < 1 or args.click_objects < 1 or args.max_clicks < 1:
        raise InvalidInputError("--max-images, --click-objects and --max-clicks must be >= 1")
    torch.set_num_threads(args.threads)
    root = Path(args.data or default_data_dir())
    items = _items(root, args.max_images)
    segmenter = FewShotSegmenter.default(max_side=args.max_side)
    session = InteractiveSession(ClickPredictor.default(cache_size=2))
    settings = ExemplarSettings()
    t0 = time.perf_counter()
    results = []
    for n, item in enumerate(items, start=1):
        res = run_image(item.item_id, item.load_image(), item.load_mask(), segmenter, session,
                        settings, args.click_objects, args.max_clicks, args.seed)
        results.append(res)
        print(f"[{n}/{len(items)}] {item.item_id[:12]}: found {res.found}, matched "
              f"{res.matched}/{res.others}, clicks {res.clicks_alone:.0f} alone vs "
              f"{res.clicks_with:.0f} with ({time.perf_counter() - t0:.0f} s)", flush=True)
    payload = {
        "benchmark": "exemplar", "command": _command(args), "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "settings": {"data": str(root), "dataset": DATASET, "split": "val",
                     "max_images": args.max_images, "click_objects": args.click_objects,
                     "max_clicks": args.max_clicks, "seed": args.seed,
                     "threads": args.threads, "max_side": args.max_side,
                     "match_iou": MATCH_IOU, "done_iou": DONE_IOU,
                     "exemplar": asdict(settings)},
        "summary": summarize(results),
        "images": [r.to_dict() for r in results],
    }
    json_path, md_path = write_report(args.json, payload, markdown(payload), args.md,
                                      one_line_items=("images",))
    print(f"wrote {json_path} and {md_path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``exemplar`` under ``ifss bench``."""
    p = subparsers.add_parser(
        "exemplar", help="exemplar mode on dsb2018: instance recall/precision from one "
                         "exemplar, clicks saved",
        description="Exemplar mode ('segment all like this') on the held-apart dsb2018 "
                    "images: one nucleus is the exemplar, the others are to be found.")
    p.add_argument("--data", default=None, help="data folder (default $IFSS_DATA or "
                                                "../shared/data)")
    p.add_argument("--json", default="docs/benchmarks/exemplar.json", help="JSON report path")
    p.add_argument("--md", default=None, help="markdown path (default: next to the JSON)")
    p.add_argument("--max-images", type=int, default=DEFAULT_IMAGES,
                   help="the first N val images (sorted by id)")
    p.add_argument("--click-objects", type=int, default=DEFAULT_CLICK_OBJECTS,
                   help="robot-clicked nuclei per image at most (a seeded sample beyond)")
    p.add_argument("--max-clicks", type=int, default=20, help="robot clicks per object")
    p.add_argument("--max-side", type=int, default=EXEMPLAR_MAX_SIDE,
                   help="longest side the few-shot network sees")
    p.add_argument("--seed", type=int, default=0, help="seed of the robot's object sample")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(func=run)
    return p
