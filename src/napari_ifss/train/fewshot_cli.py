"""``ifss train fewshot``: episodic training of the few-shot head on the frozen click encoder."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ..core.data.datasets import default_data_dir
from .fewshot_loop import FewShotTrainConfig, train_fewshot


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``fewshot`` under ``ifss train``."""
    p = subparsers.add_parser(
        "fewshot", help="train the few-shot propagation head",
        description="Train the few-shot head (decoder only) on top of the frozen click "
                    "encoder, with episodes from DATA (train split) and synthetic volumes.")
    p.add_argument("--data", default=None,
                   help="data folder laid out like ../shared/data (default $IFSS_DATA)")
    p.add_argument("--synthetic-only", action="store_true", help="ignore --data")
    p.add_argument("--click-weights", default=None,
                   help="click-model checkpoint whose encoder is used (default: shipped)")
    p.add_argument("--out", default="runs/fewshot", help="output folder (checkpoints, log)")
    p.add_argument("--ship", action="store_true",
                   help="also copy the final weights into the package (models/weights/) and "
                        "record their sha256 in its SHA256SUMS")
    defaults = FewShotTrainConfig()
    for f in fields(FewShotTrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(defaults, f.name)),
                       default=getattr(defaults, f.name))
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..models.registry import default_click_weights

    click = Path(args.click_weights) if args.click_weights else default_click_weights()
    if not click.is_file():
        raise FileNotFoundError(f"click-model weights not found: {click}")
    cfg = FewShotTrainConfig(**{f.name: getattr(args, f.name)
                                for f in fields(FewShotTrainConfig)})
    data = None if args.synthetic_only else Path(args.data or default_data_dir())
    final = train_fewshot(click, data, args.out, cfg)
    print(f"few-shot head written to {final}")
    if args.ship:
        target = ship_head(final, click, data is not None)
        print(f"shipped as {target}")
    return 0


TRAINING_DATA = ("episodes from the train split of the 3D volumes (first 80 % of the slices of "
                 "cells3d nuclei, isbi2012, radiomics, totalseg, prostate phantom), the train "
                 "split of dsb2018 and epfl_em, and synthetic cell volumes; see "
                 "docs/models/fewshot.md")
SYNTHETIC_ONLY = "synthetic cell volumes only (--synthetic-only)"


def ship_head(final: Path, click: Path, real_data: bool) -> Path:
    """Write the trained head ``final`` where it ships: the same tensors with the model card's
    training data and licence added, its ``.json`` sidecar, and its sha256 in ``SHA256SUMS``."""
    import json

    from ..models.fewshot_weights import (
        default_fewshot_weights,
        load_fewshot_head,
        save_fewshot_head,
    )
    from ..models.manifest import update_manifest
    from ..models.safe_io import read_model_dict
    from .ship_weights import LICENCE

    head = load_fewshot_head(final, encoder_weights=click)
    target = default_fewshot_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    save_fewshot_head(head, target, head.encoder_info, head.meta,
                      {"training_data": TRAINING_DATA if real_data else SYNTHETIC_ONLY,
                       "licence": LICENCE})
    update_manifest(target.parent, [target.name])
    card = {k: v for k, v in read_model_dict(target).items() if k != "state_dict"}
    target.with_suffix(".json").write_text(json.dumps({"model_card": card}, indent=1))
    return target
