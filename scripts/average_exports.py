"""Average the weights of click-model exports of one run (e.g. two snapshots of the end phase).

    python scripts/average_exports.py runs/iv6/snap/fcfi_8000.safetensors \
        runs/iv6/snap/fcfi_12000.safetensors --out runs/iv6/snap/fcfi_avg8k12k.safetensors

Floating-point tensors (weights and BatchNorm statistics) are the plain mean; integer tensors
and the config come from the last file. The exports must share one architecture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from napari_ifss.models.registry import load_click_net, save_click_net


def average(paths: list[Path], out: Path) -> Path:
    """Write the mean weights of the exports ``paths`` (one variant and config) to ``out``."""
    nets = [load_click_net(p) for p in paths]
    last = nets[-1]
    for p, net in zip(paths, nets, strict=True):
        if net.variant != last.variant or net.config != last.config:
            raise ValueError(f"{p}: not the same variant and architecture as {paths[-1]}")
    states = [net.state_dict() for net in nets]
    last.load_state_dict({k: torch.stack([s[k] for s in states]).mean(0)
                          if t.is_floating_point() else t for k, t in states[-1].items()})
    return save_click_net(last, out, meta={**last.meta, "averaged_from": [str(p) for p in paths]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(average(args.exports, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
