"""Measure the click model's speed on this machine: encoder ms per slice and ms per click.

    ifss train speed [--weights click_concat.safetensors] [--size 512] [--repeats 10]
    ifss train speed --models shipped,random:fcfi:lite0 --threads 2

With ``--models`` several click models are timed in the same run, round-robin (one slice and one
click of each model per round, so load from other programs hits all alike), and each median is
also given as a ratio to the first model's. A model is ``shipped``, a weights file, or
``random:<variant>[:<backbone>]`` (random head weights: speed does not depend on their values).

The encoder time is ``set_image`` on a fresh slice (normalisation + resize + encoder); the click
time is ``predict`` with a growing list of clicks and the previous mask as feedback (zoom-in
off so each click is one head pass). Medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ..core.interactive.predictor import ClickPredictor
from ..core.interactive.prompts import Click
from ..models.registry import build_click_net, default_click_weights
from .tool_command import register, run_standalone


def measure(predictor: ClickPredictor, size: int = 512, repeats: int = 10) -> dict[str, float]:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (size, size), dtype=np.uint8) for _ in range(repeats + 2)]
    enc = []
    for i, image in enumerate(images):
        t = time.perf_counter()
        predictor.set_image(image)
        if i >= 2:  # warm-up
            enc.append(time.perf_counter() - t)
    clicks_ms = []
    prev = None
    clicks: list[Click] = []
    for i in range(repeats + 2):
        clicks.append(Click(float(rng.integers(size)), float(rng.integers(size)), i % 3 != 2))
        t = time.perf_counter()
        prev = predictor.predict(clicks, prev)
        if i >= 2:
            clicks_ms.append(time.perf_counter() - t)
    return {"encoder_ms": 1e3 * statistics.median(enc),
            "click_ms": 1e3 * statistics.median(clicks_ms)}


def _predictor(spec: str) -> ClickPredictor:
    if spec == "shipped":
        return ClickPredictor.from_checkpoint(default_click_weights(), zoom_in=False)
    if spec.startswith("random:"):
        _, variant, *backbone = spec.split(":")
        return ClickPredictor(build_click_net(variant, backbone=backbone[0] if backbone else ""),
                              zoom_in=False)
    return ClickPredictor.from_checkpoint(Path(spec), zoom_in=False)


def compare(specs: list[str], size: int = 512, repeats: int = 10) -> dict[str, dict[str, float]]:
    """Round-robin timing of several models; medians and ratios to ``specs[0]``."""
    predictors = {spec: _predictor(spec) for spec in specs}
    times: dict[str, dict[str, list[float]]] = {s: {"encoder_ms": [], "click_ms": []}
                                               for s in specs}
    for r in range(repeats + 2):
        for spec, predictor in predictors.items():
            result = measure(predictor, size, 1)  # one warm-up-free slice and click per round
            if r >= 2:
                for key, value in result.items():
                    times[spec][key].append(value)
    base = specs[0]
    out = {}
    for spec in specs:
        med = {k: statistics.median(v) for k, v in times[spec].items()}
        out[spec] = {**med, **{k.replace("_ms", "_ratio"): med[k] / statistics.median(
            times[base][k]) for k in med}}
    return out


HELP = "click-model speed on this machine (encoder and per-click ms, ratios in one run)"


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--weights", type=Path, default=None,
                        help="click-model weights (default: the shipped ones)")
    parser.add_argument("--variant", default="fcfi", help="random-init variant if no weights")
    parser.add_argument("--size", type=int, default=512, help="side of the square test slice")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs (medians)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--models", help="comma-separated models to time in the same run "
                                         "(shipped, a weights file, random:<variant>[:<backbone>])")
    parser.set_defaults(func=run)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``speed`` under ``ifss train``."""
    return register(subparsers, "speed", HELP, _arguments)


def main(argv: list[str] | None = None) -> int:
    """``python -m napari_ifss.train.speed`` (the same as ``ifss train speed``)."""
    return run_standalone(_arguments, HELP, argv)


def run(args: argparse.Namespace) -> int:
    """Time the models ``args`` names; prints JSON."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.models:
        table = compare(args.models.split(","), args.size, args.repeats)
        print(json.dumps({"size": args.size, "repeats": args.repeats,
                          "threads": torch.get_num_threads(),
                          "cpu": platform.processor() or platform.machine(),
                          "models": table}, indent=1))
        return 0
    weights = args.weights or (default_click_weights() if default_click_weights().is_file()
                               else None)
    predictor = (ClickPredictor.from_checkpoint(weights, zoom_in=False) if weights
                 else ClickPredictor(build_click_net(args.variant), zoom_in=False))
    result = measure(predictor, args.size, args.repeats)
    result.update(size=args.size, repeats=args.repeats, threads=torch.get_num_threads(),
                  device=str(predictor.device), cpu=platform.processor() or platform.machine(),
                  variant=predictor.variant)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
