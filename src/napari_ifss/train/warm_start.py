"""Continue a run whose fcfi net predates ``input_feedback``: widen its input, keep everything else.

Earlier fcfi nets fed the previous mask to the FCFI modules only; the current fcfi also takes it
at the head input, like the ``concat`` ablation. This turns a training checkpoint
(``ckpt_last.pt``) of the old fcfi into one of the new architecture that computes exactly the
same function: the first click-embedding convolution gets one more input channel with zero
weights (and zero AdamW moments), so training simply continues from there.

    python -m napari_ifss.train.warm_start OLD_RUN/ckpt_last.pt NEW_RUN/ckpt_last.pt

Then resume ``NEW_RUN`` with ``ifss train interactive --resume``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from ..core.errors import InvalidInputError
from ..models.registry import build_click_net

FIRST_CONV = "embed.maps.0.0.weight"  # (16, extra, 3, 3): its input channels are the maps


def widen_state(state: dict, net_config: dict | None = None) -> dict:
    """Return a copy of a training-checkpoint dict with its ``fcfi`` net widened.

    Args:
        state: ``ckpt_last.pt`` contents (``nets``, ``opts``, ``config``, ...).
        net_config: ClickNet arguments of the run (``state["config"]["net"]`` if None).

    Raises:
        InvalidInputError: if there is no fcfi net or it already takes the mask at its input.
    """
    if "fcfi" not in state.get("nets", {}):
        raise InvalidInputError("the checkpoint has no fcfi net to widen")
    cfg = dict(net_config if net_config is not None else state["config"].get("net", {}))
    cfg["input_feedback"] = True
    new_net = build_click_net("fcfi", **cfg)
    old = state["nets"]["fcfi"]
    if tuple(old[FIRST_CONV].shape) == tuple(new_net.state_dict()[FIRST_CONV].shape):
        raise InvalidInputError("this fcfi net already takes the previous mask at its input")
    out = dict(state)
    widened = dict(old)
    weight = old[FIRST_CONV]
    widened[FIRST_CONV] = torch.cat([weight, torch.zeros_like(weight[:, :1])], dim=1)
    new_net.load_state_dict(widened)  # checks every other name and shape
    out["nets"] = dict(state["nets"], fcfi=widened)

    # AdamW state is keyed by parameter index, in named_parameters() order (buffers excluded).
    param_names = [n for n, _ in new_net.named_parameters()]
    index = param_names.index(FIRST_CONV)
    opt = state["opts"]["fcfi"]
    opt_state = {k: dict(v) for k, v in opt["state"].items()}
    if index in opt_state:
        for key in ("exp_avg", "exp_avg_sq"):
            moment = opt_state[index][key]
            opt_state[index][key] = torch.cat([moment, torch.zeros_like(moment[:, :1])], dim=1)
    out["opts"] = dict(state["opts"], fcfi=dict(opt, state=opt_state))
    config = dict(state["config"])
    config["net"] = dict(config.get("net", {}), input_feedback=True)
    out["config"] = config
    return out


def widen_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Read ``src`` (a ``ckpt_last.pt``), write the widened checkpoint to ``dst``; returns ``dst``.

    Raises:
        FileNotFoundError: if ``src`` is missing.
        FileExistsError: if ``dst`` exists (nothing is overwritten).
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"checkpoint not found: {src}")
    if dst.exists():
        raise FileExistsError(f"{dst} exists; choose a new run folder")
    state = torch.load(src, map_location="cpu", weights_only=False)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(widen_state(state), dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m napari_ifss.train.warm_start",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="ckpt_last.pt of the run to continue")
    p.add_argument("dst", help="where to write the widened ckpt_last.pt (a new run folder)")
    args = p.parse_args(argv)
    print(widen_checkpoint(args.src, args.dst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
