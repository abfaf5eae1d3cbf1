"""Summary tables of ``ifss bench fewshot`` (aggregation + markdown via ``eval.report``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fewshot_protocol import HEAD_NOT_HELD_OUT, METHODS
from .paired import paired_differences
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
    lines = ["# Few-shot propagation benchmark (dev protocol, NOT held out)", "",
             "The head was trained on slices of these volumes; held-out numbers: `ifss bench "
             "fewshot` (leave-one-volume-out, `fewshot_lovo.md`).", "",
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
    rows = [{"case": f"{c['dataset']}/{c['object']}", "k": c["k"], "set": c.get("set", "-"),
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


# ------------------------------------------------------------------------------- LOVO
BASELINES = ("copy_nearest", "random_forest")
METRICS = ("dice_volume", "dice_zrange")


def summarize_lovo(cases: list[dict], ks: Sequence[int], methods: Sequence[str]) -> dict:
    """Per K the mean of each metric per method; per other method and baseline the paired mean
    difference with its 95 % bootstrap interval over objects (by K and over all K); objects won
    (strictly above both baselines in volume Dice)."""
    means, wins = [], []
    for k in ks:
        sel = [c for c in cases if c["k"] == k]
        row: dict = {"k": k, "objects": len(sel)}
        for m in methods:
            for metric in METRICS:
                row[f"{m}|{metric}"] = _mean([c["methods"][m][metric] for c in sel])
        means.append(row)
        for m in methods:
            if m in BASELINES:
                continue
            won = [c for c in sel if c["methods"][m]["dice_volume"] >
                   max(c["methods"][b]["dice_volume"] for b in BASELINES)]
            wins.append({"k": k, "method": m, "won": len(won), "objects": len(sel)})
    paired = []
    for metric in METRICS:
        objects = [{"method": m, "uid": f"{c['dataset']}/{c['object']}", "k": c["k"],
                    metric: v[metric]} for c in cases for m, v in c["methods"].items()]
        for ref in BASELINES:
            for row in paired_differences(objects, ref, metric=metric, by="k"):
                if row["method"] not in BASELINES:
                    paired.append({**row, "reference": ref, "metric": metric})
    return {"means": means, "paired": paired, "wins": wins}


def summaries(cases: list[dict], ks: Sequence[int], methods: Sequence[str]) -> dict:
    """``summary`` over the standard objects (those of ``--protocol dev``) and, when the run
    also scored the extra objects that end inside their volume, ``summary_all`` over all."""
    standard = [c for c in cases if c.get("set", "standard") == "standard"]
    out = {"summary": summarize_lovo(standard, ks, methods)}
    if len(standard) < len(cases):
        out["summary_all"] = summarize_lovo(cases, ks, methods)
    return out


def markdown_lovo(payload: dict) -> str:
    """The markdown report of a ``--protocol lovo`` payload."""
    m, summ = payload["machine"], payload.get("summary_all", payload["summary"])
    methods = [k.split("|")[0] for k in summ["means"][0] if "|dice_volume" in k] \
        if summ["means"] else []
    title = ("# Few-shot propagation, leave-one-volume-out protocol" if payload["volumes"]
             else "# Few-shot, cross-image 2D sets (`--protocol lovo --2d`)"
             if payload.get("sets_2d") else "# Per-volume learner: speed")
    lines = [title, "",
             f"Command: `{payload['command']}`  ",
             f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch threads "
             f"{m['torch_threads']}, torch {m['torch']}; {m['date_utc']} UTC  ",
             f"Data: `{payload['data']}`", "",
             *[f"- merged from `{c}`" for c in payload.get("merged_from", [])], ""]
    if payload["volumes"]:
        lines.append(
            "Every method is fitted only on the K support slices of the volume it segments "
            "(supports at quantiles i/(K+1) of the object's z-extent). *vol* = Dice over all "
            "non-support slices of the volume; *z+-2* = over the non-support slices within "
            "the object's z-range +- 2.")
    if payload.get("head"):
        lines += ["", f"Meta-learned head: {payload['head']}."
                  + (" Not a held-out number." if HEAD_NOT_HELD_OUT in payload["head"] else "")]
    if payload["volumes"]:
        for key, title in (("summary", "standard objects"),
                           ("summary_all", "all objects (standard + ending inside the volume)")):
            if key in payload:
                lines += _summary_lines(payload[key], methods, title)
        lines += ["## Per object (volume Dice / z-range Dice; set: standard or ends)", ""]
        rows = [{"case": f"{c['dataset']}/{c['object']}", "k": c["k"],
                 "set": c.get("set", "-"), "support": " ".join(map(str, c["support"])),
                 **{meth: f"{c['methods'][meth]['dice_volume']:.3f} / "
                          f"{c['methods'][meth]['dice_zrange']:.3f}" for meth in methods}}
                for c in payload["volumes"]]
        lines.append(markdown_table(rows, [("case", "volume/object"), ("set", "set"),
                                           ("k", "K"), ("support", "support z"),
                                           *[(meth, meth) for meth in methods]]))
    if payload.get("sets_2d"):
        lines += markdown_2d(payload)
    if payload.get("speed"):
        lines += ["", "## Speed (1 predicted slice = classifier + neighbour prior + threshold; "
                  "encoding = filter features + trunk pyramid)", ""]
    for name, speeds in (payload.get("speed") or {}).items():
        lines += speed_lines(name, speeds)
    lines.append(f"\nPeak RSS {payload['peak_rss_mb']:.0f} MB; wall time "
                 f"{payload['wall_s']:.0f} s.")
    return "\n".join(lines) + "\n"


def speed_lines(name: str, speeds: dict) -> list[str]:
    """Markdown lines of one learner design's speed (:func:`~.fewshot_resources.
    learner_speeds_256`: per target; or one older flat record)."""
    lines = []
    for target, s in (speeds.items() if "fit_s" not in speeds else [("class", speeds)]):
        line = (f"- `{name}`, synthetic 256x256 stack ({target}, prior "
                f"{s.get('prior', '-')}): encoding (filters + trunk) "
                f"{s['encode_ms_per_slice']:.1f} ms/slice, fit {s['fit_s']:.2f} s, propagation "
                f"after encoding {s['slices_per_s_after_encoding']:.1f} slices/s, end to end "
                f"{s['slices_per_s_end_to_end']:.1f} slices/s")
        if s.get("stages_ms"):
            line += "; ms per slice: " + ", ".join(
                f"{k} {v:.2f} s" if k.endswith("_s") else f"{k} {v:.1f}"
                for k, v in s["stages_ms"].items())
        lines.append(line)
    return lines


def _summary_lines(summ: dict, methods: Sequence[str], title: str) -> list[str]:
    lines = ["", f"## Mean Dice over {title}", ""]
    cols = [("k", "K"), ("objects", "objects")]
    for meth in methods:
        cols += [(f"{meth}|dice_volume", f"{meth} vol"), (f"{meth}|dice_zrange", "z+-2")]
    lines.append(markdown_table(summ["means"], cols, 3))
    lines += [f"### Paired differences over {title} (method - baseline), mean and 95 % "
              "bootstrap interval over objects", ""]
    rows = [{**r, "ci": f"[{r['lo']:+.3f}, {r['hi']:+.3f}]"} for r in summ["paired"]]
    lines.append(markdown_table(rows, [
        ("method", "method"), ("reference", "baseline"), ("metric", "metric"), ("k", "K"),
        ("n", "objects"), ("mean", "mean diff"), ("ci", "95 % interval")], 3))
    lines += [f"### Objects won over {title} (volume Dice above both baselines)", ""]
    lines.append(markdown_table(summ["wins"], [("method", "method"), ("k", "K"),
                                               ("won", "won"), ("objects", "objects")]))
    return lines


def summarize_2d(sets: list[dict], ks: Sequence[int], methods: Sequence[str],
                 reference: str = "random_forest") -> dict:
    """The cross-image 2D table of the LOVO protocol.

    Per K: the mean over sets of each method's mean Dice over the set's queries, and sets won
    (a method's set mean at or above ``reference``'s). Paired differences method -
    ``reference`` with 95 % bootstrap intervals, by K and over all K: over sets (set means)
    and over query images (``set/query id``)."""
    means, wins = [], []
    for k in ks:
        sel = [s for s in sets if s["k"] == k]
        row: dict = {"k": k, "sets": len(sel), "queries": sum(s["n_queries"] for s in sel)}
        for m in methods:
            row[m] = _mean([s[m] for s in sel])
        means.append(row)
        for m in methods:
            if m != reference:
                wins.append({"k": k, "method": m, "sets": len(sel),
                             "won": sum(s[m] >= s[reference] for s in sel)})
    by_set = [{"method": m, "uid": s["set"], "k": s["k"], "dice": s[m]}
              for s in sets for m in methods]
    by_image = [{"method": m, "uid": f"{s['set']}/{q}", "k": s["k"], "dice": d}
                for s in sets for m in methods
                for q, d in zip(s["queries"], s[f"{m}_per_image"], strict=True)]
    paired = [{**row, "over": over, "reference": reference}
              for over, units in (("sets", by_set), ("query images", by_image))
              for row in paired_differences(units, reference, metric="dice", by="k")]
    return {"means": means, "wins": wins, "paired": paired}


def markdown_2d(payload: dict) -> list[str]:
    """Markdown lines of the 2D part of a LOVO payload (``sets_2d``, ``summary_2d``)."""
    summ = payload["summary_2d"]
    methods = [m for m in summ["means"][0] if m not in ("k", "sets", "queries")] \
        if summ["means"] else []
    lines = ["", "## 2D cross-image few-shot (support: first K train images of a set, "
             "queries: its val images)", "",
             "Mean over sets of the mean Dice over each set's queries; the learner is fitted "
             "on the K support images and queried without z position or neighbour (no "
             "prior); the intensity window comes from the supports.", ""]
    lines.append(markdown_table(summ["means"], [("k", "K"), ("sets", "sets"),
                                                ("queries", "queries"),
                                                *[(m, m) for m in methods]], 3))
    lines += ["### Paired differences (method - random forest), mean and 95 % bootstrap "
              "interval", ""]
    rows = [{**r, "ci": f"[{r['lo']:+.3f}, {r['hi']:+.3f}]"} for r in summ["paired"]]
    lines.append(markdown_table(rows, [("method", "method"), ("over", "over"), ("k", "K"),
                                       ("n", "n"), ("mean", "mean diff"),
                                       ("ci", "95 % interval")], 3))
    lines += ["### Sets won (set mean at or above the random forest)", ""]
    lines.append(markdown_table(summ["wins"], [("method", "method"), ("k", "K"),
                                               ("won", "won"), ("sets", "sets")]))
    lines += ["### Per set (mean Dice over its queries)", ""]
    lines.append(markdown_table(payload["sets_2d"], [("set", "set"), ("k", "K"),
                                                     ("n_queries", "queries"),
                                                     *[(m, m) for m in methods]], 3))
    return lines


def merge_lovo(payloads: Sequence[dict], command: str) -> dict:
    """One LOVO payload from several runs (e.g. one per volume, to keep each run short): the
    cases of all, the methods common to all, the summary recomputed; machine of the first."""
    cases = [c for p in payloads for c in p["volumes"]]
    common = set.intersection(*(set(c["methods"]) for c in cases)) if cases else set()
    methods = [m for m in (cases[0]["methods"] if cases else []) if m in common]
    for c in cases:
        c["methods"] = {m: c["methods"][m] for m in methods}
    ks = sorted({k for p in payloads for k in p["ks"]})
    first = payloads[0]
    sets = [s for p in payloads for s in p.get("sets_2d") or []]
    common_2d = [m for m in (first.get("summary_2d") or {}).get("means", [{}])[0]
                 if m not in ("k", "sets", "queries")
                 and all(m in p.get("summary_2d", {}).get("means", [{}])[0]
                         for p in payloads if p.get("sets_2d"))]
    extra = {"sets_2d": sets, "summary_2d": summarize_2d(sets, ks, common_2d)} if sets else {}
    return {**first, "command": command, "ks": ks, "volumes": cases,
            **summaries(cases, ks, methods), **extra,
            "merged_from": [p["command"] for p in payloads],
            "peak_rss_mb": max(p["peak_rss_mb"] for p in payloads),
            "wall_s": sum(p["wall_s"] for p in payloads),
            "speed": next((p["speed"] for p in payloads if p.get("speed")), None)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m napari_ifss.eval.fewshot_report merge A.json B.json ... --json OUT.json``."""
    import argparse
    import json

    from .report import command_line, write_report

    p = argparse.ArgumentParser(description="merge LOVO reports of ifss bench fewshot")
    p.add_argument("action", choices=["merge"])
    p.add_argument("reports", nargs="+")
    p.add_argument("--json", required=True)
    args = p.parse_args(argv)
    payloads = [json.loads(open(r, encoding="utf-8").read()) for r in args.reports]
    merged = merge_lovo(payloads, command_line(argv, "python -m napari_ifss.eval.fewshot_report"))
    write_report(args.json, merged, markdown_lovo(merged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
