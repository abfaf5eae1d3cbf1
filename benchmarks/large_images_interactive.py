"""The click benchmark on the real images longer than 1024 px: focus windows (the default)
against the whole image shrunk (issue #20, item 1).

    python benchmarks/large_images_interactive.py [--data ../shared/data/2d] \
        [--md docs/benchmarks/large_images_interactive.md]

Every image of the 2D datasets under ``--data`` whose long side exceeds 1024 px (in
``../shared/data``: 6 dsb2018 nuclei images of 1272 x 603 and 1388 x 1040 px) is linked into a
temporary ``images/`` + ``masks/`` folder and scored by ``ifss bench interactive --split all``
(the shipped click model, 20 clicks, up to 5 objects per image, ignore value 255, one torch
thread) twice in this run: as shipped (``--focus-above 1024``) and with ``--focus-above none``.
Reported: both summaries and the paired NoC@90 difference with its 95 % bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from napari_ifss.cli import main as ifss
from napari_ifss.core.data.datasets import read_array, split_of
from napari_ifss.eval.paired import paired_differences
from napari_ifss.eval.report import emit, script_header

LONG_SIDE = 1024
METRICS = ("noc@85", "noc@90", "nof20@90", "iou@1", "iou@5")
HEADERS = {"noc@85": "NoC@85", "noc@90": "NoC@90", "nof20@90": "NoF20@90", "iou@1": "IoU@1",
           "iou@5": "IoU@5"}


def link_large_images(data: Path, folder: Path) -> list[str]:
    """Symlink each ``DATASET/images/X`` longer than :data:`LONG_SIDE` px with its
    ``DATASET/masks/X.*`` into ``folder``; returns the linked stems."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    stems = []
    for image in sorted(data.glob("*/images/*")):
        masks = sorted(image.parent.parent.glob(f"masks/{image.stem}.*"))
        if not masks or max(read_array(image).shape[:2]) <= LONG_SIDE:
            continue
        (folder / "images" / image.name).symlink_to(image.resolve())
        (folder / "masks" / masks[0].name).symlink_to(masks[0].resolve())
        stems.append(f"{image.parent.parent.name}/{image.stem}")
    return stems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/2d"))
    parser.add_argument("--md", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "large_images"
        stems = link_large_images(args.data, folder)
        for focus in ("1024", "none"):
            out = Path(tmp) / f"focus_{focus}.json"
            code = ifss(["bench", "interactive", "--data", str(folder), "--split", "all",
                         "--methods", "concat", "--max-clicks", "20", "--max-objects", "all",
                         "--per-image", "5", "--seed", "0", "--rule", "largest_region",
                         "--ignore-value", "255", "--threads", "1", "--focus-above", focus,
                         "--json", str(out)])
            if code != 0:
                raise SystemExit(f"ifss bench interactive failed ({code})")
            runs[focus] = json.loads(out.read_text())
    objects = [{**o, "method": f"focus_above={focus}"} for focus, r in runs.items()
               for o in r["objects"]]
    diff = [d for d in paired_differences(objects, "focus_above=none") if d["split"] == "all"]
    lines = script_header("Clicks on the real images longer than 1024 px (issue #20, item 1)",
                          "python benchmarks/large_images_interactive.py --md "
                          "docs/benchmarks/large_images_interactive.md",
                          time.perf_counter() - t0) + [
        f"{len(stems)} images ({', '.join(stems)}); "
        f"{len(runs['none']['objects'])} objects; the shipped click model with focus windows "
        "(default on images longer than 1024 px) and with the whole image shrunk to 512 px. "
        f"Not held out: {sum(split_of(*s.split('/')) == 'train' for s in stems)} of these "
        "images are in the click model's training split (docs/models/interactive.md); the "
        "table compares two ways of showing the same images to the same model.",
        "", "| predictor | " + " | ".join(HEADERS[m] for m in METRICS) + " |",
        "|---" * (len(METRICS) + 1) + "|"]
    for focus, r in runs.items():
        row = r["summary"][-1]
        name = "focus windows (default)" if focus == "1024" else "whole image shrunk"
        lines.append(f"| {name} | " + " | ".join(
            f"{row[m]:.3f}" if m.startswith("iou") else f"{row[m]:.2f}" if m.startswith("noc")
            else f"{row[m]}" for m in METRICS) + " |")
    for d in diff:
        lines += ["", f"Paired NoC@90, focus windows minus whole image: {d['mean']:+.2f} "
                      f"[{d['lo']:+.2f}, {d['hi']:+.2f}] over {d['n']} objects."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
