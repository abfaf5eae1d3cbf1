"""The ``ifss`` command line: one entry point, one subcommand per job.

Each subcommand lives in the module that owns the work and exposes ``add_parser(subparsers)``
which registers its arguments and sets ``func``. The modules are imported only when this
parser is built, so ``ifss --help`` stays fast and nothing here imports napari or Qt (the
``view`` subcommand imports the GUI lazily).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (top-level command, sub-command or None, module providing add_parser)
_COMMANDS: list[tuple[str, str | None, str]] = [
    ("view", None, "napari_ifss.view_command"),
    ("bench", "interactive", "napari_ifss.eval.interactive_bench"),
    ("train", "interactive", "napari_ifss.train.interactive_cli"),
    ("bench", "fewshot", "napari_ifss.eval.fewshot_bench"),
    ("train", "fewshot", "napari_ifss.train.fewshot_cli"),
    ("bench", "quality", "napari_ifss.eval.quality_bench"),
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommands whose module is missing are skipped)."""
    parser = argparse.ArgumentParser(
        prog="ifss", description="Interactive few-shot segmentation (napari-ifss)."
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"napari-ifss {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for command, sub, module_name in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        if sub is None:
            module.add_parser(top)
            continue
        if command not in groups:
            group_parser = top.add_parser(command, help=f"{command} subcommands")
            groups[command] = group_parser.add_subparsers(dest="subcommand", metavar="KIND")
            group_parser.set_defaults(func=lambda args, p=group_parser: p.print_help() or 2)
        module.add_parser(groups[command])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from .core.errors import IfssError

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
