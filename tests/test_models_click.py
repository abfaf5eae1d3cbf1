"""Click-model components: shapes, disk maps, focused correction, gated fusion, registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.models.click_encoding import click_maps, disk_maps
from napari_ifss.models.click_net import VARIANTS, newest_click
from napari_ifss.models.feedback_fusion import CollaborativeFusion
from napari_ifss.models.focused_correction import click_boxes, focused_correction
from napari_ifss.models.registry import build_click_net, load_click_net, save_click_net
from napari_ifss.models.safe_io import read_model_dict

SMALL = dict(channels=16, low_channels=8, encoder_widths=(8, 8, 16, 16, 16), head_widths=(16, 16))



def test_disk_maps_positive_negative_and_padding():
    pts = torch.tensor([[[10.0, 20.0, 1.0], [40.0, 40.0, 0.0], [5.0, 5.0, -1.0]]])
    maps = disk_maps(pts, (64, 64), radius=5)
    assert maps.shape == (1, 2, 64, 64)
    pos, neg = maps[0, 0], maps[0, 1]
    assert pos[10, 20] == 1 and pos[10, 25] == 1 and pos[10, 26] == 0 and pos[14, 24] == 0
    assert neg[40, 40] == 1 and neg[10, 20] == 0 and pos[40, 40] == 0
    assert maps[0, :, 5, 5].sum() == 0  # padded click ignored
    assert int(pos.sum()) == int(neg.sum())  # same disk area (both fully inside)
    pooled = click_maps(pts, (64, 64), stride=4)
    assert pooled.shape == (1, 2, 16, 16) and 0 < pooled[0, 0, 2, 5] <= 1


def test_newest_click_skips_padding():
    pts = torch.tensor([[[1.0, 2.0, 1.0], [3.0, 4.0, 0.0], [0.0, 0.0, -1.0]],
                        [[5.0, 6.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0]]])
    rc, positive, has = newest_click(pts)
    assert rc.tolist() == [[3.0, 4.0], [5.0, 6.0]]
    assert positive.tolist() == [False, True] and has.tolist() == [True, True]


@pytest.mark.parametrize("positive", [True, False])
def test_focused_correction_only_inside_box_and_towards_label(positive):
    torch.manual_seed(0)
    feats = torch.randn(1, 8, 40, 40)
    feats[:, :, 15:25, 15:25] = feats[:, :, 20:21, 20:21]  # a patch similar to the click
    feedback = torch.rand(1, 1, 40, 40)
    centre = torch.tensor([[20.0, 20.0]])
    corrected, box = focused_correction(feedback, feats, centre, torch.tensor([positive]))
    assert box.shape == (1, 1, 40, 40) and int(box.sum()) == 13 * 13  # side round(0.3*40)=12 -> +-6
    assert torch.equal(corrected[~box], feedback[~box])  # exactly the identity outside
    inside = box[0, 0]
    diff = (corrected - feedback)[0, 0][inside]
    if positive:
        assert (diff >= -1e-6).all() and corrected[0, 0, 20, 20] == pytest.approx(1.0)
    else:
        assert (diff <= 1e-6).all() and corrected[0, 0, 20, 20] == pytest.approx(0.0)
    assert diff.abs().sum() > 0.5  # it moved something
    assert corrected.min() >= 0 and corrected.max() <= 1


def test_focused_correction_inactive_and_box_clipped():
    feedback = torch.rand(2, 1, 20, 30)
    feats = torch.randn(2, 4, 20, 30)
    centre = torch.tensor([[0.0, 0.0], [19.0, 29.0]])
    corrected, box = focused_correction(feedback, feats, centre, torch.tensor([True, False]),
                                        active=torch.tensor([False, True]))
    assert not box[0].any() and torch.equal(corrected[0], feedback[0])
    assert box[1, 0, 19, 29] and not box[1, 0, 0, 0]
    assert click_boxes(torch.tensor([[0.0, 0.0]]), (20, 30)).sum() < 6 * 9  # clipped at corner


def test_gate_zero_makes_output_independent_of_feature_pathway():
    fusion = CollaborativeFusion(8).eval()
    x, fb = torch.randn(2, 8, 12, 12), torch.rand(2, 1, 12, 12)
    out0, _ = fusion(x, fb, torch.zeros(2))
    with torch.no_grad():
        for p in fusion.feature_path.parameters():
            p.add_(torch.randn_like(p))
    out0b, _ = fusion(x, fb, torch.zeros(2))
    out1, upd = fusion(x, fb, torch.ones(2))
    assert torch.equal(out0, x) and torch.equal(out0b, x)
    assert not torch.allclose(out1, x) and upd.shape == (2, 1, 12, 12)


def test_first_click_output_ignores_fusion_weights_later_clicks_do_not():
    torch.manual_seed(0)
    net = build_click_net("fcfi", **SMALL).eval()
    image = torch.rand(1, 3, 64, 64)
    one = torch.tensor([[[30.0, 30.0, 1.0]]])
    two = torch.tensor([[[30.0, 30.0, 1.0], [10.0, 10.0, 0.0]]])
    prev = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        a1, a2 = net(image, one).logits, net(image, two, prev).logits
        for p in net.fusion.feature_path.parameters():
            p.add_(torch.randn_like(p))
        b1, b2 = net(image, one).logits, net(image, two, prev).logits
    assert torch.equal(a1, b1)
    assert not torch.allclose(a2, b2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_click_net_shapes(variant):
    net = build_click_net(variant, **SMALL).eval()
    image = torch.rand(2, 3, 64, 96)
    pts = torch.tensor([[[5.0, 5.0, 1.0], [20.0, 30.0, 0.0]], [[40.0, 90.0, 1.0], [0, 0, -1.0]]])
    with torch.no_grad():
        feats = net.encode(image)
        out = net.decode(feats, pts, torch.rand(2, 1, 64, 96))
    assert feats.deep.shape == (2, 16, 16, 24) and feats.low.shape == (2, 8, 32, 48)
    assert out.logits.shape == (2, 1, 64, 96) and torch.isfinite(out.logits).all()
    assert (out.updated_logits is not None) == (variant == "fcfi")


def test_feedback_reaches_output_only_when_the_variant_uses_it():
    torch.manual_seed(1)
    image, pts = torch.rand(1, 3, 64, 64), torch.tensor([[[30.0, 30.0, 1.0], [5.0, 5.0, 0.0]]])
    for variant in VARIANTS:
        net = build_click_net(variant, **SMALL).eval()
        with torch.no_grad():
            a = net(image, pts, torch.zeros(1, 1, 64, 64)).logits
            b = net(image, pts, torch.ones(1, 1, 64, 64)).logits
        assert torch.allclose(a, b) == (variant == "nofeedback"), variant


def test_registry_round_trip_fp16(tmp_path):
    net = build_click_net("concat", **SMALL).eval()
    path = save_click_net(net, tmp_path / "m.safetensors", meta={"step": 3})
    ckpt = read_model_dict(path)
    assert all(v.dtype != torch.float32 for v in ckpt["state_dict"].values())
    loaded = load_click_net(path)
    assert loaded.variant == "concat" and loaded.meta["step"] == 3
    image, pts = torch.rand(1, 3, 64, 64), torch.tensor([[[30.0, 30.0, 1.0]]])
    with torch.no_grad():
        assert torch.allclose(net(image, pts).logits, loaded(image, pts).logits, atol=0.05)


def test_registry_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="variant"):
        build_click_net("bogus")
    with pytest.raises(FileNotFoundError):
        load_click_net(tmp_path / "missing.safetensors")
    torch.save({"foo": 1}, tmp_path / "bad.pt")
    with pytest.raises(InvalidInputError, match="not a napari-ifss"):
        load_click_net(tmp_path / "bad.pt")


def test_fcfi_takes_the_mask_at_the_input_like_concat_unless_built_the_earlier_way():
    fcfi, concat = build_click_net("fcfi", **SMALL), build_click_net("concat", **SMALL)
    first_conv = "embed.maps.0.0.weight"
    assert fcfi.state_dict()[first_conv].shape == concat.state_dict()[first_conv].shape
    assert fcfi.config["input_feedback"] and concat.config["input_feedback"]
    early = build_click_net("fcfi", **SMALL, input_feedback=False)
    assert early.state_dict()[first_conv].shape[1] == 2
    assert not build_click_net("nofeedback", **SMALL).config["input_feedback"]


def test_checkpoints_from_before_input_feedback_load_as_the_earlier_fcfi(tmp_path):
    early = build_click_net("fcfi", **SMALL, input_feedback=False).eval()
    ckpt = read_model_dict(save_click_net(early, tmp_path / "old.safetensors"))
    del ckpt["config"]["input_feedback"]  # as written before the option existed
    path = tmp_path / "old.pt"  # and files were torch.save dicts
    torch.save({k: ckpt[k] for k in ("variant", "config", "state_dict", "meta")}, path)
    loaded = load_click_net(path)
    assert not loaded.input_feedback


def test_inference_switches_turn_single_fcfi_modules_off():
    torch.manual_seed(2)
    net = build_click_net("fcfi", **SMALL).eval()
    image, prev = torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)
    two = torch.tensor([[[30.0, 30.0, 1.0], [10.0, 12.0, 0.0]]])
    with torch.no_grad():
        full = net(image, two, prev)
        net.correction_enabled = False
        plain = net(image, two, prev)
        assert not plain.box.any() and torch.equal(plain.corrected, F.avg_pool2d(prev, 4))
        assert not torch.allclose(full.logits, plain.logits)
        net.correction_enabled, net.fusion_enabled = True, False
        unfused = net(image, two, prev)
        # no residual: the output is what the features alone give, whatever the feature path
        for p in net.fusion.feature_path.parameters():
            p.add_(torch.randn_like(p))
        assert torch.equal(unfused.logits, net(image, two, prev).logits)
    assert "correction_enabled" not in net.config and "fusion_enabled" not in net.config
