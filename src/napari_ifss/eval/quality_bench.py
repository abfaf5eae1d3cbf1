"""``ifss bench quality``: calibrate JFS scores against true per-slice Dice on real volumes.

For each volume object (few-shot benchmark objects) and K: propagate, JFS-score every
propagated slice, then report Spearman(score, true Dice) pooled and per object, AUROC for
flagging slices with Dice < 0.5 (lower score = flag), arbitration accuracy against degraded
masks, the cost of scoring relative to propagation, badge thresholds suggested by the data,
and (``--annotate-next``) the "annotate next" comparison. Writes JSON + markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..core.data.datasets import default_data_dir, iter_3d
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.volume_io import sample_window
from ..core.quality.quality import GOOD_THRESHOLD, REVIEW_THRESHOLD, distance_factor, size_factor
from .fewshot_protocol import VolumeContext, bench_objects
from .quality_protocol import DEGRADATIONS, QualitySetup, run_annotate_next, run_quality_case
from .report import command_line, machine_info, markdown_table, write_report

FLAG_DICE = 0.5
GOOD_DICE = 0.7


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (NaN with < 3 points or a constant input)."""
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def auroc_flag(scores: list[float], dices: list[float], below: float = FLAG_DICE) -> float:
    """AUROC of ``-score`` for detecting slices with Dice < ``below`` (NaN if one class)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(dices) < below
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, -np.asarray(scores)))


def suggest_thresholds(scores: list[float], dices: list[float]) -> dict:
    """Badge thresholds suggested by the data (scores rounded to 0.05): "review" maximises
    Youden's J for flagging Dice < 0.5 (flag = score below it); "good" maximises the share of
    slices with Dice >= 0.7 among those scoring at or above it, keeping >= 25% of slices."""
    s, d = np.asarray(scores), np.asarray(dices)
    if s.size == 0:
        return {"review": None, "good": None}
    cands = np.unique(np.round(s / 0.05) * 0.05)
    bad = d < FLAG_DICE
    best, review = -1.0, None
    for t in cands:
        flag = s < t
        if bad.any() and (~bad).any():
            j = flag[bad].mean() - flag[~bad].mean()
            if j > best:
                best, review = j, round(float(t), 2)
    prec, good = -1.0, None
    for t in cands:
        keep = s >= t
        if keep.mean() >= 0.25 and (d[keep] >= GOOD_DICE).mean() > prec:
            prec, good = float((d[keep] >= GOOD_DICE).mean()), round(float(t), 2)
    return {"review": review, "youden_j": float(best), "good": good,
            "good_share_dice_ge_0.7": prec,
            "review_share_dice_lt_0.5": float(bad[s < review].mean())
            if review is not None and (s < review).any() else None}


SLICES_SCALE = 3.0  # the distance scale in slices before issue #20


def score_with_distance(back_iou: float, size_ratio: float, distance: float,
                        scale: float = SLICES_SCALE) -> float:
    """The JFS score with the distance counted as given (``distance / scale``): in slices
    with scale 3 it is the score before issue #20, in object widths with scale
    ``DISTANCE_SCALE`` today's."""
    return back_iou * size_factor(size_ratio) / (1.0 + max(0.0, distance) / scale)


# The score's factors, for the ablation columns: each row drops factors from the full score;
# "distance_in_slices" is the score before issue #20 (distance in slices, scale 3), on the
# same back-predictions, so that a run compares both distances on the same results.
ABLATIONS = {
    "without_size": lambda s: s["back_iou"] * distance_factor(s["widths"]),
    "back_iou_only": lambda s: s["back_iou"],
    "size_only": lambda s: size_factor(s["size_ratio"]),
    "distance_in_slices": lambda s: score_with_distance(s["back_iou"], s["size_ratio"],
                                                        s["distance"]),
}


