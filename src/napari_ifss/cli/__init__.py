"""The ``ifss`` command line: one entry point, one subcommand per job.

Each subcommand lives in the module that owns the work and exposes ``add_parser(subparsers)``
which registers its arguments and sets ``func``. Only the module of the subcommand being run is
imported (the others are listed with their one-line help from the table below), so
``ifss --help`` does not load torch, and nothing here imports napari or Qt (``view`` imports
the GUI lazily).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (top-level command, sub-command or None, module providing add_parser, one-line help)
_COMMANDS: list[tuple[str, str | None, str, str]] = [
    ("view", None, "napari_ifss.cli.view",
     "open napari with napari-ifss (the synthetic sample stack when no file is given)"),
    ("bench", "interactive", "napari_ifss.eval.interactive_bench",
     "interactive-segmentation benchmark (robot user, NoC@85/90, NoF, IoU@k, seconds per click)"),
    ("train", "interactive", "napari_ifss.train.interactive_cli",
     "train the interactive click models (fcfi, concat, nofeedback)"),
    ("bench", "fewshot", "napari_ifss.eval.fewshot_bench",
     "benchmark few-shot propagation against baselines"),
    ("train", "fewshot", "napari_ifss.train.fewshot_cli", "train the few-shot propagation head"),
    ("train", "check", "napari_ifss.train.sanity_eval",
     "quick IoU@1/3/5 check of click-model weights on a few val objects"),
    ("train", "ship", "napari_ifss.train.ship_weights",
     "copy a training run's click models into the package (default) and benchmarks/weights"),
    ("train", "speed", "napari_ifss.train.speed",
     "click-model speed on this machine (encoder and per-click ms, ratios in one run)"),
    ("bench", "quality", "napari_ifss.eval.quality_bench",
     "calibrate JFS quality scores against true Dice"),
    ("bench", "exemplar", "napari_ifss.eval.exemplar_bench",
     "exemplar mode on dsb2018: instance recall/precision from one exemplar, clicks saved"),
    ("bench", "large-volume", "napari_ifss.eval.large_volume_bench",
     "peak memory of annotating and propagating a large lazily opened (dask/zarr) volume"),
    ("propagate", None, "napari_ifss.cli.propagate",
     "propagate annotated slices of a labels file through a volume, save the result"),
    ("score", None, "napari_ifss.cli.score",
     "JFS quality score of every propagated slice (CSV), and the slice to annotate next"),
    ("batch", None, "napari_ifss.cli.batch", "segment many volumes on dask (resumable)"),
    ("convert", None, "napari_ifss.models.convert",
     "convert old .pt checkpoints to .safetensors (no pickled code)"),
]


def _selected(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The first two non-option words of ``argv``: (command, sub-command)."""
    words = [a for a in argv if not a.startswith("-")][:2]
    return (words + [None, None])[0], (words + [None, None])[1]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser for ``argv`` (default ``sys.argv[1:]``).

    The module of the subcommand that ``argv`` names is imported and registers its arguments;
    every other subcommand is registered by name and help only.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command, subcommand = _selected(argv)
    parser = argparse.ArgumentParser(
        prog="ifss", description="Interactive few-shot segmentation (napari-ifss)."
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"napari-ifss {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, sub, module_name, help_text in _COMMANDS:
        if sub is not None and name not in groups:
            group_parser = top.add_parser(name, help=f"{name} subcommands")
            groups[name] = group_parser.add_subparsers(dest="subcommand", metavar="KIND")
            group_parser.set_defaults(func=lambda args, p=group_parser: p.print_help() or 2)
        target = top if sub is None else groups[name]
        if name == command and sub in (None, subcommand):
            importlib.import_module(module_name).add_parser(target)
        else:
            target.add_parser(name if sub is None else sub, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from ..core.errors import IfssError

    try:
        return int(args.func(args) or 0)
    except IfssError as exc:
        print(f"ifss: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ifss: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
