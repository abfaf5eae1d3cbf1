"""Copy trained click-model exports to where they ship, with a JSON of their metadata.

    python -m napari_ifss.train.ship_weights runs/iv1 [--sanity sanity.json]

``<run>/<variant>/click_<variant>.pt`` -> ``src/napari_ifss/models/weights/click_fcfi.pt`` (the
default) and ``benchmarks/weights/click_<variant>.pt`` (ablations), each with a ``.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from ..models.registry import WEIGHTS_DIR, load_click_net


def ship(run_dir: Path, bench_dir: Path, sanity: dict | None = None) -> list[Path]:
    written = []
    for export in sorted(run_dir.glob("*/click_*.pt")):
        net = load_click_net(export)
        variant = net.variant
        dest_dir = WEIGHTS_DIR if variant == "fcfi" else bench_dir
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f"click_{variant}.pt"
        shutil.copyfile(export, dest)
        log = [json.loads(x) for x in (export.parent / "log.jsonl").read_text().splitlines()]
        meta = {
            "variant": variant, "net_config": net.config,
            "parameters": sum(p.numel() for p in net.parameters()),
            "step": net.meta.get("step"), "train_wall_s": net.meta.get("wall_s"),
            "train_config": net.meta.get("train_config"), "source_run": str(export),
            "final_loss": log[-1]["loss"][variant] if log else None,
            "dtype": "float16", "torch": torch.__version__,
            "sanity_eval_val": {k: v for k, v in (sanity or {}).items() if k.startswith(variant + ":")},
        }
        dest.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        written += [dest, dest.with_suffix(".json")]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--bench-dir", type=Path, default=Path("benchmarks/weights"))
    parser.add_argument("--sanity", type=Path, help="JSON written by train.sanity_eval --json")
    args = parser.parse_args(argv)
    sanity = json.loads(args.sanity.read_text()) if args.sanity else None
    for path in ship(args.run_dir, args.bench_dir, sanity):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
