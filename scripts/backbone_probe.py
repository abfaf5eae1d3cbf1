"""Training-free probe of image encoders for click segmentation (chooses the backbone, #13).

For every evaluation object the robot user of ``eval/clicker.py`` clicks; after each click a
logistic regression is fitted on the encoder features under the clicks (a 5x5 patch of the
stride-4 grid per click, plus the image border as weak background) and classifies every pixel.
No network is trained, so the number says how much an encoder's features separate objects from
their surroundings, the thing a click head has to build on. Reported: mean IoU after 1, 5 and 10
clicks per split, and encoder milliseconds per 512x512 slice measured in the same run.

    python scripts/backbone_probe.py --data ../shared/data --encoders scratch,lite0,lite1,lite2 \
        --max-objects 40 --out docs/benchmarks/backbone_probe.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from napari_ifss.core.interactive.predictor import normalize_slice
from napari_ifss.eval.clicker import Clicker
from napari_ifss.eval.objects import collect_objects
from napari_ifss.models.backbone_weights import pretrained_trunk
from napari_ifss.models.pretrained_encoder import IMAGENET_MEAN, IMAGENET_STD
from napari_ifss.models.registry import default_click_weights, load_click_net

SIDE = 512
STRIDE = 4
PATCH = 2  # half-size of the patch of stride-4 cells taken under each click


def _encoder(name: str):
    """``(B, 3, H, W)`` in [0, 1] -> ``(B, C, H/4, W/4)`` features."""
    if name == "scratch":
        net = load_click_net(default_click_weights()).eval()
        return lambda x: net.encode(x).deep
    trunk = pretrained_trunk(name).eval()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def run(x: torch.Tensor) -> torch.Tensor:
        levels = trunk((x - mean) / std)[1:]  # strides 4 .. 32
        size = levels[0].shape[-2:]
        return torch.cat([levels[0]] + [F.interpolate(f, size=size, mode="bilinear",
                                                      align_corners=False)
                                        for f in levels[1:]], dim=1)
    return run


def _network_input(image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    x = torch.from_numpy(normalize_slice(image))[None]
    h, w = x.shape[-2:]
    s = SIDE / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=s < 1)
    return F.pad(x, (0, -nw % 32, 0, -nh % 32), mode="replicate"), (nh, nw)


def _probe(feats: np.ndarray, gt: np.ndarray, net_size: tuple[int, int],
           n_clicks: int) -> list[float]:
    """IoU after each of ``n_clicks`` robot clicks; ``feats`` (C, h4, w4) standardised."""
    c, h4, w4 = feats.shape
    flat = feats.reshape(c, -1).T
    nh, nw = net_size
    H, W = gt.shape
    border = np.zeros((h4, w4), bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    border[min(h4, -(-nh // STRIDE)):, :] = border[:, min(w4, -(-nw // STRIDE)):] = False
    clicker = Clicker(gt)
    pred = np.zeros_like(gt, dtype=bool)
    samples_x: list[np.ndarray] = []
    samples_y: list[np.ndarray] = []
    ious = []
    for _ in range(n_clicks):
        click = clicker.click(pred)
        if click is None:
            ious.append(ious[-1] if ious else 1.0)
            continue
        r4 = int((click.row + 0.5) * nh / H / STRIDE)
        c4 = int((click.col + 0.5) * nw / W / STRIDE)
        rs = slice(max(0, r4 - PATCH), min(h4, r4 + PATCH + 1))
        cs = slice(max(0, c4 - PATCH), min(w4, c4 + PATCH + 1))
        idx = np.ravel_multi_index(np.mgrid[rs, cs].reshape(2, -1), (h4, w4))
        samples_x.append(flat[idx])
        samples_y.append(np.full(len(idx), int(click.positive)))
        x = np.concatenate(samples_x + [flat[border.reshape(-1)]])
        y = np.concatenate(samples_y + [np.zeros(int(border.sum()), int)])
        weight = np.concatenate([np.ones(sum(len(s) for s in samples_y)),
                                 np.full(int(border.sum()), 0.2)])
        if y.min() == y.max():
            prob = np.full(h4 * w4, float(y[0]))
        else:
            lr = LogisticRegression(C=0.1, max_iter=300, class_weight="balanced")
            prob = lr.fit(x, y, sample_weight=weight).predict_proba(flat)[:, 1]
        grid = torch.from_numpy(prob.reshape(1, 1, h4, w4).astype(np.float32))
        grid = F.interpolate(grid, scale_factor=STRIDE, mode="bilinear", align_corners=False)
        grid = F.interpolate(grid[..., :nh, :nw], size=(H, W), mode="bilinear",
                             align_corners=False)
        pred = grid[0, 0].numpy() > 0.5
        inter = np.logical_and(pred, gt).sum()
        ious.append(float(inter / max(1, np.logical_or(pred, gt).sum())))
    return ious


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--encoders", default="scratch,lite0,lite1,lite2")
    parser.add_argument("--max-objects", type=int, default=40)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    objects = collect_objects(args.data, max_objects=args.max_objects, per_image=3, seed=0)
    encoders = {name: _encoder(name) for name in args.encoders.split(",")}
    results: dict[str, dict[str, list[list[float]]]] = {e: {} for e in encoders}
    timing: dict[str, list[float]] = {e: [] for e in encoders}
    for split, objs in objects.items():
        for obj in objs:
            x, net_size = _network_input(obj.image)
            for name, run in encoders.items():
                t0 = time.perf_counter()
                with torch.inference_mode():
                    feats = run(x)[0].float().numpy()
                if x.shape[-1] == SIDE or x.shape[-2] == SIDE:
                    timing[name].append((time.perf_counter() - t0) * 1000 * SIDE * SIDE
                                        / (x.shape[-1] * x.shape[-2]))
                mu = feats.mean(axis=(1, 2), keepdims=True)
                sd = feats.std(axis=(1, 2), keepdims=True) + 1e-6
                results[name].setdefault(split, []).append(
                    _probe((feats - mu) / sd, obj.mask, net_size, args.clicks))
        print(split, len(objs), {n: round(float(np.mean([r[-1] for r in results[n][split]])), 3)
                                 for n in encoders}, flush=True)
    rows = ["| encoder | ms / 512² slice | " + " | ".join(
        f"{s} IoU@1/5/{args.clicks}" for s in objects) + f" | all IoU@{args.clicks} |",
        "|---" * (3 + len(objects)) + "|"]
    summary = {}
    for name in encoders:
        cells = []
        every = []
        for split in objects:
            arr = np.array(results[name][split])
            every.append(arr)
            cells.append(f"{arr[:, 0].mean():.3f} / {arr[:, 4].mean():.3f} / {arr[:, -1].mean():.3f}")
        allv = np.concatenate(every)
        ms = float(np.median(timing[name])) if timing[name] else float("nan")
        summary[name] = {"ms": ms, "iou_last": float(allv[:, -1].mean()),
                         "per_split": {s: float(np.mean(np.array(results[name][s])[:, -1]))
                                       for s in objects}}
        rows.append(f"| {name} | {ms:.0f} | " + " | ".join(cells) + f" | {allv[:, -1].mean():.3f} |")
    table = "\n".join(rows)
    print(table)
    if args.out:
        counts = ", ".join(f"{s}: {len(o)}" for s, o in objects.items())
        args.out.write_text(
            "# Backbone probe: logistic regression on encoder features under robot clicks\n\n"
            f"Objects (held-apart split of each dataset): {counts}. Machine: 2-core AMD EPYC, "
            f"{args.threads} torch thread(s); timings are medians over the 512-px slices, taken "
            "while other jobs shared the CPU (compare within the table only).\n\n"
            f"    python scripts/backbone_probe.py --data DATA --encoders {args.encoders} "
            f"--max-objects {args.max_objects} --out {args.out}\n\n{table}\n\n"
            f"```json\n{json.dumps(summary, indent=1)}\n```\n")


if __name__ == "__main__":
    main()
