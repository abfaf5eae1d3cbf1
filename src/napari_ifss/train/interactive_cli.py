"""``ifss train interactive``: train the click models (fcfi, concat, nofeedback) together."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.data.datasets import default_data_dir


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``interactive`` subcommand of ``ifss train``."""
    p = subparsers.add_parser(
        "interactive", help="train the interactive click models (FCFI and ablations)",
        description="Train the click models with simulated iterative clicking (RITM protocol). "
                    "All variants are updated on the same batches.")
    p.add_argument("--config", type=Path, help="YAML/JSON file with InteractiveTrainConfig fields")
    p.add_argument("--out", type=Path, default=Path("runs/interactive"), help="output folder")
    p.add_argument("--data", type=Path, default=None,
                   help=f"data folder (default: {default_data_dir()})")
    p.add_argument("--steps", type=int, help="total training steps (overrides the config)")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    p.add_argument("--variants", help="comma-separated subset of fcfi,concat,nofeedback")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..models.click_net import VARIANTS
    from .config import InteractiveTrainConfig
    from .interactive_loop import EXPORT_SUFFIX, InteractiveTrainer

    cfg = (InteractiveTrainConfig.from_file(args.config) if args.config
           else InteractiveTrainConfig())
    if args.steps is not None:
        cfg.steps = args.steps
    if args.variants:
        cfg.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants:
        from ..core.errors import InvalidInputError

        raise InvalidInputError(f"unknown variants {bad}; choose from {','.join(VARIANTS)}")
    if args.device:
        cfg.device = args.device
    data = args.data if args.data is not None else default_data_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    cfg.save(args.out / "config.yaml")
    trainer = InteractiveTrainer(cfg, args.out, data)
    ckpt = trainer.run(resume=args.resume, progress=not args.no_progress)
    print(f"trained {', '.join(cfg.variants)} to step {trainer.step}: {ckpt}")
    for variant in cfg.variants:
        print(f"  {variant}: {args.out / f'click_{variant}{EXPORT_SUFFIX}'}")
    return 0
