"""``ifss view [FILES]``: open napari with the plugin's docks (and the sample stack)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ifss view``."""
    p = subparsers.add_parser(
        "view",
        help="open napari with napari-ifss (the synthetic sample stack when no file is given)",
    )
    p.add_argument("files", nargs="*", help="images or label files to open")
    p.add_argument("--no-sample", action="store_true", help="do not open the sample stack")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .._napari.launch import launch  # the GUI is imported only here

    launch(files=args.files, sample=not args.no_sample and not args.files)
    return 0
