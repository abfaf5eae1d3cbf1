"""Training components: losses, click simulation, synthetic data, sources (train split only)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from skimage.io import imsave

from napari_ifss.core.data.datasets import split_of
from napari_ifss.models.click_net import ClickOutput
from napari_ifss.train.augment import crop_around, flip_rotate, intensity_jitter
from napari_ifss.train.click_sim import first_click, next_click, points_tensor
from napari_ifss.train.losses import click_net_loss, normalized_focal_loss
from napari_ifss.train.sources import SampleSource, load_real_pool
from napari_ifss.train.synthetic import synthetic_sample


def test_normalized_focal_loss_orders_predictions_and_ignores_weight_zero():
    target = torch.zeros(2, 1, 16, 16)
    target[:, :, 4:12, 4:12] = 1
    good = target * 0.9 + 0.05
    bad = 1 - good
    lg, lb = normalized_focal_loss(good, target), normalized_focal_loss(bad, target)
    assert torch.isfinite(lg) and torch.isfinite(lb) and lb > lg > 0
    w = torch.zeros_like(target)
    assert float(normalized_focal_loss(bad, target, w)) == 0.0
    w[0, :, 4:8, 4:8] = 1  # only a region where `good` is right
    assert float(normalized_focal_loss(good, target, w)) < float(lb)


def test_click_net_loss_parts_for_fcfi_output():
    y = (torch.rand(2, 1, 32, 32) > 0.5).float()
    box = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    box[:, :, 2:5, 2:5] = True
    out = ClickOutput(torch.randn(2, 1, 32, 32, requires_grad=True), torch.rand(2, 1, 8, 8),
                      box, torch.randn(2, 1, 8, 8))
    total, parts = click_net_loss(out, y)
    assert set(parts) == {"out", "updated", "corrected"} and torch.isfinite(total)
    total.backward()
    plain, parts2 = click_net_loss(ClickOutput(out.logits), y)
    assert set(parts2) == {"out"} and float(plain) < float(total)


def test_first_click_is_deep_inside():
    mask = np.zeros((40, 60), bool)
    mask[10:30, 10:50] = True
    rng = np.random.default_rng(0)
    for _ in range(10):
        r, c, label = first_click(mask, rng)
        assert label == 1 and 12 <= r < 28 and 12 <= c < 48
    with pytest.raises(ValueError):
        first_click(np.zeros((5, 5), bool), rng)


def test_next_click_goes_to_largest_error():
    gt = np.zeros((50, 50), bool)
    gt[5:45, 5:25] = True
    pred = gt.copy()
    pred[5:45, 5:15] = False  # large false negative
    pred[30:34, 40:44] = True  # small false positive
    r, c, label = next_click(gt, pred)
    assert label == 1 and gt[r, c] and not pred[r, c]
    pred2 = gt.copy()
    pred2[10:40, 30:48] = True
    r, c, label = next_click(gt, pred2)
    assert label == 0 and not gt[r, c] and pred2[r, c]
    assert next_click(gt, gt) is None


def test_training_clicks_are_the_benchmark_robots():
    """#17: one robot user: training's next click is eval.clicker's (rule "ritm"), ties
    included, and a pixel clicked before is never clicked again."""
    from napari_ifss.core.interactive.prompts import Click
    from napari_ifss.eval import clicker
    from napari_ifss.train.click_sim import TRAINING_RULE

    gt = np.zeros((30, 30), bool)
    gt[5:15, 5:15] = True
    pred = np.zeros_like(gt)
    pred[20:30, 20:30] = True  # an FP region as deep as the FN one: a tie
    first = next_click(gt, pred)
    robot = clicker.next_click(gt, pred, [], rule=TRAINING_RULE)
    assert first == (int(robot.row), int(robot.col), int(robot.positive))
    second = next_click(gt, pred, [first])
    assert second is not None and second[:2] != first[:2]
    assert second == next_click(gt, pred, [first]) and clicker.next_click(
        gt, pred, [Click(float(first[0]), float(first[1]), bool(first[2]))],
        rule=TRAINING_RULE) == Click(float(second[0]), float(second[1]), bool(second[2]))


def test_points_tensor_pads_with_minus_one():
    pts = points_tensor([[(1, 2, 1)], [(3, 4, 1), (5, 6, 0)]])
    assert pts.shape == (2, 2, 3) and pts[0, 1, 2] == -1 and pts[1, 1].tolist() == [5, 6, 0]


def test_synthetic_samples_and_augment():
    rng = np.random.default_rng(0)
    for _ in range(5):
        image, mask = synthetic_sample(64, rng)
        assert image.shape == (3, 64, 64) and image.dtype == np.float32 and mask.any()
        assert 0 <= image.min() and image.max() <= 1
    full = rng.random((3, 100, 80)).astype(np.float32)
    obj = np.zeros((100, 80), bool)
    obj[40:50, 30:45] = True
    crop, cmask = crop_around(full, obj, (40, 50, 30, 45), 48, rng)
    assert crop.shape == (3, 48, 48) and cmask.shape == (48, 48) and cmask.any()
    fi, fm = flip_rotate(crop, cmask, rng)
    assert fi.shape == crop.shape and fm.sum() == cmask.sum()
    j = intensity_jitter(crop, rng)
    assert j.shape == crop.shape and 0 <= j.min() and j.max() <= 1


def _fake_data(root, n=12):
    """A tiny data folder laid out like ../shared/data with one 2D data set."""
    (root / "2d/toy/images").mkdir(parents=True)
    (root / "2d/toy/masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        labels = np.zeros((40, 40), np.uint16)
        labels[5:15, 5:15], labels[20:35, 22:30] = 1, 2
        image = (labels * 60 + rng.integers(0, 40, labels.shape)).astype(np.uint8)
        imsave(root / f"2d/toy/images/im{i}.png", image, check_contrast=False)
        tifffile.imwrite(root / f"2d/toy/masks/im{i}.tif", labels)
    return [f"im{i}" for i in range(n) if split_of("toy", f"im{i}") == "train"]


def test_real_pool_uses_train_split_only_and_sampling(tmp_path):
    train_ids = _fake_data(tmp_path, 12)
    assert 0 < len(train_ids) < 12  # some items are val
    pools = load_real_pool(tmp_path)
    assert len(pools["toy"]) == len(train_ids)
    assert all(set(e.boxes) == {1, 2} for e in pools["toy"])
    src = SampleSource(pools, {"toy": 1.0, "synthetic": 1.0}, 32, np.random.default_rng(0))
    images, masks = src.batch(4)
    assert images.shape == (4, 3, 32, 32) and masks.shape == (4, 32, 32)
    assert all(m.sum() >= 8 for m in masks)
    with pytest.raises(ValueError):
        SampleSource({}, {"toy": 1.0}, 32, np.random.default_rng(0))
