"""Clicks on CT soft tissue: the model's intensity window against automatic percentiles and
against windowing by hand (issue #20, item 7).

    python benchmarks/ct_windows.py [--md docs/benchmarks/ct_windows.md]

30 synthetic int16 CT slices of 512 x 512 (seeded): a body of soft tissue (20-40 HU, noise
sigma 6-14 HU) in air (-1000 HU) with one or two bones (700-1200 HU), and an organ 20-45 HU
brighter than the tissue around it (an ellipse of 25-70 px semi-axes at a random place in the
body). The robot user (``eval.clicker.Clicker``: the object's deepest point, then the largest
error region) clicks 3 times; IoU after 1 and 3 clicks, mean with 95 % bootstrap intervals,
and paired differences. Compared, in the same run with the shipped click model:

* *automatic*: no window, each slice's 0.5-99.5 percentiles (the default);
* *by hand*: the user clips the slice to the soft-tissue window (-160, 240) HU themselves and
  gives the clipped slice without a window (what one had to do before ``window=``);
* *window "soft tissue"*: ``window="soft tissue"`` (the preset, -160 to 240 HU);
* *window fitted*: ``window=(tissue - 60, organ + 60)``, a tight window a radiologist might set.

Target (issue #20): 1-click IoU with a window >= 0.8 and never below windowing by hand.
One torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from napari_ifss.core.interactive.predictor import ClickPredictor
from napari_ifss.eval.clicker import Clicker
from napari_ifss.eval.metrics import iou
from napari_ifss.eval.paired import interval_text, mean_interval
from napari_ifss.eval.report import benchmark_parser, emit, script_header

N_SLICES, SIDE, CLICKS = 30, 512, 3
SOFT = (-160.0, 240.0)


def ct_slice(seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """``(image int16 HU, organ bool, (tissue HU, organ HU))`` of one synthetic slice."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:SIDE, :SIDE].astype(float)
    tissue, contrast, noise = rng.uniform(20, 40), rng.uniform(20, 45), rng.uniform(6, 14)
    img = -1000 + rng.normal(0, 10, (SIDE, SIDE))
    body = (rr - 256) ** 2 / 230 ** 2 + (cc - 256) ** 2 / 200 ** 2 < 1
    img[body] = tissue + rng.normal(0, noise, int(body.sum()))
    a, b = rng.uniform(25, 70, 2)
    r0, c0 = rng.uniform(150, 360), rng.uniform(150, 360)
    angle = rng.uniform(0, np.pi)
    u = (rr - r0) * np.cos(angle) + (cc - c0) * np.sin(angle)
    v = -(rr - r0) * np.sin(angle) + (cc - c0) * np.cos(angle)
    organ = (u / a) ** 2 + (v / b) ** 2 < 1
    img[organ] += contrast
    for _ in range(int(rng.integers(1, 3))):
        br, bc, rad = rng.uniform(120, 400), rng.uniform(120, 400), rng.uniform(12, 30)
        bone = (rr - br) ** 2 + (cc - bc) ** 2 < rad ** 2
        bone &= ~organ
        img[bone] = rng.uniform(700, 1200) + rng.normal(0, 20, int(bone.sum()))
    return img.astype(np.int16), organ, (tissue, tissue + contrast)


def clicks_iou(pred: ClickPredictor, image: np.ndarray, gt: np.ndarray,
               window: tuple[float, float] | str | None) -> list[float]:
    """IoU after each of the robot's clicks."""
    from napari_ifss.core.normalize import as_window

    pred.set_image(image, window=as_window(window))
    robot, prob, mask, out = Clicker(gt), None, np.zeros_like(gt), []
    for _ in range(CLICKS):
        if robot.click(mask) is None:
            out.append(out[-1])
            continue
        prob = pred.predict(list(robot.clicks), prob)
        mask = prob > 0.5
        out.append(iou(mask, gt))
    return out


def main() -> None:
    parser = benchmark_parser(__doc__)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pred = ClickPredictor.default(device="cpu")
    t0 = time.perf_counter()
    names = ("automatic", "by hand (clipped to -160, 240)", "window \"soft tissue\"",
             "window fitted (tissue - 60, organ + 60)")
    res: dict[str, list[list[float]]] = {n: [] for n in names}
    for seed in range(N_SLICES):
        image, organ, (tissue, bright) = ct_slice(seed)
        clipped = np.clip(image, *SOFT).astype(np.int16)
        runs = ((image, None), (clipped, None), (image, "soft tissue"),
                (image, (tissue - 60.0, bright + 60.0)))
        for name, (img, window) in zip(names, runs, strict=True):
            res[name].append(clicks_iou(pred, img, organ, window))
        print(seed, {n: round(r[-1][0], 3) for n, r in res.items()}, flush=True)
    arr = {n: np.asarray(r) for n, r in res.items()}
    lines = script_header("Clicks on CT soft tissue: intensity windows (issue #20, item 7)",
                          "python benchmarks/ct_windows.py --md docs/benchmarks/ct_windows.md",
                          time.perf_counter() - t0) + [
        f"{N_SLICES} synthetic 512 x 512 int16 CT slices (soft-tissue organ 20-45 HU above the "
        "tissue, air and bone in the slice; see the script's docstring); shipped click model, "
        "robot clicks; mean IoU with 95 % bootstrap intervals.", "",
        "| intensity | IoU@1 | IoU@3 | IoU@1 >= 0.8 |", "|---|---|---|---|"]
    for n in names:
        a = arr[n]
        lines.append(f"| {n} | {interval_text(a[:, 0])} | {interval_text(a[:, -1])} | "
                     f"{int((a[:, 0] >= 0.8).sum())}/{len(a)} |")
    lines += ["", "Paired differences of IoU@1 (same slices, same clicks rule):", "",
              "| comparison | mean difference | 95 % interval | slices better / worse |",
              "|---|---|---|---|"]
    for a_name, b_name in ((names[2], names[1]), (names[2], names[0]), (names[3], names[1])):
        d = arr[a_name][:, 0] - arr[b_name][:, 0]
        lo, hi = mean_interval(d, 2000)
        lines.append(f"| {a_name} - {b_name} | {d.mean():+.3f} | [{lo:+.3f}, {hi:+.3f}] | "
                     f"{int((d > 0.005).sum())} / {int((d < -0.005).sum())} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
