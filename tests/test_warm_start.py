"""Widening an earlier fcfi run to the current architecture keeps its function and resumes."""

from __future__ import annotations

import pytest
import torch

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.models.registry import build_click_net
from napari_ifss.train.config import InteractiveTrainConfig
from napari_ifss.train.interactive_loop import InteractiveTrainer, read_checkpoint, write_checkpoint
from napari_ifss.train.warm_start import main, widen_checkpoint
from tiny_train import TINY

EARLY = {"input_feedback": False, "correction_features": False}


def _early_run(tmp_path, early=EARLY):
    net = {**TINY["net"], **early}
    cfg = InteractiveTrainConfig.from_dict({**TINY, "net": net, "steps": 2,
                                            "variants": ["fcfi", "concat"]})
    InteractiveTrainer(cfg, tmp_path / "early").run(progress=False)
    return tmp_path / "early" / "ckpt_last.safetensors"


@pytest.mark.parametrize("early", [EARLY, {"input_feedback": True,
                                           "correction_features": False}])


def test_widened_fcfi_computes_the_same_and_training_continues(tmp_path, early):
    src = _early_run(tmp_path, early)
    dst = widen_checkpoint(src, tmp_path / "new" / "ckpt_last.safetensors")
    old_state = read_checkpoint(src)
    new_state = read_checkpoint(dst)
    assert new_state["step"] == old_state["step"] == 2
    assert new_state["config"]["net"]["input_feedback"] is True
    assert new_state["config"]["net"]["correction_features"] is True
    old = build_click_net("fcfi", **TINY["net"], **early).eval()
    old.load_state_dict(old_state["nets"]["fcfi"])
    new = build_click_net("fcfi", **new_state["config"]["net"]).eval()
    new.load_state_dict(new_state["nets"]["fcfi"])
    torch.manual_seed(0)
    image, prev = torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)
    pts = torch.tensor([[[30.0, 30.0, 1.0], [10.0, 50.0, 0.0]]])
    with torch.no_grad():
        assert torch.allclose(old(image, pts, prev).logits, new(image, pts, prev).logits,
                              atol=1e-5)
    # optimiser moments follow their parameters by name
    names_old = [n for n, _ in old.named_parameters()]
    names_new = [n for n, _ in new.named_parameters()]
    i_old, i_new = names_old.index("head.out.weight"), names_new.index("head.out.weight")
    assert torch.equal(old_state["opts"]["fcfi"]["state"][i_old]["exp_avg"],
                       new_state["opts"]["fcfi"]["state"][i_new]["exp_avg"])
    # the concat net is copied as it was
    for k, v in old_state["nets"]["concat"].items():
        assert torch.equal(v, new_state["nets"]["concat"][k])
    # a run of the current architecture resumes from it, with the widened optimiser state
    cfg = InteractiveTrainConfig.from_dict({**TINY, "steps": 3, "variants": ["fcfi", "concat"]})
    trainer = InteractiveTrainer(cfg, dst.parent)
    trainer.run(resume=True, progress=False)
    assert trainer.step == 3
    grown = trainer.nets["fcfi"].state_dict()
    if not early["input_feedback"]:
        assert grown["embed.maps.0.0.weight"][:, 2].abs().sum() > 0  # the new input learns
    assert grown["correction_features.branch.2.weight"].abs().sum() > 0  # so does the branch


def test_widen_refuses_what_it_cannot_do(tmp_path):
    src = _early_run(tmp_path)
    dst = widen_checkpoint(src, tmp_path / "new" / "ckpt_last.safetensors")
    with pytest.raises(FileExistsError):
        widen_checkpoint(src, dst)
    with pytest.raises(InvalidInputError, match="already"):
        widen_checkpoint(dst, tmp_path / "again" / "ckpt_last.safetensors")
    with pytest.raises(FileNotFoundError):
        widen_checkpoint(tmp_path / "missing.safetensors", tmp_path / "x.safetensors")
    state = read_checkpoint(src)
    del state["nets"]["fcfi"]
    write_checkpoint(tmp_path / "nofcfi.safetensors", state)
    with pytest.raises(InvalidInputError, match="no fcfi"):
        widen_checkpoint(tmp_path / "nofcfi.safetensors", tmp_path / "y.safetensors")
    assert main([str(src), str(tmp_path / "cli" / "ckpt_last.safetensors")]) == 0
