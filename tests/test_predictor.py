"""ClickPredictor: shapes at full resolution, dtypes, errors, LRU cache, zoom-in, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError, NotReadyError
from napari_ifss.core.interactive.predictor import ClickPredictor, normalize_slice
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.protocols import ClickSegmenter
from napari_ifss.models.registry import build_click_net, save_click_net

SMALL = dict(channels=16, low_channels=8, encoder_widths=(8, 8, 16, 16, 16), head_widths=(16, 16))



@pytest.fixture(scope="module")
def net():
    return build_click_net("fcfi", **SMALL)


def _predictor(net, **kw) -> ClickPredictor:
    kw.setdefault("max_side", 128)
    return ClickPredictor(net, device="cpu", **kw)


def _check_prob(prob, shape):
    assert prob.shape == shape and prob.dtype == np.float32
    assert np.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1


def test_satisfies_protocol_and_variant(net):
    p = _predictor(net)
    assert isinstance(p, ClickSegmenter) and p.variant == "fcfi" and not p.is_image_set


@pytest.mark.parametrize("image", [
    np.random.default_rng(0).integers(0, 255, (97, 131), dtype=np.uint8),
    np.random.default_rng(1).integers(0, 255, (61, 45, 3), dtype=np.uint8),
    np.random.default_rng(2).integers(0, 65535, (150, 301), dtype=np.uint16),
    np.random.default_rng(3).normal(40, 300, (77, 77)).astype(np.float32),  # CT in HU
    np.random.default_rng(4).random((33, 35, 4)),  # RGBA float64
], ids=["grey8-odd", "rgb8", "uint16-large", "float-ct", "rgba-float"])
def test_full_resolution_probabilities_any_input(net, image):
    p = _predictor(net)
    p.set_image(image)
    h, w = image.shape[:2]
    clicks = [Click(h // 2, w // 2, True)]
    prob = p.predict(clicks)
    _check_prob(prob, (h, w))
    clicks.append(Click(1, 1, False))
    _check_prob(p.predict(clicks, prev_mask=prob > 0.5), (h, w))
    _check_prob(p.predict(clicks, prev_mask=prob), (h, w))


def test_normalize_slice_ranges():
    ct = np.array([[-1000, 0], [40, 3000]], dtype=np.int16)
    out = normalize_slice(ct)
    assert out.shape == (3, 2, 2) and out.min() == 0 and out.max() == 1
    assert np.array_equal(normalize_slice(np.full((4, 4), 255, np.uint8)), np.ones((3, 4, 4)))


def test_errors(net):
    p = _predictor(net)
    with pytest.raises(NotReadyError, match="set_image"):
        p.predict([Click(1, 1)])
    with pytest.raises(InvalidInputError, match="shape"):
        p.set_image(np.zeros((4, 5, 6, 7)))
    with pytest.raises(InvalidInputError, match="shape"):
        p.set_image(np.zeros((10, 10, 2)))
    bad = np.zeros((20, 20), np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        p.set_image(bad)
    p.set_image(np.zeros((20, 30), np.uint8))
    with pytest.raises(InvalidInputError, match=r"outside the image of shape \(20, 30\)") as info:
        p.predict([Click(5, 5), Click(20, 3)])
    assert "row=20" in str(info.value)
    with pytest.raises(InvalidInputError, match="outside"):
        p.predict([Click(-1, 3)])
    with pytest.raises(InvalidInputError, match="prev_mask"):
        p.predict([Click(5, 5)], prev_mask=np.zeros((20, 31)))
    assert p.predict([]).shape == (20, 30)


def test_lru_cache_counts_encoder_calls(net):
    p = _predictor(net, cache_size=2)
    imgs = [np.random.default_rng(i).random((40, 50)) for i in range(3)]
    p.set_image(imgs[0], key=0)
    p.set_image(imgs[1], key=1)
    assert p.encoder_calls == 2
    p.set_image(imgs[0], key=0)  # cached
    assert p.encoder_calls == 2
    a = p.predict([Click(10, 10)])
    p.set_image(imgs[2], key=2)  # evicts key 1 (least recently used)
    p.set_image(imgs[0], key=0)
    assert p.encoder_calls == 3
    np.testing.assert_array_equal(a, p.predict([Click(10, 10)]))
    p.set_image(imgs[1], key=1)
    assert p.encoder_calls == 4
    p.set_image(imgs[1])  # no key: always encodes
    assert p.encoder_calls == 5


def test_zoom_in_crops_after_three_clicks(net):
    image = np.random.default_rng(0).random((200, 240)).astype(np.float32)
    prev = np.zeros((200, 240), np.float32)
    prev[90:110, 100:130] = 1
    clicks = [Click(100, 110), Click(95, 125, False), Click(105, 105)]
    zoom = _predictor(net, zoom_in=True)
    zoom.set_image(image)
    out = zoom.predict(clicks, prev)
    _check_prob(out, (200, 240))
    assert zoom.encoder_calls == 2  # full slice + the crop
    assert out[:40].max() == 0 and out[:, :40].max() == 0  # outside the box is background
    zoom.predict(clicks, prev)
    assert zoom.encoder_calls == 2  # the crop is cached
    plain = _predictor(net, zoom_in=False)
    plain.set_image(image)
    plain.predict(clicks, prev)
    assert plain.encoder_calls == 1
    zoom.predict(clicks[:2], prev)  # fewer than 3 clicks: no new crop
    assert zoom.encoder_calls == 2


def test_refine_runs_and_keeps_shape(net):
    p = _predictor(net, refine=True)
    p.set_image(np.random.default_rng(0).random((64, 80)))
    _check_prob(p.predict([Click(30, 30), Click(5, 70, False)]), (64, 80))


def test_checkpoint_round_trip(tmp_path, net):
    path = save_click_net(net, tmp_path / "click.safetensors")
    image = np.random.default_rng(0).random((64, 64))
    a, b = _predictor(net), ClickPredictor.from_checkpoint(path, device="cpu", max_side=128)
    a.set_image(image)
    b.set_image(image)
    assert b.variant == "fcfi"
    pa, pb = a.predict([Click(30, 30)]), b.predict([Click(30, 30)])
    assert np.abs(pa - pb).max() < 0.05


def test_default_weights_missing_or_loadable(monkeypatch, tmp_path):
    import napari_ifss.models.registry as registry

    assert ClickPredictor.default(device="cpu").variant == registry.DEFAULT_VARIANT

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="weights are missing"):
        ClickPredictor.default()


def test_shipped_weights_segment_a_bright_disk():
    """Guards against broken weights/preprocessing: a clear object gets found and refined."""
    from skimage.draw import disk

    from napari_ifss.train.sanity_eval import robot_ious

    rng = np.random.default_rng(0)
    image = rng.normal(60, 10, (300, 400))
    gt = np.zeros((300, 400), bool)
    gt[disk((150, 200), 50, shape=gt.shape)] = True
    image[gt] += 100
    image[disk((60, 60), 25, shape=gt.shape)] += 100  # a second, unclicked object
    image = image.clip(0, 255).astype(np.uint8)
    predictor = ClickPredictor.default(device="cpu")
    ious = robot_ious(predictor, image, gt, 6)
    assert ious[0] > 0.4 and max(ious) > 0.75, ious
    prob = predictor.predict([Click(150, 200)])
    assert prob[gt].mean() > prob[~gt].mean() + 0.15
