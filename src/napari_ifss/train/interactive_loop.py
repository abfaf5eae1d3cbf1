"""The iterative-click training loop (RITM protocol) for all click-model variants at once.

Every step draws ONE batch and updates every variant on it (same data, same budget: a fair
ablation). Per variant the batch is encoded once; ``0..max_click_iters`` clicking iterations
run without gradient on those cached features (the model's own prediction is the feedback, the
next click goes to the largest error), then one pass with gradient is trained.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..core.errors import InvalidInputError
from ..eval.clicker import jittered_box
from ..models.click_net import ClickNet
from ..models.encoder import EncoderFeatures
from ..models.registry import build_click_net, save_click_net
from ..models.safe_io import TRAINING_KIND, read_tree, write_tree
from .click_sim import first_click, next_click, points_tensor
from .config import InteractiveTrainConfig
from .losses import click_net_loss
from .sources import SampleSource, load_real_pool

CHECKPOINT = "ckpt_last.safetensors"
LEGACY_CHECKPOINT = "ckpt_last.pt"  # older runs; still resumed (weights_only=True)
EXPORT_SUFFIX = ".safetensors"


def read_checkpoint(path: str | Path) -> dict:
    """A training checkpoint as a dict (``step``, ``config``, ``nets``, ``opts``, ``rng``,
    ``wall_s``), from ``.safetensors`` or an old ``.pt`` (no pickled code is run).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if it is not a training checkpoint.
    """
    state = read_tree(path, TRAINING_KIND)
    missing = {"step", "nets", "opts", "rng"} - set(state)
    if missing:
        raise InvalidInputError(f"{path} is not a napari-ifss training checkpoint (no "
                                f"{sorted(missing)})")
    return state


def write_checkpoint(path: str | Path, state: dict) -> Path:
    """Write a training checkpoint dict atomically (tensors in safetensors, the rest JSON)."""
    return write_tree(path, state, TRAINING_KIND)


def pick_device(name: str = "") -> torch.device:
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def averaged_net(ema: AveragedModel, net: ClickNet) -> ClickNet:
    """The exported weight average: ``ema``'s averaged parameters with ``net``'s own buffers.

    Batch-norm running statistics are frozen from ``freeze_bn_after`` on, so the live net's are
    exactly the ones its weights (and so their average) were trained with. Averaging them too,
    as ``AveragedModel(use_buffers=True)`` does, leaves a few per cent of the early statistics in
    them: on a channel whose variance fell from ~0.2 to ~0.002 that scaled the click embedding
    down ~2x and made the lite0 export miss whole objects (issue #13, 2026-12-07).
    """
    out = copy.deepcopy(ema.module)
    with torch.no_grad():
        for (name, dst), (_, src) in zip(out.named_buffers(), net.named_buffers(), strict=True):
            if dst.shape != src.shape:
                raise RuntimeError(f"buffer {name} differs between the average and the net")
            dst.copy_(src)
    return out


class InteractiveTrainer:
    """Holds the nets, optimisers, data source and RNG state of one training run."""

    def __init__(self, cfg: InteractiveTrainConfig, out_dir: str | Path,
                 data_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = pick_device(cfg.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.nets: dict[str, ClickNet] = {}
        self.opts: dict[str, torch.optim.Optimizer] = {}
        for variant in cfg.variants:
            net = build_click_net(variant, **cfg.net).to(self.device)
            self.nets[variant] = net.to(memory_format=torch.channels_last)
            self.opts[variant] = torch.optim.AdamW(
                [p for p in net.parameters() if p.requires_grad], lr=cfg.lr,
                weight_decay=cfg.weight_decay)
        if cfg.box_prob > 0 and not all(n.box_prompt for n in self.nets.values()):
            raise InvalidInputError("box_prob > 0 needs nets built with box_prompt: true "
                                    "(net: {box_prompt: true} in the config)")
        self.emas: dict[str, AveragedModel] = {}
        self._reset_emas()
        pools = load_real_pool(data_dir) if cfg.include_real and data_dir is not None else {}
        self.source = SampleSource(pools, cfg.sources, cfg.crop_size, self.rng)
        self.step = 0

    def _reset_emas(self) -> None:
        """Fresh weight averages (copies of the current nets) when ``cfg.ema_decay > 0``."""
        self.emas = {}
        if self.cfg.ema_decay > 0:
            avg = get_ema_multi_avg_fn(self.cfg.ema_decay)
            self.emas = {v: AveragedModel(net, multi_avg_fn=avg, use_buffers=True)
                         for v, net in self.nets.items()}
        self._ema_of = {self.nets[v]: e for v, e in self.emas.items()}

    # ------------------------------------------------------------------ schedule
    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 5 % of ``lr`` at ``cfg.steps``."""
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    def _autocast(self):
        dtype = torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    # ------------------------------------------------------------------ training
    def train_step(self) -> dict[str, dict[str, float]]:
        """One batch, every variant updated once; returns per-variant loss parts."""
        if 0 <= self.cfg.small_objects_after <= self.step:
            self.source.min_fraction = self.cfg.small_object_fraction
        images, masks = self.source.batch(self.cfg.batch_size)
        n_iters = int(self.rng.integers(0, self.cfg.max_click_iters + 1))
        boxes = np.full((len(masks), 4), -1.0, dtype=np.float32)
        clicks = []
        for i, m in enumerate(masks):
            if self.cfg.box_prob > 0 and self.rng.random() < self.cfg.box_prob:
                boxes[i] = jittered_box(m, self.rng)
                clicks.append([])
            else:
                clicks.append([first_click(m, self.rng)])
        box_t = torch.from_numpy(boxes).to(self.device) if self.cfg.box_prob > 0 else None
        x = torch.from_numpy(images).to(self.device).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(masks)[:, None].float().to(self.device)
        lr = self.lr_at(self.step)
        logs = {}
        for variant, net in self.nets.items():
            for group in self.opts[variant].param_groups:
                group["lr"] = lr
            logs[variant] = self._variant_step(net, self.opts[variant], x, y, masks,
                                               [list(c) for c in clicks], n_iters, box_t)
        self.step += 1
        return logs

    def _variant_step(self, net: ClickNet, opt: torch.optim.Optimizer, x: torch.Tensor,
                      y: torch.Tensor, masks: np.ndarray, clicks: list[list], n_iters: int,
                      boxes: torch.Tensor | None = None) -> dict[str, float]:
        net.train()
        if 0 <= self.cfg.freeze_bn_after <= self.step:
            for module in net.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        with self._autocast():
            feats = net.encode(x)
        prev = None
        with torch.no_grad():
            cached = EncoderFeatures(feats.deep.detach(), feats.low.detach())
            for _ in range(n_iters):
                pts = torch.from_numpy(points_tensor(clicks)).to(self.device)
                with self._autocast():
                    out = net.decode(cached, pts, prev if net.uses_feedback else None, boxes)
                prob = torch.sigmoid(out.logits.float())
                pred = (prob[:, 0] > 0.5).cpu().numpy()
                for i, cl in enumerate(clicks):
                    new = next_click(masks[i], pred[i], cl)
                    if new is not None:
                        cl.append(new)
                prev = prob
        pts = torch.from_numpy(points_tensor(clicks)).to(self.device)
        with self._autocast():
            out = net.decode(feats, pts, prev if net.uses_feedback else None, boxes)
        loss, parts = click_net_loss(out, y, self.cfg.w_corrected, self.cfg.w_updated)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {parts}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        if net in self._ema_of:
            self._ema_of[net].update_parameters(net)
        parts["total"] = float(loss.detach())
        parts["clicks"] = float(np.mean([len(c) for c in clicks]))
        return parts

    # ------------------------------------------------------------------ checkpoints
    def save(self, wall_s: float = 0.0) -> Path:
        """Write the resumable checkpoint and one fp16 export per variant into ``out``."""
        path = self.out / CHECKPOINT
        state = {
            "step": self.step, "config": self.cfg.to_dict(),
            "nets": {v: n.state_dict() for v, n in self.nets.items()},
            "opts": {v: o.state_dict() for v, o in self.opts.items()},
            "emas": {v: e.state_dict() for v, e in self.emas.items()},
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state(),
                    "python": random.getstate()},
            "wall_s": wall_s,
        }
        write_checkpoint(path, state)
        self._export(self.out, "", wall_s)
        return path

    def snapshot(self, wall_s: float = 0.0) -> list[Path]:
        """Keep this step's fp16 exports as ``out/snapshots/click_<variant>_<step>.safetensors``."""
        return self._export(self.out / "snapshots", f"_{self.step}", wall_s)

    def _export(self, folder: Path, suffix: str, wall_s: float) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for variant, net in self.nets.items():
            paths.append(folder / f"click_{variant}{suffix}{EXPORT_SUFFIX}")
            ema = self.emas.get(variant)
            save_click_net(averaged_net(ema, net) if ema is not None else net, paths[-1], meta={
                "step": self.step, "train_config": self.cfg.to_dict(), "wall_s": wall_s,
                "weights": f"EMA {self.cfg.ema_decay}" if ema is not None else "raw"})
        return paths

    def load(self, path: str | Path) -> float:
        """Restore a checkpoint written by :meth:`save` (or an old ``ckpt_last.pt``); returns
        its recorded wall time.

        Raises:
            InvalidInputError: if the file is not a training checkpoint of these variants.
        """
        state = read_checkpoint(path)
        for v, net in self.nets.items():
            if v not in state["nets"] or v not in state["opts"]:
                raise InvalidInputError(f"{path} has no {v!r} net; it holds "
                                        f"{sorted(state['nets'])}")
            try:
                net.load_state_dict(state["nets"][v])
                self.opts[v].load_state_dict(state["opts"][v])
            except (RuntimeError, ValueError, KeyError) as exc:
                raise InvalidInputError(f"{path}: its {v!r} net does not fit this run's config "
                                        f"({str(exc).splitlines()[0]})") from None
        self._reset_emas()  # a checkpoint without averages starts them from its weights
        for v, ema_state in (state.get("emas") or {}).items():
            if v in self.emas:
                self.emas[v].load_state_dict(ema_state)
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        torch.set_rng_state(state["rng"]["torch"].cpu())
        random.setstate(state["rng"]["python"])
        return float(state.get("wall_s", 0.0))

    def run(self, resume: bool = False, progress: bool = True) -> Path:
        """Train until ``cfg.steps`` with checkpoints and a JSON-lines log; returns the checkpoint.

        With ``resume`` an existing checkpoint in the output folder is continued; without it an
        existing checkpoint is an error (nothing is overwritten).
        """
        from tqdm import tqdm

        ckpt = self.out / CHECKPOINT
        if not ckpt.is_file() and (self.out / LEGACY_CHECKPOINT).is_file():
            ckpt = self.out / LEGACY_CHECKPOINT
        if ckpt.is_file() and not resume:
            raise FileExistsError(f"{ckpt} exists; pass resume=True (--resume) to continue it")
        wall0 = self.load(ckpt) if ckpt.is_file() else 0.0
        start = time.perf_counter()
        log = (self.out / "log.jsonl").open("a", encoding="utf-8")
        bar = tqdm(total=self.cfg.steps, initial=self.step, disable=not progress,
                   desc="train interactive", mininterval=5.0)
        try:
            while self.step < self.cfg.steps:
                t0 = time.perf_counter()
                logs = self.train_step()
                bar.update(1)
                bar.set_postfix({v: f"{p['total']:.3f}" for v, p in logs.items()})
                if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                    log.write(json.dumps({"step": self.step, "lr": self.lr_at(self.step - 1),
                                          "s_per_step": time.perf_counter() - t0,
                                          "wall_s": wall0 + time.perf_counter() - start,
                                          "loss": logs}) + "\n")
                    log.flush()
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                    self.save(wall0 + time.perf_counter() - start)
                if self.cfg.snapshot_every > 0 and self.step % self.cfg.snapshot_every == 0:
                    self.snapshot(wall0 + time.perf_counter() - start)
        finally:
            bar.close()
            log.close()
        return self.out / CHECKPOINT
