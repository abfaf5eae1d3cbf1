"""Copy trained click-model exports to where they ship, with a JSON of their metadata.

    ifss train ship runs/iv1 [--sanity sanity.json]   # or: python -m napari_ifss.train.ship_weights

``<run>/<variant>/click_<variant>.safetensors`` (or an old ``.pt``) ->
``src/napari_ifss/models/weights/click_<default>.safetensors`` for the ``--default`` variant
(``registry.DEFAULT_VARIANT``) and ``benchmarks/weights/click_<variant>.safetensors`` for the
others (ablations), each with a ``.json`` sidecar;
the ``SHA256SUMS`` manifest of each destination folder is updated. Each file is loaded, checked
and written again (same fp16 tensors), with the model card inside.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..models.manifest import update_manifest
from ..models.registry import DEFAULT_VARIANT, WEIGHTS_DIR, load_click_net, save_click_net
from ..models.safe_io import read_model_dict
from .tool_command import register, run_standalone

LICENCE = "BSD-3-Clause (the napari-ifss licence)"
# What each training source of ``train.sources`` is, for the model card.
SOURCE_WORDS = {
    "dsb2018": "dsb2018 nuclei (train split)",
    "coco_mval": "coco_mval objects (train split)",
    "epfl_em": "epfl_em mitochondria and axons (train split)",
    "volumes": ("slices of the first 80 % of every volume under 3d/ (cells3d, isbi2012, "
                "radiomics, totalseg, prostate phantom)"),
    "synthetic": "synthetic shapes",
}
ALL_2D = ("dsb2018", "coco_mval", "epfl_em")


def training_data(train_config: dict | None) -> str:
    """The card's ``training_data`` sentence, from the run's own ``sources`` (which datasets it
    saw and which whole 2D datasets it never saw)."""
    sources = [k for k, w in ((train_config or {}).get("sources") or {}).items() if w > 0]
    if not sources:
        return "not recorded; see docs/models/interactive.md"
    seen = "; ".join(SOURCE_WORDS.get(k, k) for k in sources)
    held_out = [k for k in ALL_2D if k not in sources]
    tail = f"; never saw {', '.join(held_out)} (held out)" if held_out else ""
    return f"{seen}{tail}; see docs/models/interactive.md"


def backbone_record(config: dict) -> dict | None:
    """Where the pretrained trunk of a click net with ``config`` comes from (source, licence,
    package and version, sha256 of its weights file); None for a net learned from scratch."""
    variant = config.get("backbone")
    if not variant:
        return None
    from importlib.metadata import PackageNotFoundError, version

    from ..models.backbone_weights import PACKAGED

    info = PACKAGED[variant]
    try:
        installed = version(info.package)
    except PackageNotFoundError:
        installed = None
    return {"architecture": f"EfficientNet-{variant.capitalize()} (ImageNet-1k), frozen",
            "package": info.package, "package_version": installed, "file": info.filename,
            "sha256": info.sha256, "licence": info.licence, "source": info.source,
            "note": "not stored in this file: read from the package and checksum-verified at load"}


def ship(run_dir: Path, bench_dir: Path, sanity: dict | None = None,
         default: str = DEFAULT_VARIANT) -> list[Path]:
    written = []
    exports = sorted({p.with_suffix("") for p in run_dir.glob("*/click_*.safetensors")} |
                     {p.with_suffix("") for p in run_dir.glob("*/click_*.pt")})
    for stem in exports:
        export = next(p for p in (stem.with_suffix(".safetensors"), stem.with_suffix(".pt"))
                      if p.is_file())
        net = load_click_net(export)
        variant = net.variant
        dest_dir = WEIGHTS_DIR if variant == default else bench_dir
        dest = dest_dir / f"click_{variant}.safetensors"
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
        extra = {"training_data": training_data(net.meta.get("train_config")),
                 "licence": LICENCE, "source_run": str(export)}
        backbone = backbone_record(net.config)
        if backbone is not None:
            extra["backbone"] = backbone
        save_click_net(net, dest, net.meta, extra)
        manifest = update_manifest(dest_dir, [dest.name])
        card = {k: v for k, v in read_model_dict(dest).items() if k != "state_dict"}
        dest.with_suffix(".json").write_text(json.dumps({**meta, "model_card": card}, indent=1))
        written += [dest, dest.with_suffix(".json"), manifest]
    return written


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", type=Path, help="training run folder (ifss train interactive --out)")
    parser.add_argument("--bench-dir", type=Path, default=Path("benchmarks/weights"),
                        help="where the variants that are not shipped go")
    parser.add_argument("--sanity", type=Path, help="JSON written by ifss train check --json")
    parser.add_argument("--default", default=DEFAULT_VARIANT,
                        help=f"variant shipped as the default model (default {DEFAULT_VARIANT})")
    parser.set_defaults(func=run)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ship`` under ``ifss train``."""
    return register(subparsers, "ship", __doc__.splitlines()[0], _arguments)


def main(argv: list[str] | None = None) -> int:
    """``python -m napari_ifss.train.ship_weights`` (the same as ``ifss train ship``)."""
    return run_standalone(_arguments, __doc__.splitlines()[0], argv)


def run(args: argparse.Namespace) -> int:
    """Ship the exports of ``args.run_dir``; prints the files written."""
    sanity = json.loads(args.sanity.read_text()) if args.sanity else None
    for path in ship(args.run_dir, args.bench_dir, sanity, args.default):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
