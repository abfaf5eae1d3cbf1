"""Per-volume few-shot learner (core.volume_learner) on small synthetic stacks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.volume_learner import (
    LearnerConfig,
    SliceFeatures,
    VolumeLearner,
    neighbour_prior,
    segment_labels,
    visit_order,
)
from napari_ifss.core.normalize import IntensityWindow
from napari_ifss.eval.metrics import dice

FAST = LearnerConfig(levels=(), samples=1500)  # filters only: no trunk, fast


def _disk_stack(depth: int = 14, side: int = 48, zs: range = range(3, 9), radius: float = 9,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright disk on slices ``zs`` only, on a noisy background; on the slices beyond it, a
    disk that looks the same elsewhere (another object the classifier cannot tell apart)."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:side, 0:side]
    gt = np.zeros((depth, side, side), bool)
    for z in zs:
        gt[z] = np.hypot(rr - side / 2, cc - side / 2) < radius
    image = 40 + 120 * gt + rng.normal(0, 8, gt.shape)
    beyond = [z for z in range(depth) if zs and (z < zs[0] - 1 or z > zs[-1] + 1)]
    for z in beyond:
        image[z][np.hypot(rr - 10, cc - 10) < 7] = 160  # the distractor
    return image.astype(np.float32), gt


def test_learner_separates_cells_from_background():
    image, labels = make_synthetic_cells((10, 64, 64), n_cells=12, seed=4)
    gt = labels > 0
    feats = SliceFeatures(image, IntensityWindow.from_data(image))
    pred = VolumeLearner(feats, FAST).segment({2: gt[2], 7: gt[7]}, 10)
    assert pred.shape == gt.shape and pred.dtype == bool
    assert np.array_equal(pred[[2, 7]], gt[[2, 7]])  # supports kept as given
    assert dice(pred[[3, 4, 5, 6]], gt[[3, 4, 5, 6]]) > 0.7


def test_learner_with_trunk_features():
    image, labels = make_synthetic_cells((8, 48, 48), n_cells=8, seed=2)
    gt = labels > 0
    cfg = replace(FAST, levels=("c2", "c4"), min_side=64, max_side=64)
    feats = SliceFeatures(image, IntensityWindow.from_data(image))
    pred = VolumeLearner(feats, cfg).segment({1: gt[1], 4: gt[4]}, 8)
    assert dice(pred[[2, 3]], gt[[2, 3]]) > 0.6


@pytest.mark.parametrize("prior", ["soft", "gate"])
def test_empty_mask_where_the_object_has_left(prior):
    image, gt = _disk_stack()
    feats = SliceFeatures(image, IntensityWindow.from_data(image))
    pred = VolumeLearner(feats, replace(FAST, prior=prior)).segment({5: gt[5]}, gt.shape[0])
    assert dice(pred[[3, 4, 6, 7, 8]], gt[[3, 4, 6, 7, 8]]) > 0.8
    for z in (0, 1, 11, 12, 13):
        assert not pred[z].any(), f"slice {z} beyond the object's end is painted"
    # without the neighbour prior every slice is classified on its own: the distractor shows
    alone = VolumeLearner(feats, replace(FAST, prior="none")).segment({5: gt[5]}, gt.shape[0])
    assert alone[0].any()


def test_several_labels_and_anisotropic_spacing():
    image, gt = _disk_stack(depth=10, side=64, zs=range(1, 9), radius=10)
    labels = np.zeros(gt.shape, np.int32)
    rr, cc = np.mgrid[0:64, 0:64]
    second = np.hypot(rr - 50, cc - 14) < 6
    image[:, second] = 100.0
    labels[4][gt[4]] = 1
    labels[4][second] = 2
    out = segment_labels(image, labels, cfg=FAST, spacing=(4.0, 0.5, 0.7))
    assert out.dtype == np.int32 and out.shape == labels.shape
    assert np.array_equal(out[4], labels[4])  # the annotated slice is not rewritten
    assert dice(out[[2, 3, 5, 6]] == 1, gt[[2, 3, 5, 6]]) > 0.8
    assert dice(out[[2, 3, 5, 6]] == 2, np.broadcast_to(second, (4, 64, 64))) > 0.8
    only = segment_labels(image, labels, label_ids=[2], cfg=FAST)
    assert not (only[[2, 3]] == 1).any()
    learner = VolumeLearner(SliceFeatures(image, IntensityWindow(0, 255)), FAST,
                            spacing=(6.5, 0.78, 0.78))
    assert learner.margin > FAST.margin  # thick slices: a wider neighbour band
    with pytest.raises(InvalidInputError):
        VolumeLearner(SliceFeatures(image, IntensityWindow(0, 255)), FAST, spacing=(0, 1, 1))


def test_tiny_target_is_neither_a_crash_nor_the_whole_slice():
    image, _ = _disk_stack(zs=range(0))
    gt = np.zeros(image.shape, bool)
    gt[4:9, 30, 30:33] = True  # 3 pixels per slice
    image[gt] += 120
    feats = SliceFeatures(image, IntensityWindow.from_data(image))
    for cfg in (FAST, replace(FAST, classifier="logreg"), replace(FAST, prior="none")):
        pred = VolumeLearner(feats, cfg).segment({6: gt[6]}, gt.shape[0])
        assert pred.sum(axis=(1, 2)).max() < 0.05 * gt[0].size


def test_prior_and_order_helpers():
    mask = np.zeros((20, 20), bool)
    mask[8:12, 8:12] = True
    soft = neighbour_prior(mask, margin=3, strength=4, gate=False)
    gate = neighbour_prior(mask, margin=3, strength=4, gate=True)
    assert soft[10, 10] == 1 and soft[0, 0] == -4 and np.isneginf(gate[0, 0])
    assert (neighbour_prior(np.zeros((5, 5), bool), 3, 4, True) == -np.inf).all()
    assert visit_order(6, [2]) == [(1, 2), (3, 2), (0, 1), (4, 3), (5, 4)]
    assert [z for z, _ in visit_order(7, [1, 5])] == [0, 2, 4, 6, 3]
    with pytest.raises(InvalidInputError):
        LearnerConfig(filters=False, levels=())
    with pytest.raises(InvalidInputError):
        LearnerConfig(prior="maybe")
    with pytest.raises(InvalidInputError):
        VolumeLearner(SliceFeatures(np.zeros((3, 8, 8)), IntensityWindow(0, 1)), FAST).fit({})