def _stats(cases: list[dict]) -> dict:
    sc = [s["score"] for c in cases for s in c["slices"]]
    dc = [s["dice"] for c in cases for s in c["slices"]]
    ablation = {}
    for name, part in ABLATIONS.items():
        vals = [part(s) for c in cases for s in c["slices"]]
        ablation[f"spearman_{name}"] = spearman(vals, dc)
        ablation[f"auroc_{name}"] = auroc_flag(vals, dc)
    arb = [a for c in cases for a in c["arbitration"]]
    per_obj = [spearman([s["score"] for s in c["slices"]], [s["dice"] for s in c["slices"]])
               for c in cases]
    prop_s = sum(c["propagation_s"] for c in cases)
    n_prop = sum(c["propagated_slices"] for c in cases)
    score_s = sum(c["scoring_s"] for c in cases)
    n_score = sum(c["scored_slices"] for c in cases)
    cold_s = sum(c["scoring_cold_s"] for c in cases)
    return {"cases": len(cases), "slices": len(sc), "flagged_true": int(np.sum(np.asarray(dc) < FLAG_DICE)),
            "spearman_pooled": spearman(sc, dc),
            "spearman_per_object_median": float(np.nanmedian(per_obj)) if np.isfinite(per_obj).any() else float("nan"),
            "auroc": auroc_flag(sc, dc),
            "arbitration": float(np.mean([a["correct"] for a in arb])) if arb else float("nan"),
            "arbitration_n": len(arb),
            **{f"arb_{d}": float(np.mean([a["correct"] for a in arb if a["degradation"] == d]))
               if any(a["degradation"] == d for a in arb) else float("nan") for d in DEGRADATIONS},
            "missed_slices": sum(len(c["missed_slices"]) for c in cases),
            "s_per_propagated_slice": prop_s / max(n_prop, 1),
            "s_per_scored_slice": score_s / max(n_score, 1),
            "cost_ratio": (score_s / max(n_score, 1)) / (prop_s / max(n_prop, 1)) if n_prop else float("nan"),
            "s_per_scored_slice_cold": cold_s / max(n_score, 1),
            "cost_ratio_cold": (cold_s / max(n_score, 1)) / (prop_s / max(n_prop, 1)) if n_prop else float("nan"),
            **ablation, "thresholds": suggest_thresholds(sc, dc)}


