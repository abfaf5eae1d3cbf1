"""Build, save and load click networks; where the shipped weights live.

A click-model file is a ``.safetensors`` file (floating-point tensors as fp16; loading casts
back to fp32) whose model card (:mod:`.safe_io`) holds ``kind="click_net"``, ``variant``,
``config`` (the :class:`ClickNet` arguments) and ``meta``. Old ``torch.save`` dicts
``{"variant", "config", "state_dict", "meta"}`` are still read, through ``weights_only=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from .click_net import VARIANTS, ClickNet
from .safe_io import ModelSpec, build_checked, read_verified_model, save_module

WEIGHTS_DIR = Path(__file__).parent / "weights"
# The default click model: the concat net on the ImageNet EfficientNet-Lite0 trunk, chosen by the
# pre-registered fcfi-vs-concat comparison of issue #13 (docs/models/interactive.md).
DEFAULT_VARIANT = "concat"
DEFAULT_WEIGHTS = f"click_{DEFAULT_VARIANT}.safetensors"
CLICK_SPEC = ModelSpec("click_net", "click-model", VARIANTS, ClickNet,
                       legacy_defaults={"kind": "click_net"})


def build_click_net(variant: str = "fcfi", **cfg: Any) -> ClickNet:
    """A randomly initialised :class:`ClickNet` of ``variant`` (``fcfi``/``concat``/``nofeedback``)."""
    if variant not in VARIANTS:
        raise InvalidInputError(f"unknown click-model variant {variant!r}; choose one of {VARIANTS}")
    return ClickNet(variant, **cfg)


def save_click_net(net: ClickNet, path: str | os.PathLike, meta: dict | None = None,
                   extra: dict | None = None) -> Path:
    """Write ``net`` as an fp16 ``.safetensors`` file with its model card and return the path.

    Args:
        net: the network.
        path: the file to write (conventionally ``*.safetensors``).
        meta: training facts (step, training config, ...), JSON data.
        extra: further card entries, e.g. ``training_data`` and ``licence``.
    """
    card = {**dict(extra or {}), "kind": CLICK_SPEC.kind, "variant": net.variant,
            "config": dict(net.config), "meta": dict(meta or {})}
    return save_module(net, path, card)


def load_click_net(path: str | os.PathLike) -> ClickNet:
    """Load a file written by :func:`save_click_net` (or an old ``.pt`` export) after checking
    its model card and tensors; the shipped file is also checked against its sha256.

    The returned net has ``meta`` (the card's meta) and ``card`` (the whole card).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if the file is not a valid click-model file (or holds pickled code).
    """
    path = Path(path)
    tensors, card, variant, config = read_verified_model(path, WEIGHTS_DIR, CLICK_SPEC,
                                                         "click-model")
    if variant == "fcfi":  # options added later default to what older nets were
        config.setdefault("input_feedback", False)
        config.setdefault("correction_features", False)
    net = build_checked(path, CLICK_SPEC, tensors, lambda: build_click_net(variant, **config))
    net.meta = card.get("meta", {})  # type: ignore[attr-defined]
    net.card = card  # type: ignore[attr-defined]
    return net  # type: ignore[return-value]


def default_click_weights() -> Path:
    """Path of the default click weights shipped in the package (may not exist in a dev checkout)."""
    return WEIGHTS_DIR / DEFAULT_WEIGHTS
