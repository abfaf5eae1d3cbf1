"""``ifss convert``: turn old ``torch.save`` (``.pt``) checkpoints into ``.safetensors`` files.

Each file is read only through ``torch.load(weights_only=True)`` (plain tensors, numbers and
containers; a file holding pickled code is refused, not run), checked like any model file, and
written next to it (or into ``--out-dir``) as ``<name>.safetensors`` with its model card inside.
Click models, few-shot heads and interactive training checkpoints (``ckpt_last.pt``) are
recognised by their contents. The tensors are copied unchanged (fp16 models stay fp16).

A few-shot head records the sha256 of the click weights it was trained on. Convert the head
together with those click weights (``ifss convert click.pt fewshot.pt``) and its record is
moved to the converted click file, whose tensors are the same.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..core.errors import InvalidInputError, WriteError
from .manifest import file_sha256
from .safe_io import SUFFIX, TRAINING_KIND, file_format, read_legacy, write_tree

_CARD_CORE = ("format_version", "kind", "variant", "config", "meta", "encoder")


def _classify(content: object, path: Path) -> str:
    if isinstance(content, dict):
        if {"nets", "opts", "step"} <= set(content):
            return "training"
        if content.get("kind") == "fewshot_head":
            return "fewshot"
        if "variant" in content and "state_dict" in content:
            return "click"
    raise InvalidInputError(f"{path} is not a napari-ifss click model, few-shot head or "
                            "training checkpoint; nothing to convert")


def _extra(card: dict, src: Path, src_sha: str) -> dict:
    kept = {k: v for k, v in card.items() if k not in _CARD_CORE}
    return {**kept, "converted_from": {"file": src.name, "sha256": src_sha}}


def convert_files(paths: list[str | os.PathLike], out_dir: str | os.PathLike | None = None,
                  overwrite: bool = False) -> list[Path]:
    """Convert old ``.pt`` files to ``.safetensors``; returns the written paths (in the order
    of ``paths``).

    Raises:
        FileNotFoundError: if a file is missing.
        InvalidInputError: if a file is already safetensors, holds pickled code, or is not a
            napari-ifss checkpoint (nothing is written then).
        WriteError: if a destination exists and ``overwrite`` is False.
    """
    from .fewshot_weights import load_fewshot_head, save_fewshot_head
    from .registry import load_click_net, save_click_net

    jobs = []
    for src in map(Path, paths):
        if not src.is_file():
            raise FileNotFoundError(f"checkpoint not found: {src}")
        if file_format(src) == "safetensors":
            raise InvalidInputError(f"{src} is already a safetensors file")
        dst = Path(out_dir or src.parent) / (src.stem + SUFFIX)
        if dst.exists() and not overwrite:
            raise WriteError(f"{dst} exists; pass --overwrite to replace it")
        jobs.append((src, dst, _classify(read_legacy(src), src)))
    # click weights first, so that heads trained on them can be re-pointed to the new files
    order = sorted(range(len(jobs)), key=lambda i: jobs[i][2] != "click")
    converted_click: dict[str, Path] = {}  # old sha256 -> new file
    written: dict[int, Path] = {}
    for i in order:
        src, dst, kind = jobs[i]
        src_sha = file_sha256(src)
        if kind == "click":
            net = load_click_net(src)
            written[i] = save_click_net(net, dst, net.meta, _extra(net.card, src, src_sha))
            converted_click[src_sha] = written[i]
        elif kind == "fewshot":
            head = load_fewshot_head(src)
            record, extra = head.encoder_info, _extra(head.card, src, src_sha)
            if record is not None and record["sha256"] in converted_click:
                new = converted_click[record["sha256"]]
                extra["encoder_converted_from"] = record
                record = {"file": new.name, "sha256": file_sha256(new)}
            written[i] = save_fewshot_head(head, dst, record, head.meta, extra)
        else:
            written[i] = write_tree(dst, read_legacy(src), TRAINING_KIND)
    return [written[i] for i in range(len(jobs))]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss convert``."""
    p = subparsers.add_parser(
        "convert", help="convert old .pt checkpoints to .safetensors (no pickled code)",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("files", nargs="+", help="old .pt files (click models, few-shot heads, "
                                             "training checkpoints)")
    p.add_argument("--out-dir", default=None, help="where to write (default: next to each file)")
    p.add_argument("--overwrite", action="store_true", help="replace existing .safetensors")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    for src, dst in zip(args.files, convert_files(args.files, args.out_dir, args.overwrite),
                        strict=True):
        print(f"{src} -> {dst}")
    return 0
