"""Quick sanity evaluation of click-model checkpoints on a handful of VAL items.

The benchmark's robot user and protocol (:func:`napari_ifss.eval.interactive_protocol.run_object`,
rule ``largest_region``, no early stop): the first click at the object's interior point
farthest from its border, each next click at the interior of the largest error region. Reports
mean IoU after 1/3/5 clicks per data set. This is a training check only; the benchmark is ``ifss bench
interactive``.

    ifss train check runs/x/click_fcfi.safetensors [more.safetensors ...] --per-source 8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from skimage.measure import label as cc_label

from ..core.data.datasets import default_data_dir, iter_2d, iter_3d, split_of_slice
from ..core.interactive.predictor import ClickPredictor
from ..eval.interactive_protocol import run_object
from ..eval.objects import EvalObject
from .tool_command import register, run_standalone

CLICKS = (1, 3, 5)


def val_objects(root: Path, per_source: int, seed: int = 0) -> list[tuple[str, np.ndarray,
                                                                         np.ndarray]]:
    """Up to ``per_source`` ``(source, image, mask)`` val objects per data set (one per image)."""
    rng = np.random.default_rng(seed)
    found: dict[str, list] = {}
    for item in iter_2d(root, ["dsb2018", "coco_mval"]):
        if item.split != "val" or len(found.get(item.dataset, [])) >= per_source:
            continue
        labels = item.load_mask()
        found.setdefault(item.dataset, []).append((item.load_image(), labels))
    for vol in iter_3d(root, ["cells3d_nuclei", "isbi2012_em", "totalseg_ct"]):
        image, labels, _ = vol.load()
        zs = [z for z in range(image.shape[0]) if split_of_slice(z, image.shape[0]) == "val"]
        for z in rng.permutation(zs)[:per_source]:
            lab = cc_label(labels[z] == 0, connectivity=1) if "isbi" in vol.dataset else labels[z]
            found.setdefault(vol.dataset, []).append((image[z], lab))
    out = []
    for source, pairs in found.items():
        for image, labels in pairs:
            ids, counts = np.unique(labels[labels > 0], return_counts=True)
            ids = ids[counts >= 64]
            if len(ids):
                oid = ids[rng.integers(len(ids))]
                out.append((source, image, labels == oid))
    return out


def robot_ious(predictor: ClickPredictor, image: np.ndarray, gt: np.ndarray,
               n_clicks: int = 5) -> list[float]:
    """IoU after each of ``n_clicks`` robot clicks on the object ``gt`` (bool ``(H, W)``) of
    ``image``; once the mask is perfect the last IoU repeats."""
    result = run_object(predictor, EvalObject.of_mask(image, gt), max_clicks=n_clicks,
                        stop_iou=None)
    ious = list(result.ious)
    return ious + [ious[-1]] * (n_clicks - len(ious))


def evaluate(weights: list[Path], root: Path, per_source: int) -> dict:
    objects = val_objects(root, per_source)
    results = {}
    for path in weights:
        predictor = ClickPredictor.from_checkpoint(path, device="cpu")
        per: dict[str, list[list[float]]] = {}
        for source, image, gt in objects:
            per.setdefault(source, []).append(robot_ious(predictor, image, gt))
        table = {s: {f"iou@{k}": float(np.mean([r[k - 1] for r in rs])) for k in CLICKS}
                 | {"n": len(rs)} for s, rs in per.items()}
        allr = [r for rs in per.values() for r in rs]
        table["all"] = {f"iou@{k}": float(np.mean([r[k - 1] for r in allr])) for k in CLICKS}
        table["all"]["n"] = len(allr)
        results[f"{predictor.variant}:{path}"] = table
    return results


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("weights", nargs="+", type=Path, help="click-model weights files")
    parser.add_argument("--data", type=Path, default=None,
                        help="data folder laid out like ../shared/data (default $IFSS_DATA)")
    parser.add_argument("--per-source", type=int, default=8, help="val objects per data set")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(func=run)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``check`` under ``ifss train``."""
    return register(subparsers, "check", __doc__.splitlines()[0], _arguments)


def main(argv: list[str] | None = None) -> int:
    """``python -m napari_ifss.train.sanity_eval`` (the same as ``ifss train check``)."""
    return run_standalone(_arguments, __doc__.splitlines()[0], argv)


def run(args: argparse.Namespace) -> int:
    """Evaluate ``args.weights``; prints IoU@1/3/5 per data set."""
    res = evaluate(args.weights, args.data or default_data_dir(), args.per_source)
    for name, table in res.items():
        print(name)
        for source, row in table.items():
            print(f"  {source:16s} n={row['n']:3d} " + " ".join(
                f"{k}={row[k]:.3f}" for k in row if k != "n"))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
