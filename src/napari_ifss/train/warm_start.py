"""Continue a run whose fcfi net predates the current architecture: grow it, keep the rest.

Earlier fcfi nets fed the previous mask to the FCFI modules only (``input_feedback=False``) and
computed the focused correction on the deep features themselves (``correction_features=False``).
This turns a training checkpoint (``ckpt_last.safetensors``, or an old ``ckpt_last.pt``) of
such a net into one of the current architecture that computes exactly the same function:

* the first click-embedding convolution gets one more input channel (the mask) with zero
  weights and zero AdamW moments;
* a new correction-feature branch starts at zero (:mod:`..models.correction_features`) and
  without optimiser state;
* every other tensor, and its optimiser state, is carried over by name.

    python -m napari_ifss.train.warm_start OLD_RUN/ckpt_last.safetensors \
        NEW_RUN/ckpt_last.safetensors

Then resume ``NEW_RUN`` with ``ifss train interactive --resume``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from ..core.errors import InvalidInputError
from ..models.registry import build_click_net
from .interactive_loop import read_checkpoint, write_checkpoint

FIRST_CONV = "embed.maps.0.0.weight"  # (16, extra, 3, 3): its input channels are the maps


def _zero_pad_inputs(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """A conv weight (or its optimiser moment) ``(out, in, kh, kw)`` with zero input channels
    appended up to ``channels``."""
    missing = channels - weight.shape[1]
    if missing <= 0:
        return weight
    pad = weight.new_zeros((weight.shape[0], missing, *weight.shape[2:]))
    return torch.cat([weight, pad], dim=1)


def widen_state(state: dict, net_config: dict | None = None) -> dict:
    """Return a copy of a training-checkpoint dict with its ``fcfi`` net grown to the current
    architecture (see the module docstring).

    Args:
        state: training-checkpoint contents (``nets``, ``opts``, ``config``, ...).
        net_config: ClickNet arguments of the run (``state["config"]["net"]`` if None).

    Raises:
        InvalidInputError: if there is no fcfi net or it already has the current architecture.
    """
    if "fcfi" not in state.get("nets", {}):
        raise InvalidInputError("the checkpoint has no fcfi net to widen")
    cfg = dict(net_config if net_config is not None else state["config"].get("net", {}))
    old = state["nets"]["fcfi"]
    # what the saved net has, read off its tensors (run configs may not say)
    old_cfg = {**cfg, "input_feedback": old[FIRST_CONV].shape[1] == 3,
               "correction_features": any(k.startswith("correction_features.") for k in old)}
    new_cfg = {**cfg, "input_feedback": True, "correction_features": True}
    old_net = build_click_net("fcfi", **old_cfg)
    new_net = build_click_net("fcfi", **new_cfg)
    if set(old) == set(new_net.state_dict()) and all(
            tuple(v.shape) == tuple(new_net.state_dict()[k].shape) for k, v in old.items()):
        raise InvalidInputError("this fcfi net already has the current architecture")
    old_net.load_state_dict(old)  # checks that it really is the earlier architecture
    grown = dict(new_net.state_dict())
    for name, tensor in old.items():
        grown[name] = _zero_pad_inputs(tensor, grown[name].shape[1]) if name == FIRST_CONV \
            else tensor
    new_net.load_state_dict(grown)
    out = dict(state)
    out["nets"] = dict(state["nets"], fcfi=grown)

    # AdamW state is keyed by parameter index, in named_parameters() order (buffers excluded).
    old_names = [n for n, _ in old_net.named_parameters()]
    new_index = {n: i for i, (n, _) in enumerate(new_net.named_parameters())}
    opt = state["opts"]["fcfi"]
    opt_state = {}
    for i, entry in opt["state"].items():
        name = old_names[int(i)]
        entry = dict(entry)
        if name == FIRST_CONV:
            for key in ("exp_avg", "exp_avg_sq"):
                entry[key] = _zero_pad_inputs(entry[key], grown[name].shape[1])
        opt_state[new_index[name]] = entry
    groups = [dict(g, params=list(range(len(new_index)))) for g in opt["param_groups"]]
    out["opts"] = dict(state["opts"], fcfi=dict(opt, state=opt_state, param_groups=groups))
    config = dict(state["config"])
    config["net"] = dict(config.get("net", {}), input_feedback=True, correction_features=True)
    out["config"] = config
    return out


def widen_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Read ``src`` (a training checkpoint), write the widened checkpoint to ``dst`` (as
    safetensors); returns ``dst``.

    Raises:
        FileNotFoundError: if ``src`` is missing.
        FileExistsError: if ``dst`` exists (nothing is overwritten).
        InvalidInputError: if ``src`` is not a training checkpoint (or holds pickled code).
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"checkpoint not found: {src}")
    if dst.exists():
        raise FileExistsError(f"{dst} exists; choose a new run folder")
    return write_checkpoint(dst, widen_state(read_checkpoint(src)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m napari_ifss.train.warm_start",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="ckpt_last.safetensors (or .pt) of the run to continue")
    p.add_argument("dst", help="where to write the widened ckpt_last.safetensors (a new run "
                               "folder)")
    args = p.parse_args(argv)
    print(widen_checkpoint(args.src, args.dst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
