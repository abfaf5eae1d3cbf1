"""Which data a benchmark scores: the ``--data``/``--split``/``--ignore-value`` options, the
item subset ``--split auto`` resolves to, and the report's paragraph on the data scored.

``--split`` picks the items: ``val`` (held apart by the fixed hash split of
:mod:`napari_ifss.core.data.datasets`), ``train``, ``all``, or ``auto``: ``val`` for the ``2d``/``3d``
layout the models were trained on (so that published numbers stay reproducible) and ``all``
for any other folder (nobody tuned on it, so every item counts).
"""

from __future__ import annotations

import argparse

from ..core.data.data_layout import DataLayout
from ..core.data.datasets import default_data_dir
from .label_maps import DEFAULT_IGNORE_VALUE
from .objects import EvalObject, Subset, Tally

SUBSETS = ("auto", "val", "train", "all")
SUBSET_TEXT = {"val": "held-apart items and slices only (the fixed hash split of "
                      "core/data/datasets.py; last fifth of each volume's slices)",
               "train": "training items and slices only",
               "all": "every item and slice"}


def resolve_subset(split: str, layout: DataLayout) -> tuple[Subset, str]:
    """The item subset to score for ``--split`` and why (a clause for the report)."""
    if split != "auto":
        return split, ""  # type: ignore[return-value]
    if layout.shared:
        return "val", ("chosen by --split auto for the 2d/3d data layout, which the models "
                       "were trained on; --split all scores every item")
    return "all", "chosen by --split auto for a folder outside the 2d/3d data layout"


def scored_counts(objects: dict[str, list[EvalObject]], tally: Tally) -> dict[str, dict]:
    """Per split: items of the subset, items with a scored object, candidates and objects."""
    return {split: {"items": int(tally.items[split]),
                    "items_with_objects": len({(o.dataset, o.item_id) for o in objs}),
                    "candidates": int(tally.candidates[split]), "objects": len(objs)}
            for split, objs in objects.items()}


def unmatched_note(tally: Tally) -> list[str]:
    """A report note on the images that had no mask (empty when every image had one)."""
    if not tally.unmatched:
        return []
    return [f"{len(tally.unmatched)} image(s) without a mask of the same stem were skipped "
            f"(e.g. {tally.unmatched[0]})"]


def count_or_all(text: str) -> int | None:
    """``argparse`` type: a count >= 1, or ``all`` (None: no cap)."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'all', got {text!r}")
    return value


def size_or_none(text: str) -> str:
    """``--focus-above``: a positive number of pixels or 'none'."""
    if text.lower() == "none" or (text.isdigit() and int(text) > 0):
        return text.lower()
    raise argparse.ArgumentTypeError(f"expected a number of pixels or 'none', got {text!r}")


def ignore_value(text: str) -> int | None:
    """``argparse`` type: an integer mask value, or ``none``."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer mask value or 'none', got {text!r}") from None


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--data``, ``--split`` and ``--ignore-value`` to a benchmark's parser."""
    p.add_argument("--data", default=str(default_data_dir()),
                   help="data folder: one with images/ + masks/ (same file stems), one with "
                        "image.* + labels.*, the 2d/ 3d/ layout, or a folder of dataset "
                        "folders; default $IFSS_DATA or ../shared/data")
    p.add_argument("--split", choices=SUBSETS, default="auto",
                   help="which items: val (held apart), train, all; auto (default): val for "
                        "the 2d/3d layout, all for any other folder")
    p.add_argument("--ignore-value", type=ignore_value, default=DEFAULT_IGNORE_VALUE,
                   metavar="N|none", help="mask value of pixels that are neither object nor "
                   "background: left out of IoU, never clicked (default 255)")


def data_section(payload: dict) -> list[str]:
    """Which data, split and items were scored, the ignore value, and notes on the masks."""
    st = payload["settings"]

    def cap(value: int | None) -> str:
        return "all" if value is None else f"<= {value}"

    counts = "; ".join(
        f"{g}: {c['objects']} objects on {c['items_with_objects']} of {c['items']} items "
        f"({c['candidates']} candidates)" for g, c in payload["scored"].items())
    ignore = (f"mask value {st['ignore_value']} is ignored: such pixels count in neither the "
              "intersection nor the union of IoU and bIoU and are never clicked"
              if st["ignore_value"] is not None else "none (every mask value is a label)")
    why = f"; {st['split_reason']}" if st["split_reason"] else ""
    lines = [f"Data: `{st['data']}`, {st['layout']}. Split scored: **{st['split']}** "
             f"({SUBSET_TEXT[st['split']]}{why}). Objects ({cap(st['max_objects'])} "
             f"per split, {cap(st['per_image'])} per image, >= 100 px, seed {st['seed']}): "
             f"{counts}. Ignore value: {ignore}.", ""]
    if payload["notes"]:
        lines += ["Notes on the masks: " + "; ".join(payload["notes"]) + ".", ""]
    return lines
