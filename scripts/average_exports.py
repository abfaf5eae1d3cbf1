"""Average the weights of click-model exports of one run (e.g. two snapshots of the end phase).

    python scripts/average_exports.py runs/iv6/snap/fcfi_8000.pt runs/iv6/snap/fcfi_12000.pt \
        --out runs/iv6/snap/fcfi_avg8k12k.pt

Floating-point tensors (weights and BatchNorm statistics) are the plain mean; integer tensors
and the config come from the last file. The exports must share one architecture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def average(paths: list[Path]) -> dict:
    """The export of the mean weights of ``paths`` (same keys and shapes), in its dtypes."""
    exports = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    last = exports[-1]["state_dict"]
    for p, e in zip(paths, exports, strict=True):
        if e["state_dict"].keys() != last.keys() or e.get("variant") != exports[-1].get("variant"):
            raise ValueError(f"{p}: not the same variant and architecture as {paths[-1]}")
    state = {k: (torch.stack([e["state_dict"][k].float() for e in exports]).mean(0).to(t.dtype)
                 if t.is_floating_point() else t) for k, t in last.items()}
    meta = dict(exports[-1].get("meta", {}), averaged_from=[str(p) for p in paths])
    return {**exports[-1], "state_dict": state, "meta": meta}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.save(average(args.exports), args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
