"""Episodic training of the few-shot head on the frozen click encoder.

The encoder runs once per training slice (no grad) to build the :class:`Pool`; each step then
trains only the decoder on a batch of episodes: masked BCE + soft Dice on the output, plus BCE
on the 1/4-resolution auxiliary output. Checkpoints (fp16, with the click-weights sha256) are
written every ``checkpoint_every`` steps and at the end; a JSON line per ``log_every`` steps.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.fewshot.fewshot import FewShotSegmenter
from ..models.fewshot_head import FewShotHead
from ..models.fewshot_weights import save_fewshot_head
from ..models.registry import load_click_net
from .fewshot_episodes import Batch, EpisodeSampler
from .fewshot_pool import build_pool


@dataclass(frozen=True)
class FewShotTrainConfig:
    """Hyper-parameters of ``ifss train fewshot``."""

    steps: int = 800
    batch_size: int = 8
    crop: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 30
    aux_weight: float = 0.4
    p_prior: float = 0.7
    p_outside: float = 0.1
    n_synthetic: int = 4
    synthetic_side: int = 160
    max_per_set: int = 12
    seed: int = 0
    threads: int = 1
    log_every: int = 10
    # comma-separated 3D dataset names left out of the pool (leave-one-volume-out heads)
    exclude_volumes: str = ""
    checkpoint_every: int = 100


def episode_loss(head: FewShotHead, batch: Batch, aux_weight: float) -> torch.Tensor:
    """Masked BCE + soft Dice at full crop resolution, plus ``aux_weight`` x aux BCE."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, aux = head(batch.deep, batch.low, batch.supports, batch.weights,
                           prior=batch.prior, has_prior=batch.has_prior, image=batch.image,
                           with_aux=True)
    logits, aux = logits.float(), aux.float()
    v, t = batch.valid, batch.target
    bce = (F.binary_cross_entropy_with_logits(logits, t, reduction="none") * v).sum() / v.sum()
    p = torch.sigmoid(logits) * v
    inter = (p * t).flatten(1).sum(1)
    dice = 1 - (2 * inter + 1) / (p.flatten(1).sum(1) + (t * v).flatten(1).sum(1) + 1)
    t4 = F.avg_pool2d(t, 4)
    v4 = (F.avg_pool2d(v, 4) > 0.5).float()
    aux_bce = (F.binary_cross_entropy_with_logits(aux, t4, reduction="none") * v4).sum() / \
        v4.sum().clamp_min(1)
    return bce + dice.mean() + aux_weight * aux_bce


def train_fewshot(click_weights: str | Path, data_root: str | Path | None, out_dir: str | Path,
                  cfg: FewShotTrainConfig, log=print) -> Path:
    """Train a head for the encoder in ``click_weights``; returns the final checkpoint path."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    encoder = load_click_net(click_weights).encoder
    head = FewShotHead()
    seg = FewShotSegmenter(head, encoder, device="cpu")
    t0 = time.time()
    pool = build_pool(seg, data_root, cfg.n_synthetic, cfg.max_per_set, cfg.seed, log=log,
                      synthetic_shape=(20, cfg.synthetic_side, cfg.synthetic_side),
                      exclude_volumes=tuple(v for v in cfg.exclude_volumes.split(",") if v))
    log(f"pool built in {time.time() - t0:.0f} s")
    sampler = EpisodeSampler(pool, head, np.random.default_rng(cfg.seed), cfg.crop,
                             cfg.p_prior, cfg.p_outside)
    head.train()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup_steps) /
                                   max(1, cfg.steps - cfg.warmup_steps)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    meta = {"config": asdict(cfg), "pool_slices": len(pool.deep),
            "groups": [g.name for g in pool.groups]}
    losses: list[float] = []
    with open(out_dir / "log.jsonl", "a", encoding="utf-8") as logf:
        for step in range(cfg.steps):
            loss = episode_loss(head, sampler.batch(cfg.batch_size), cfg.aux_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if (step + 1) % cfg.log_every == 0:
                rec = {"step": step + 1, "loss": float(np.mean(losses[-cfg.log_every:])),
                       "lr": sched.get_last_lr()[0], "elapsed_s": round(time.time() - t0, 1)}
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log(json.dumps(rec))
            if (step + 1) % cfg.checkpoint_every == 0:
                save_fewshot_head(head, out_dir / "ckpt_last.safetensors", click_weights,
                                  {**meta, "step": step + 1})
    head.eval()
    return save_fewshot_head(head, out_dir / "fewshot.safetensors", click_weights,
                             {**meta, "step": cfg.steps,
                              "final_loss": float(np.mean(losses[-50:])) if losses else None})
