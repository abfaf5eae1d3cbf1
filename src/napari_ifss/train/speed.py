"""Measure the click model's speed on this machine: encoder ms per slice and ms per click.

    python -m napari_ifss.train.speed [--weights click_fcfi.safetensors] [--size 512] [--repeats 10]

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

from ..core.predictor import ClickPredictor
from ..core.prompts import Click
from ..models.registry import build_click_net, default_click_weights


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="click-model speed on this machine")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--variant", default="fcfi", help="random-init variant if no weights")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
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
