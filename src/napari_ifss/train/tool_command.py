"""The training tools (``ifss train check|ship|speed``) also run as ``python -m``: one way to
register a tool's arguments under ``ifss train`` and to run it on its own."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Arguments = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str,
             arguments: Arguments) -> argparse.ArgumentParser:
    """Add ``name`` under ``ifss train`` with the arguments ``arguments`` adds (and its
    ``func``)."""
    return arguments(subparsers.add_parser(name, help=help_text, description=help_text))


def run_standalone(arguments: Arguments, help_text: str, argv: list[str] | None) -> int:
    """Parse ``argv`` with the tool's arguments and run its ``func``: ``python -m ...``."""
    args = arguments(argparse.ArgumentParser(description=help_text)).parse_args(argv)
    return int(args.func(args) or 0)