def markdown(p: dict) -> str:
    m = p["machine"]
    lines = ["# JFS quality-score calibration", "",
             f"Command: `{p['command']}`  ", f"Machine: {m['cpu']}, {m['logical_cpus']} logical "
             f"CPUs, torch threads {m['torch_threads']}, torch {m['torch']}; {m['date_utc']} UTC  ",
             f"Data: `{p['data']}`; propagation: {p.get('propagation', 'head')}; wall "
             f"{p['wall_s']:.0f} s" + (f"; tables recomputed from the saved records with "
                                        f"`{p['reported_again']}`" if "reported_again" in p
                                        else ""), "",
             "Scored slices = propagated slices holding a mask (JFS cannot judge an empty "
             "result); *missed* = slices with the object where propagation gave nothing. "
             "Spearman: JFS score vs true slice Dice; AUROC: low score flags Dice < 0.5; "
             "arbitration: JFS keeps the true mask over a degraded one; cost ratio = s per "
             "scored slice / s per propagated slice (same run); *cached*: scoring reuses the "
             "encodings propagation cached, *cold*: cache cleared, every scored and user slice "
             "encoded again.", ""]
    rows = [{"k": "all" if k == "all" else k, **s} for k, s in p["summary"].items()]
    lines.append(markdown_table(rows, [
        ("k", "K"), ("cases", "objects"), ("slices", "scored slices"),
        ("flagged_true", "Dice<0.5"), ("missed_slices", "missed"),
        ("spearman_pooled", "Spearman pooled"),
        ("spearman_per_object_median", "Spearman per-object median"), ("auroc", "AUROC"),
        ("arbitration", "arbitration acc."), ("arbitration_n", "pairs"),
        ("arb_eroded", "vs eroded"), ("arb_shifted", "vs shifted"),
        ("arb_other_object", "vs other object"), ("s_per_propagated_slice", "s/prop. slice"),
        ("s_per_scored_slice", "s/scored slice (cached)"), ("cost_ratio", "cost ratio (cached)"),
        ("s_per_scored_slice_cold", "s/scored slice (cold)"),
        ("cost_ratio_cold", "cost ratio (cold)")], digits=3))
    lines += ["", "Which factor of the score does what (pooled Spearman / AUROC; full score = "
              "back-prediction IoU x distance factor x size factor):", ""]
    lines.append(markdown_table(rows, [
        ("k", "K"), ("spearman_pooled", "Spearman, full"), ("auroc", "AUROC, full"),
        ("spearman_without_size", "Spearman, without size"),
        ("auroc_without_size", "AUROC, without size"),
        ("spearman_back_iou_only", "Spearman, back IoU only"),
        ("auroc_back_iou_only", "AUROC, back IoU only"),
        ("spearman_size_only", "Spearman, size only"), ("auroc_size_only", "AUROC, size only"),
        ("spearman_distance_in_slices", "Spearman, distance in slices (before #20)"),
        ("auroc_distance_in_slices", "AUROC, distance in slices (before #20)")],
        digits=3))
    lines += ["", "Suggested badge thresholds (all K; review: max Youden J for Dice < 0.5, good: "
              "max share of Dice >= 0.7 at or above it, >= 25% of slices kept): "
              + str(p["summary"]["all"]["thresholds"]), "",
              "## Per object", ""]
    rows = [{"obj": f"{c['dataset']}/{c['object']}", "k": c["k"],
             "sup": " ".join(map(str, c["support"])), "n": len(c["slices"]),
             "rho": c["spearman"], "auc": c["auroc"],
             "md": float(np.mean([s["dice"] for s in c["slices"]])) if c["slices"] else float("nan"),
             "ms": float(np.mean([s["score"] for s in c["slices"]])) if c["slices"] else float("nan")}
            for c in p["objects"]]
    lines.append(markdown_table(rows, [("obj", "volume/object"), ("k", "K"), ("sup", "support z"),
                                       ("n", "scored"), ("md", "mean Dice"), ("ms", "mean JFS"),
                                       ("rho", "Spearman"), ("auc", "AUROC")], digits=3))
    if p["annotate_next"]:
        lines += ["", "## Annotate next (from K = 1; final volume Dice, annotated slices = truth)",
                  ""]
        rows = []
        for a in p["annotate_next"]:
            for i in range(len(a["jfs_next"])):
                rows.append({"obj": f"{a['dataset']}/{a['object']}", "add": f"+{i + 1}",
                             "j": a["jfs_next"][i], "f": a["farthest"][i],
                             "e": a["evenly_spaced"][i],
                             "r": a["random"][i]})
        for i in range(max(len(a["jfs_next"]) for a in p["annotate_next"])):
            sel = [a for a in p["annotate_next"] if len(a["jfs_next"]) > i]
            rows.append({"obj": "**mean**", "add": f"+{i + 1}",
                         **{c: float(np.mean([a[n][i] for a in sel]))
                            for c, n in (("j", "jfs_next"), ("f", "farthest"),
                                         ("e", "evenly_spaced"),
                                         ("r", "random"))}})
        lines.append(markdown_table(rows, [("obj", "volume/object"), ("add", "added"),
                                           ("j", "JFS next"),
                                           ("f", "evenly spaced, added (farthest slice)"),
                                           ("e", "evenly spaced, placed afresh"),
                                           ("r", "random (3 seeds)")], digits=3))
    return "\n".join(lines) + "\n"


