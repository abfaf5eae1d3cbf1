"""Tabulate fcfi vs concat over training steps from `ifss bench interactive` JSON files.

    python scripts/scratch_curve.py runs/iv6/bench_*.json docs/benchmarks/interactive_scratch_12000.json \
        --out docs/benchmarks/interactive_scratch_curve

Each input is one benchmark run whose ``--checkpoint fcfi=...`` and ``concat=...`` are snapshots
of the same step (``<variant>_<step>.safetensors``, or ``.pt`` for older runs). Writes ``OUT.json`` (per step: NoC@90 and IoU@1 of
both, per split and overall, and the paired concat-minus-fcfi difference with its interval) and
``OUT.md``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SPLITS = ("nuclei", "em", "mri_ct", "natural", "all")


def step_of(run: dict) -> int:
    """The training step of the run's fcfi snapshot (``..._<step>.safetensors``/``.pt``); both
    must agree."""
    ckpts = run["settings"].get("checkpoints", {})
    matches = [re.search(r"_(\d+)\.(?:pt|safetensors)$", ckpts.get(v, "")) for v in ("fcfi", "concat")]
    found = {int(m.group(1)) for m in matches if m}
    if len(found) != 1 or None in matches:
        raise ValueError(f"{run['command']}: fcfi and concat snapshots of one step expected")
    return found.pop()


def row_of(run: dict) -> dict:
    """One step's numbers: NoC@90 / IoU@1 per split and method, paired concat - fcfi."""
    out = {"step": step_of(run), "command": run["command"], "objects": {}}
    for r in run["summary"]:
        if r["method"] in ("fcfi", "concat"):
            out.setdefault(r["method"], {})[r["split"]] = {
                "noc@90": r["noc@90"], "iou@1": round(r["iou@1"], 3)}
            out["objects"][r["split"]] = r["objects"]
    out["concat_minus_fcfi"] = {
        r["split"]: {"mean": r["mean"], "lo": r["lo"], "hi": r["hi"]}
        for r in run["paired_vs_fcfi"] if r["method"] == "concat"}
    return out


def markdown(rows: list[dict], inputs: list[str]) -> str:
    """The table: one line per step, NoC@90 per split and the overall paired difference."""
    head = "| step | " + " | ".join(f"{s} fcfi / concat" for s in SPLITS)
    head += " | IoU@1 all fcfi / concat | concat - fcfi, all [95%] |"
    lines = ["# fcfi vs concat trained from scratch on the same batches: NoC@90 over training",
             "", "Written by `python scripts/scratch_curve.py " + " ".join(inputs)
             + " --out ...` from one `ifss bench interactive` run per step (243 objects,"
             " commands in the JSON). Negative difference: concat needs fewer clicks.", "",
             head, "|" + "---|" * (len(SPLITS) + 3)]
    for r in rows:
        cells = [f"{r['fcfi'][s]['noc@90']:.2f} / {r['concat'][s]['noc@90']:.2f}" for s in SPLITS]
        d = r["concat_minus_fcfi"]["all"]
        lines.append(f"| {r['step']} | " + " | ".join(cells)
                     + f" | {r['fcfi']['all']['iou@1']:.3f} / {r['concat']['all']['iou@1']:.3f}"
                     + f" | {d['mean']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="ifss bench interactive JSON files")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix")
    args = parser.parse_args(argv)
    rows = sorted((row_of(json.loads(p.read_text())) for p in args.runs), key=lambda r: r["step"])
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    args.out.with_suffix(".md").write_text(markdown(rows, [str(p) for p in args.runs]))
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
