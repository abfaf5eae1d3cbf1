"""core.encoding: window rules, network geometry, the slice encoder's cache, bf16 / channels_last
and the pretrained (EfficientNet-Lite) encoder through the same path."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.encoding import (
    MAX_CROPS,
    NetworkGeometry,
    SliceEncoder,
    autocast,
    prepare_slice,
    slice_window,
    slices_window,
)
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.interactive.predictor import ClickPredictor
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.normalize import IntensityWindow
from napari_ifss.core.quality.quality import jfs_score
from napari_ifss.models.encoder import EncoderFeatures, ImageEncoder
from napari_ifss.models.fewshot_head import FewShotHead
from napari_ifss.models.registry import build_click_net


class CountingEncoder(torch.nn.Module):
    """Cheap stand-in: ``deep`` = 4x average pool, ``low`` = 2x average pool."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def encode(self, x: torch.Tensor) -> EncoderFeatures:
        self.calls += 1
        return EncoderFeatures(torch.nn.functional.avg_pool2d(x, 4),
                               torch.nn.functional.avg_pool2d(x, 2))


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------ windows
def test_uint8_bool_and_uint16_windows():
    img8 = _rng().integers(0, 256, (20, 30), dtype=np.uint8)
    assert slice_window(img8) == IntensityWindow(0.0, 255.0)
    np.testing.assert_array_equal(prepare_slice(img8)[1], img8.astype(np.float32) / 255.0)
    mask = img8 > 100
    assert slice_window(mask) == IntensityWindow(0.0, 1.0)
    np.testing.assert_array_equal(prepare_slice(mask)[0], mask.astype(np.float32))
    img16 = _rng().integers(1000, 5000, (20, 30), dtype=np.uint16)
    w = slice_window(img16)
    assert 1000 <= w.low < 1100 and 4900 < w.high <= 5000
    out = prepare_slice(img16)
    assert out.shape == (3, 20, 30) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_array_equal(out[0], out[2])  # grey -> three equal channels


def test_float_window_ignores_outliers():
    img = _rng().normal(0.0, 1.0, (50, 50)).astype(np.float32)
    img[0, 0], img[1, 1] = 1e6, -1e6  # hot and dead pixels
    w = slice_window(img)
    assert -4 < w.low < -2 and 2 < w.high < 4
    out = prepare_slice(img)
    assert out[0, 0, 0] == 1.0 and out[0, 1, 1] == 0.0
    assert 0.3 < float(np.median(out)) < 0.7  # the bulk keeps its contrast