def report_again(path: str, md: str | None = None) -> int:
    """Recompute the summary and the tables of a saved run (``--from-json``): no model runs;
    the per-slice records are the run's own, the summary columns are today's code."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    cases = payload["objects"]
    summary = {str(k): _stats([c for c in cases if c["k"] == k]) for k in payload["ks"]}
    summary["all"] = _stats(cases)
    payload["summary"] = summary
    payload["reported_again"] = command_line()
    json_path, md_path = write_report(path, payload, markdown(payload), md)
    print(f"wrote {json_path} and {md_path}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.from_json:
        return report_again(args.from_json, args.md)
    torch.set_num_threads(args.threads)
    root = Path(args.data or default_data_dir())
    ks = sorted(set(args.k))
    from ..models.fewshot_weights import default_fewshot_weights

    seg = FewShotSegmenter.from_checkpoint(args.weights or default_fewshot_weights(),
                                           args.click_weights, cache_size=1024)
    t0, cases, nexts = time.time(), [], []
    for vol in iter_3d(root, datasets=args.datasets):
        image, labels, spacing = vol.load()
        setup = QualitySetup(args.propagation, spacing)
        ctx = VolumeContext(vol.dataset, image, sample_window(image), {})
        objects = bench_objects(vol.dataset, labels)[:args.max_objects]
        for obj, gt in objects:
            ids = np.unique(labels[gt])
            others = np.where(np.isin(labels, ids), 0, labels) if len(objects) > 1 else None
            for k in ks:
                res = run_quality_case(ctx, gt, others, k, seg, setup)
                if res is None:
                    continue
                sc = [s["score"] for s in res["slices"]]
                dc = [s["dice"] for s in res["slices"]]
                cases.append({"dataset": vol.dataset, "object": obj, "k": k,
                              "spearman": spearman(sc, dc), "auroc": auroc_flag(sc, dc), **res})
                print(f"{vol.dataset}/{obj} K={k}: {len(sc)} slices, rho "
                      f"{cases[-1]['spearman']:.2f} ({time.time() - t0:.0f} s)", flush=True)
            if args.annotate_next:
                a = run_annotate_next(ctx, gt, seg, extra=2, setup=setup)
                if a is not None:
                    nexts.append({"dataset": vol.dataset, "object": obj, **a})
        seg.clear_cache()
    summary = {str(k): _stats([c for c in cases if c["k"] == k]) for k in ks}
    summary["all"] = _stats(cases)
    payload = {"benchmark": "quality", "command": command_line(), "machine": machine_info(),
               "data": str(root), "weights": str(args.weights or "shipped"), "ks": ks,
               "propagation": args.propagation,
               "thresholds_at_run": {"review": REVIEW_THRESHOLD, "good": GOOD_THRESHOLD},
               "summary": summary, "objects": cases, "annotate_next": nexts,
               "wall_s": time.time() - t0}
    json_path, md_path = write_report(args.json, payload, markdown(payload), args.md)
    print(f"wrote {json_path} and {md_path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``quality`` under ``ifss bench``."""
    p = subparsers.add_parser("quality", help="calibrate JFS quality scores against true Dice",
                              description=__doc__)
    p.add_argument("--data", default=None, help="data folder (default $IFSS_DATA or "
                                                "../shared/data)")
    p.add_argument("--json", default="docs/benchmarks/quality.json", help="JSON report path")
    p.add_argument("--md", default=None, help="markdown path (default: next to the JSON)")
    p.add_argument("--weights", default=None, help="few-shot head checkpoint (default shipped)")
    p.add_argument("--click-weights", default=None, help="click-model checkpoint (encoder)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2], help="support counts")
    p.add_argument("--datasets", nargs="+", default=None, help="only these 3d datasets")
    p.add_argument("--max-objects", type=int, default=5, help="objects per volume")
    p.add_argument("--annotate-next", action="store_true", help="also run 'annotate next'")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--propagation", choices=("learner", "head"), default="learner",
                   help="what produces the results to score: the per-volume learner (the "
                        "default of the docks, API and CLI) or the few-shot head")
    p.add_argument("--from-json", default=None, metavar="JSON",
                   help="recompute the summary and tables of a saved run (no model runs)")
    p.set_defaults(func=run)
    return p
