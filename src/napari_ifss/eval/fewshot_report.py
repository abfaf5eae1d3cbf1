"""Summary tables of ``ifss bench fewshot`` (aggregation + markdown via ``eval.report``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fewshot_protocol import METHODS
from .report import markdown_table


def _mean(values: Sequence[float]) -> float:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def summarize(cases: list[dict], sets: list[dict], ks: Sequence[int]) -> list[dict]:
    """Per K: mean volume Dice over all volume objects per method, margin of the model over the
    better baseline, mean held-out-block Dice, and the 2D means."""
    rows = []
    for k in ks:
        sel = [c for c in cases if c["k"] == k]
        row: dict = {"k": k, "objects": len(sel)}
        for m in METHODS:
            row[m] = _mean([c["methods"][m]["dice_volume"] for c in sel])
            row[f"{m}_val_block"] = _mean([c["methods"][m]["dice_val_block"] for c in sel])
            row[f"{m}_slice"] = _mean([c["methods"][m]["dice_slice_mean"] for c in sel])
        row["margin"] = row["fewshot"] - max(row["copy_nearest"], row["random_forest"])
        wins = [c for c in sel if c["methods"]["fewshot"]["dice_volume"] >=
                max(c["methods"]["copy_nearest"]["dice_volume"],
                    c["methods"]["random_forest"]["dice_volume"])]
        row["objects_won"] = len(wins)
        s2 = [s for s in sets if s["k"] == k]
        row["sets_2d"] = len(s2)
        row["fewshot_2d"] = _mean([s["fewshot"] for s in s2])
        row["random_forest_2d"] = _mean([s["random_forest"] for s in s2])
        rows.append(row)
    return rows


def markdown(payload: dict) -> str:
    """The markdown report of a benchmark payload."""
    m = payload["machine"]
    lines = ["# Few-shot propagation benchmark", "",
             f"Command: `{payload['command']}`  ",
             f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch threads "
             f"{m['torch_threads']}, torch {m['torch']}; {m['date_utc']} UTC  ",
             f"Data: `{payload['data']}`; click encoder: "
             f"`{(payload.get('click_encoder') or {}).get('file')}` sha256 "
             f"`{str((payload.get('click_encoder') or {}).get('sha256'))[:12]}`", "",
             "## Volumes: mean Dice over objects (non-support slices)", "",
             "Volume Dice over all non-support slices; *held-out* = only the last z block of "
             "each volume, which no model trained on (objects present there only); margin = "
             "few-shot minus the better baseline; objects won = objects where few-shot >= both "
             "baselines.", ""]
    cols = [("k", "K"), ("objects", "objects"), ("fewshot", "few-shot"),
            ("copy_nearest", "copy nearest"), ("random_forest", "random forest"),
            ("margin", "margin"), ("objects_won", "objects won"),
            ("fewshot_val_block", "few-shot held-out"),
            ("copy_nearest_val_block", "copy held-out"),
            ("random_forest_val_block", "RF held-out"),
            ("fewshot_slice", "few-shot slice-mean"), ("copy_nearest_slice", "copy slice-mean"),
            ("random_forest_slice", "RF slice-mean")]
    lines.append(markdown_table(payload["summary_3d"], cols, 3))
    lines += ["## Per object (volume Dice)", ""]
    rows = [{"case": f"{c['dataset']}/{c['object']}", "k": c["k"],
             "support": " ".join(map(str, c["support"])),
             **{mm: c["methods"][mm]["dice_volume"] for mm in METHODS},
             "val": c["methods"]["fewshot"]["dice_val_block"],
             "sec": c["methods"]["fewshot"]["seconds"]} for c in payload["volumes"]]
    lines.append(markdown_table(rows, [
        ("case", "volume/object"), ("k", "K"), ("support", "support z"),
        ("fewshot", "few-shot"), ("copy_nearest", "copy nearest"),
        ("random_forest", "random forest"), ("val", "few-shot held-out"),
        ("sec", "few-shot s")], {"sec": 1, "fewshot": 3, "copy_nearest": 3,
                                 "random_forest": 3, "val": 3}))
    if payload["sets_2d"]:
        lines += ["## 2D sets (support: train split, queries: val split; mean Dice)", ""]
        lines.append(markdown_table(payload["sets_2d"], [
            ("set", "set"), ("k", "K"), ("n_queries", "queries"), ("fewshot", "few-shot"),
            ("random_forest", "random forest")], 3))
        lines.append(markdown_table(payload["summary_3d"], [
            ("k", "K"), ("sets_2d", "sets"), ("fewshot_2d", "few-shot mean"),
            ("random_forest_2d", "random forest mean")], 3))
    if payload.get("speed"):
        s = payload["speed"]
        lines += ["## Speed (synthetic 256x256 stack, same run)", "",
                  f"- encoder: {s['encoder_ms_per_slice']:.1f} ms per slice",
                  f"- propagation with cached features (head only): "
                  f"{s['propagation_slices_per_s_cached']:.1f} slices/s",
                  f"- propagation end to end (encoder included): "
                  f"{s['propagation_slices_per_s_end_to_end']:.1f} slices/s",
                  f"- random forest (features + prediction): "
                  f"{s['random_forest_s_per_slice']:.2f} s per slice", ""]
    if payload.get("memory"):
        lines += ["## Memory of a dask-streamed propagation (fresh process per depth)", ""]
        lines.append(markdown_table(payload["memory"], [
            ("depth", "slices"), ("slices", "propagated"), ("seconds", "s"),
            ("rss_before_mb", "RSS before (MB)"), ("peak_rss_mb", "peak RSS (MB)")], 1))
    lines.append(f"Peak RSS of the benchmark process: {payload['peak_rss_mb']:.0f} MB; "
                 f"wall time {payload['wall_s']:.0f} s.")
    return "\n".join(lines) + "\n"