def test_rgb_kept_and_rgba_alpha_dropped():
    rgb = _rng().integers(0, 256, (12, 14, 3), dtype=np.uint8)
    out = prepare_slice(rgb)
    for c in range(3):
        np.testing.assert_array_equal(out[c], rgb[..., c] / np.float32(255))
    rgba = np.concatenate([rgb, np.full((12, 14, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(prepare_slice(rgba), out)
    # Float RGBA: the alpha channel takes no part in the window either.
    f = _rng().random((12, 14, 3)).astype(np.float32)
    fa = np.concatenate([f, np.full((12, 14, 1), 1000.0, np.float32)], axis=2)
    assert slice_window(fa) == slice_window(f)
    np.testing.assert_array_equal(prepare_slice(fa), prepare_slice(f))


def test_one_window_for_a_set_of_slices():
    a = _rng(1).integers(0, 1000, (10, 10)).astype(np.uint16)
    b = a + 3000
    w = slices_window([a, b])
    assert w == IntensityWindow.from_data(np.concatenate([a.ravel(), b.ravel()]))
    assert prepare_slice(a, w).max() < 0.5 < prepare_slice(b, w).min()  # not stretched apart
    assert slices_window([a > 5, np.zeros((3, 3), np.uint8)]) == IntensityWindow(0.0, 255.0)


def test_prepare_slice_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="shape"):
        prepare_slice(np.zeros((4, 5, 6, 7)))
    bad = np.zeros((8, 8), np.float32)
    bad[2, 2] = np.inf
    with pytest.raises(InvalidInputError, match="NaN"):
        prepare_slice(bad)
    with pytest.raises(InvalidInputError, match="too small"):
        prepare_slice(np.zeros((5, 9)), min_side=8)


# ------------------------------------------------------------------------ geometry
def test_geometry_sizes():
    g = NetworkGeometry.fit((100, 50), 64, 512)
    assert (g.source, g.size, g.padded, g.scale) == ((100, 50), (100, 50), (128, 64), (1, 1))
    assert NetworkGeometry.fit((20, 10), 64, 512).size == (64, 32)
    g = NetworkGeometry.fit((1000, 300), 256, 512)
    assert g.size == (512, 154) and g.padded == (512, 160) and g.shrinks
    assert NetworkGeometry.fit((40, 50), 128, 128).size == (102, 128)  # predictor: upscaled


@pytest.mark.parametrize("shape, sides", [((97, 131), (256, 256)), ((700, 300), (64, 512)),
                                          ((64, 64), (64, 64))])
def test_point_round_trip(shape, sides):
    g = NetworkGeometry.fit(shape, *sides)
    pts = _rng().random((20, 2)) * np.array(shape)
    for r, c in pts:
        back = g.point_to_source(*g.point_to_network(r, c))
        np.testing.assert_allclose(back, (r, c), atol=1e-9)
    sr, sc = g.scale
    assert g.point_to_network(0, 0) == (0.5 * sr - 0.5, 0.5 * sc - 0.5)  # pixel centres


@pytest.mark.parametrize("shape, sides", [((97, 131), (256, 256)), ((300, 200), (64, 128))])
def test_mask_round_trip_and_padding(shape, sides):
    g = NetworkGeometry.fit(shape, *sides)
    mask = np.zeros(shape, bool)
    mask[20:70, 30:90] = True
    net = g.map_to_network(mask, "cpu", pad=0.3)
    assert net.shape == (1, 1, *g.padded) and net.dtype == torch.float32
    h, w = g.size
    assert torch.all(net[..., h:, :] == np.float32(0.3)) and torch.all(net[..., :, w:] == 0.3)
    back = g.from_network(net)[0, 0].numpy() > 0.5
    assert back.shape == shape
    assert np.count_nonzero(back ^ mask) / np.count_nonzero(mask) < 0.05
    edge = g.map_to_network(np.ones(shape), "cpu", pad=None)  # replicate: edge values
    torch.testing.assert_close(edge, torch.ones_like(edge))
    probs = g.from_network(torch.zeros(1, 1, *g.padded), torch.sigmoid)
    assert probs.shape == (1, 1, *shape) and torch.all(probs == 0.5)


# ------------------------------------------------------------------------ cache
def test_cache_hits_misses_and_eviction():
    enc = CountingEncoder()
    se = SliceEncoder(enc, "cpu", cache_size=2)
    imgs = [_rng(i).random((40, 50)).astype(np.float32) for i in range(3)]
    w = IntensityWindow(0.0, 1.0)
    first = se.encode_slice(imgs[0], (64, 64), window=w, key=0)
    assert se.encode_slice(imgs[0], (64, 64), window=w, key=0) is first and se.calls == 1
    se.encode_slice(imgs[1], (64, 64), window=w, key=1)
    se.encode_slice(imgs[0], (64, 64), window=w, key=0)  # touch 0: 1 is now the oldest
    se.encode_slice(imgs[2], (64, 64), window=w, key=2)  # evicts 1
    assert se.calls == 3
    se.encode_slice(imgs[0], (64, 64), window=w, key=0)
    assert se.calls == 3
    se.encode_slice(imgs[1], (64, 64), window=w, key=1)
    assert se.calls == 4 == enc.calls
    se.encode_slice(imgs[1], (64, 64), window=w)  # no key: always encodes
    se.encode_slice(imgs[1], (64, 64), window=w)
    assert se.calls == 6
    se.encode_slice(imgs[1][:30], (64, 64), window=w, key=1)  # same key, other shape
    assert se.calls == 7
    se.encode_slice(imgs[1][:30], (64, 128), window=w, key=1)  # other side range
    assert se.calls == 8
    se.clear()
    se.encode_slice(imgs[0], (64, 64), window=w, key=0)
    assert se.calls == 9
    se.cache_size = 0
    assert se.cache_size == 1


def test_changed_window_re_encodes():
    se = SliceEncoder(CountingEncoder(), "cpu")
    img = _rng().random((40, 50)).astype(np.float32)
    a = se.encode_slice(img, (64, 64), window=IntensityWindow(0.0, 1.0), key="z")
    b = se.encode_slice(img, (64, 64), window=IntensityWindow(0.0, 2.0), key="z")
    assert se.calls == 2 and not torch.equal(a.feats.deep, b.feats.deep)
    se.encode_slice(img, (64, 64), window=IntensityWindow(0.0, 1.0), key="z")
    se.encode_slice(img, (64, 64), key="z")  # the slice's own window: another entry
    assert se.calls == 3


def test_crops_kept_with_their_slice():
    se = SliceEncoder(CountingEncoder(), "cpu", keep_source=True)
    entry = se.encode_slice(_rng().random((100, 120)), (128, 128))
    assert entry.source is not None and entry.source.data.dtype == torch.float16
    crop = se.crop(entry, (10, 50, 20, 80), 64)
    assert crop.geometry.source == (40, 60) and crop.geometry.size == (43, 64)
    assert se.crop(entry, (10, 50, 20, 80), 64) is crop and se.calls == 2
    for i in range(MAX_CROPS):
        se.crop(entry, (i, 50, 20, 80), 64)
    assert len(entry.crops) == MAX_CROPS
    se.crop(entry, (10, 50, 20, 80), 64)  # evicted: encoded again
    assert se.calls == 2 + MAX_CROPS + 1
    with pytest.raises(ValueError, match="source"):
        se.crop(crop, (0, 4, 0, 4), 64)  # a crop keeps no source of its own


def test_grey_and_dtype_options():
    se = SliceEncoder(CountingEncoder(), "cpu", keep_grey=True, dtype=torch.float32)
    rgb = _rng().integers(0, 256, (30, 40, 3), dtype=np.uint8)
    enc = se.encode_slice(rgb, (32, 64))
    g = enc.geometry
    assert enc.grey.shape == (1, 1, *g.padded) and enc.feats.deep.dtype == torch.float32
    x = g.to_network(torch.from_numpy(prepare_slice(rgb))[None])
    torch.testing.assert_close(enc.grey, x.mean(dim=1, keepdim=True))


def test_channels_last_and_autocast_stay_within_bf16_tolerance():
    torch.manual_seed(0)
    net = ImageEncoder((8, 8, 16, 16, 16), 16, 8).eval()
    img = make_synthetic_cells((70, 90), n_cells=8, seed=1)[0]
    enc = SliceEncoder(net, "cpu").encode_slice(img, (64, 96))
    x = enc.geometry.to_network(torch.from_numpy(prepare_slice(img))[None])
    with torch.inference_mode():
        ref = net(x)  # fp32, contiguous
        cl = net(x.contiguous(memory_format=torch.channels_last))
    for got, want, lo in zip((enc.feats.deep, enc.feats.low), (ref.deep, ref.low),
                             (cl.deep, cl.low), strict=True):
        assert got.shape == want.shape
        scale = float(want.abs().max())
        assert float((got.float() - want).abs().max()) < 0.03 * scale  # bf16
        torch.testing.assert_close(lo, want, rtol=1e-4, atol=1e-5)  # layout alone: fp32 noise
    assert isinstance(autocast("cpu"), torch.autocast)
    assert isinstance(autocast("meta"), contextlib.nullcontext)


# ------------------------------------------------------------------------ few-shot / JFS
def test_fewshot_encode_takes_an_explicit_window():
    image, labels = make_synthetic_cells((8, 48, 64), n_cells=6, seed=2)
    torch.manual_seed(0)
    seg = FewShotSegmenter(FewShotHead(), build_click_net("nofeedback").encoder, device="cpu",
                           min_side=64, max_side=64)
    seg.set_support([image[2]], [labels[2] > 0])
    own, other = seg.window, IntensityWindow(0.0, 40000.0)
    calls = seg.encoder_calls
    a = seg.encode(image[3], key=3)
    b = seg.encode(image[3], key=3, window=other)
    assert seg.encoder_calls == calls + 2 and not torch.equal(a.feats.deep, b.feats.deep)
    assert seg.encode(image[3], key=3, window=other) is b and seg.window == own
    q = jfs_score(seg, image[3], labels[3] > 0, [image[2]], [labels[2] > 0], window=other)
    assert len(q.evidence) == 1 and seg.window == own  # JFS leaves the window alone


# ------------------------------------------------------------------------ pretrained encoder
@pytest.fixture(scope="module")
def lite_net():
    torch.manual_seed(0)
    return build_click_net("fcfi", backbone="lite0").eval()  # ImageNet trunk, random head


def test_pretrained_encoder_through_the_predictor(lite_net):
    p = ClickPredictor(lite_net, device="cpu", max_side=96)
    img = make_synthetic_cells((60, 80), n_cells=6, seed=4)[0]
    p.set_image(img, key="a")
    prob = p.predict([Click(30, 40)])
    assert prob.shape == (60, 80) and prob.dtype == np.float32
    assert np.isfinite(prob).all() and 0 <= prob.min() and prob.max() <= 1
    p.set_image(img, key="a")
    assert p.encoder_calls == 1


def test_pretrained_pyramid_cached_once_and_necks_applied_after(lite_net):
    enc = lite_net.encoder
    img = make_synthetic_cells((60, 80), n_cells=6, seed=4)[0]
    trunk = SliceEncoder(enc, "cpu", stage=enc.pyramid)
    pyr = trunk.encode_slice(img, (64, 96), key=0)
    assert [t.shape[1] for t in pyr.feats] == list(enc.trunk.channels)
    assert trunk.encode_slice(img, (64, 96), key=0) is pyr and trunk.calls == 1
    full = SliceEncoder(enc, "cpu").encode_slice(img, (64, 96))
    with torch.inference_mode(), autocast("cpu"):
        neck = enc.neck(pyr.feats)  # a model's own stage, on the shared pyramid
    assert torch.equal(neck.deep, full.feats.deep) and torch.equal(neck.low, full.feats.low)
