"""Training configuration of the interactive click models (a dataclass; YAML/JSON round trip)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass
class InteractiveTrainConfig:
    """All knobs of ``ifss train interactive``; the resolved copy is written into every run."""

    steps: int = 2000
    batch_size: int = 8
    crop_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    max_click_iters: int = 6  # no-grad clicking iterations before the gradient pass: 0..this
    variants: list[str] = field(default_factory=lambda: ["fcfi", "concat", "nofeedback"])
    net: dict[str, Any] = field(default_factory=dict)  # ClickNet kwargs (channels, widths, ...)
    sources: dict[str, float] = field(default_factory=lambda: {
        "dsb2018": 0.2, "coco_mval": 0.2, "epfl_em": 0.1, "volumes": 0.25, "synthetic": 0.25})
    include_real: bool = True
    # From this step on all BatchNorm layers use (frozen) running statistics, as at inference;
    # FCFI's head otherwise mixes statistics of first-click (gate 0) and later (gate 1) passes.
    freeze_bn_after: int = -1  # -1 = never
    # From this step on real objects may be as small as this fraction of the crop side (else 0.15).
    small_objects_after: int = -1
    small_object_fraction: float = 0.05
    w_corrected: float = 0.4
    w_updated: float = 0.4
    seed: int = 0
    checkpoint_every: int = 100
    # Keep the fp16 exports of every N-th step as snapshots/click_<variant>_<step>.safetensors
    # (0 = off), so that variants can be compared at the same steps of one run after it has ended.
    snapshot_every: int = 0
    # Exponential moving average of the weights (torch.optim.swa_utils), exported instead of the
    # raw weights when > 0 (e.g. 0.999); the raw weights stay in the checkpoint.
    ema_decay: float = 0.0
    # Fraction of samples whose first prompt is a loosely drawn box instead of a click (needs a
    # net built with box_prompt: true); corrective clicks follow as usual.
    box_prob: float = 0.0
    log_every: int = 10
    threads: int = 0  # torch CPU threads; 0 = torch's default
    device: str = ""  # "" = cuda if available else cpu

    @classmethod
    def from_file(cls, path: str | Path) -> InteractiveTrainConfig:
        """Read a YAML or JSON file holding any subset of the fields."""
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        return cls.from_dict(data or {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InteractiveTrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
