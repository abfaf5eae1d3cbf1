"""FewShotSegmenter: support handling, prediction shapes, bad input, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError, NotReadyError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter, network_size
from napari_ifss.models.fewshot_head import FewShotHead, distance_weights
from napari_ifss.models.fewshot_prototypes import kmeans, masked_average_pool
from napari_ifss.models.fewshot_weights import (
    EncoderMismatchError,
    load_fewshot_head,
    save_fewshot_head,
)
from napari_ifss.models.registry import build_click_net, save_click_net


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return build_click_net("nofeedback").encoder


@pytest.fixture(scope="module")
def volume():
    return make_synthetic_cells((8, 64, 80), n_cells=10, seed=3)


def _segmenter(encoder, head=None):
    torch.manual_seed(1)
    return FewShotSegmenter(head or FewShotHead(), encoder, device="cpu", min_side=64,
                            max_side=64)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_set_support_and_predict_shapes(encoder, volume, k):
    image, labels = volume
    seg = _segmenter(encoder)
    seg.set_support([image[z] for z in range(k)], [labels[z] > 0 for z in range(k)],
                    positions=list(range(k)))
    assert seg.support_count == k
    prob = seg.predict(image[4], position=4)
    assert prob.shape == (64, 80) and prob.dtype == np.float32
    assert np.all((prob >= 0) & (prob <= 1))
    # A query of another size and an RGB query come back at their own resolution.
    assert seg.predict(np.zeros((40, 50), np.uint16) + 300).shape == (40, 50)
    rgb = np.repeat(image[5][..., None], 3, axis=2)
    assert seg.predict(rgb, neighbour=labels[4] > 0).shape == (64, 80)


def test_single_array_support_counts_as_one(encoder, volume):
    image, labels = volume
    seg = _segmenter(encoder)
    seg.set_support(image[2], labels[2] > 0)
    assert seg.support_count == 1


def test_prediction_depends_on_support_and_neighbour(encoder, volume):
    image, labels = volume
    seg = _segmenter(encoder)
    seg.set_support([image[1]], [labels[1] > 0])
    a = seg.predict(image[3])
    b = seg.predict(image[3], neighbour=np.ones((64, 80)))
    seg.set_support([image[1]], [labels[1] == 0])  # the complement as the object
    c = seg.predict(image[3])
    assert not np.allclose(a, b) and not np.allclose(a, c)


def test_cache_reuses_encoded_slices(encoder, volume):
    image, labels = volume
    seg = _segmenter(encoder)
    seg.set_support([image[0]], [labels[0] > 0])
    before = seg.encoder_calls
    p1 = seg.predict(image[3], key=3)
    p2 = seg.predict(image[3], key=3)
    assert seg.encoder_calls == before + 1
    np.testing.assert_allclose(p1, p2)


def test_bad_input_errors(encoder, volume):
    image, labels = volume
    seg = _segmenter(encoder)
    with pytest.raises(NotReadyError):
        seg.predict(image[0])
    with pytest.raises(InvalidInputError, match="empty support"):
        seg.set_support([], [])
    with pytest.raises(InvalidInputError, match="whole"):
        seg.set_support([image[0]], [np.ones((64, 80), bool)])
    with pytest.raises(InvalidInputError, match="empty"):
        seg.set_support([image[0]], [np.zeros((64, 80), bool)])
    with pytest.raises(InvalidInputError, match="shape"):
        seg.set_support([image[0]], [labels[0][:, :40]])
    with pytest.raises(InvalidInputError, match="2 support images but 1 masks"):
        seg.set_support([image[0], image[1]], [labels[0]])
    bad = image[0].astype(np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        seg.set_support([bad], [labels[0] > 0])
    seg.set_support([image[0]], [labels[0] > 0])
    with pytest.raises(InvalidInputError, match="NaN"):
        seg.predict(bad)
    with pytest.raises(InvalidInputError, match="neighbour"):
        seg.predict(image[1], neighbour=np.zeros((10, 10)))
    with pytest.raises(InvalidInputError, match="2D slice"):
        seg.predict(image[:2])


def test_checkpoint_roundtrip_and_encoder_mismatch(tmp_path, encoder, volume):
    image, labels = volume
    torch.manual_seed(5)
    net = build_click_net("nofeedback")
    click_a = save_click_net(net, tmp_path / "click_a.safetensors")
    torch.manual_seed(6)
    click_b = save_click_net(build_click_net("nofeedback"), tmp_path / "click_b.safetensors")
    head = FewShotHead()
    path = save_fewshot_head(head, tmp_path / "fs.safetensors", click_a, meta={"steps": 3})
    loaded = load_fewshot_head(path, encoder_weights=click_a)
    assert loaded.meta == {"steps": 3}
    for k, v in head.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.half().float())
    with pytest.raises(EncoderMismatchError, match="retrain"):
        load_fewshot_head(path, encoder_weights=click_b)
    seg = FewShotSegmenter.from_checkpoint(path, click_a, device="cpu", min_side=64,
                                           max_side=64)
    seg.set_support([image[0]], [labels[0] > 0])
    assert seg.predict(image[1]).shape == (64, 80)
    with pytest.raises(InvalidInputError, match="not a napari-ifss few-shot"):
        load_fewshot_head(click_a)


def test_prototype_helpers():
    feats = torch.arange(2 * 2 * 2, dtype=torch.float32).reshape(2, 2, 2)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(masked_average_pool(feats, w), torch.tensor([1.5, 5.5]))
    pts = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]]), dim=1)
    centres = kmeans(pts, 2)
    assert centres.shape == (2, 2)
    assert sorted(centres.argmax(dim=1).tolist()) == [0, 1]  # one centre per cluster
    assert kmeans(pts[:0], 3).shape == (0, 2)
    w = distance_weights([0, 10], 2, 2)
    assert w[0] > w[1] and float(w.sum()) == pytest.approx(1.0)
    assert network_size((100, 50), 64, 512) == (100, 50)
    assert network_size((20, 10), 64, 512) == (64, 32)


def test_ridge_classifier_separates_support_classes():
    from napari_ifss.models.fewshot_ridge import (
        normal_equations,
        pixel_features,
        ridge_map,
        solve,
    )

    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(16, 16)
    mask[4:12, 4:12] = 1
    low = torch.rand(16, 8, 8, generator=gen).repeat_interleave(2, 1).repeat_interleave(2, 2)
    low[0] += 3 * mask  # channel 0 marks the object
    deep = torch.rand(48, 8, 8, generator=gen)
    feats = pixel_features(deep, low)
    assert feats.shape == (48 + 16 + 1, 16, 16)
    w = solve([normal_equations(feats, mask)], torch.ones(1))
    score = ridge_map(feats, w)[0]
    assert score[mask > 0].min() > score[mask == 0].max()


def test_shipped_weights_load_and_segment_synthetic_cells():
    from napari_ifss.eval.metrics import dice
    from napari_ifss.models.fewshot_weights import default_fewshot_weights
    from napari_ifss.models.registry import default_click_weights

    # the shipped weights are part of the package: missing ones are a failure, not a skip
    assert default_fewshot_weights().is_file() and default_click_weights().is_file()
    seg = FewShotSegmenter.default()
    image, labels = make_synthetic_cells((12, 96, 96), n_cells=15, seed=11)
    seg.set_support([image[3], image[8]], [labels[3] > 0, labels[8] > 0], positions=[3, 8])
    scores = [dice(seg.predict(image[z], position=z) > 0.5, labels[z] > 0) for z in (5, 6)]
    assert min(scores) > 0.6, scores
