"""Build, save and load click networks; where the shipped weights live.

A checkpoint is a ``torch.save`` dict ``{"variant", "config", "state_dict", "meta"}`` with the
floating-point tensors stored as fp16 to keep files small; loading casts back to fp32.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..core.errors import InvalidInputError
from .click_net import VARIANTS, ClickNet

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = "click_fcfi.pt"


def build_click_net(variant: str = "fcfi", **cfg: Any) -> ClickNet:
    """A randomly initialised :class:`ClickNet` of ``variant`` (``fcfi``/``concat``/``nofeedback``)."""
    if variant not in VARIANTS:
        raise InvalidInputError(f"unknown click-model variant {variant!r}; choose one of {VARIANTS}")
    return ClickNet(variant, **cfg)


def save_click_net(net: ClickNet, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write ``net`` as an fp16 checkpoint (plus optional ``meta``) and return the path."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu().clone()
             for k, v in net.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"variant": net.variant, "config": dict(net.config), "state_dict": state,
                "meta": dict(meta or {})}, path)
    return path


def load_click_net(path: str | os.PathLike) -> ClickNet:
    """Load a checkpoint written by :func:`save_click_net` (or a training checkpoint).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if the file is not a click-model checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"click-model checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "variant" not in ckpt or "state_dict" not in ckpt:
        raise InvalidInputError(f"{path} is not a napari-ifss click-model checkpoint")
    config = dict(ckpt.get("config", {}))
    if ckpt["variant"] == "fcfi":  # options added later default to what older nets were
        config.setdefault("input_feedback", False)
        config.setdefault("correction_features", False)
    net = build_click_net(ckpt["variant"], **config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    net.load_state_dict(state)
    net.meta = ckpt.get("meta", {})  # type: ignore[attr-defined]
    return net.eval()


def default_click_weights() -> Path:
    """Path of the FCFI weights shipped in the package (may not exist in a dev checkout)."""
    return WEIGHTS_DIR / DEFAULT_WEIGHTS
