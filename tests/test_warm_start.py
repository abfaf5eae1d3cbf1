"""Widening an earlier fcfi run to the current architecture keeps its function and resumes."""

from __future__ import annotations

import pytest
import torch

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.models.registry import build_click_net
from napari_ifss.train.config import InteractiveTrainConfig
from napari_ifss.train.interactive_loop import InteractiveTrainer
from napari_ifss.train.warm_start import main, widen_checkpoint

TINY = {
    "batch_size": 2, "crop_size": 64, "max_click_iters": 2, "warmup_steps": 1,
    "include_real": False, "sources": {"synthetic": 1.0}, "checkpoint_every": 1, "log_every": 1,
    "threads": 1,
    "net": {"channels": 8, "low_channels": 8, "encoder_widths": [8, 8, 8, 16, 16],
            "head_widths": [8, 16]},
}


def _early_run(tmp_path):
    net = {**TINY["net"], "input_feedback": False}
    cfg = InteractiveTrainConfig.from_dict({**TINY, "net": net, "steps": 2,
                                            "variants": ["fcfi", "concat"]})
    InteractiveTrainer(cfg, tmp_path / "early").run(progress=False)
    return tmp_path / "early" / "ckpt_last.pt"


def test_widened_fcfi_computes_the_same_and_training_continues(tmp_path):
    src = _early_run(tmp_path)
    dst = widen_checkpoint(src, tmp_path / "new" / "ckpt_last.pt")
    old_state = torch.load(src, weights_only=False)
    new_state = torch.load(dst, weights_only=False)
    assert new_state["step"] == old_state["step"] == 2
    assert new_state["config"]["net"]["input_feedback"] is True
    old = build_click_net("fcfi", **TINY["net"], input_feedback=False).eval()
    old.load_state_dict(old_state["nets"]["fcfi"])
    new = build_click_net("fcfi", **new_state["config"]["net"]).eval()
    new.load_state_dict(new_state["nets"]["fcfi"])
    torch.manual_seed(0)
    image, prev = torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)
    pts = torch.tensor([[[30.0, 30.0, 1.0], [10.0, 50.0, 0.0]]])
    with torch.no_grad():
        assert torch.allclose(old(image, pts, prev).logits, new(image, pts, prev).logits,
                              atol=1e-5)
    # the concat net is copied as it was
    for k, v in old_state["nets"]["concat"].items():
        assert torch.equal(v, new_state["nets"]["concat"][k])
    # a run of the current architecture resumes from it, with the widened optimiser state
    cfg = InteractiveTrainConfig.from_dict({**TINY, "steps": 3, "variants": ["fcfi", "concat"]})
    trainer = InteractiveTrainer(cfg, dst.parent)
    trainer.run(resume=True, progress=False)
    assert trainer.step == 3
    moved = trainer.nets["fcfi"].state_dict()["embed.maps.0.0.weight"][:, 2]
    assert moved.abs().sum() > 0  # the new input channel learns


def test_widen_refuses_what_it_cannot_do(tmp_path):
    src = _early_run(tmp_path)
    dst = widen_checkpoint(src, tmp_path / "new" / "ckpt_last.pt")
    with pytest.raises(FileExistsError):
        widen_checkpoint(src, dst)
    with pytest.raises(InvalidInputError, match="already"):
        widen_checkpoint(dst, tmp_path / "again" / "ckpt_last.pt")
    with pytest.raises(FileNotFoundError):
        widen_checkpoint(tmp_path / "missing.pt", tmp_path / "x.pt")
    state = torch.load(src, weights_only=False)
    del state["nets"]["fcfi"]
    torch.save(state, tmp_path / "nofcfi.pt")
    with pytest.raises(InvalidInputError, match="no fcfi"):
        widen_checkpoint(tmp_path / "nofcfi.pt", tmp_path / "y.pt")
    assert main([str(src), str(tmp_path / "cli" / "ckpt_last.pt")]) == 0
