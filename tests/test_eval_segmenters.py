"""Classical baselines (random walker, watershed) and the one-object protocol."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError, NotReadyError
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.protocols import ClickSegmenter
from napari_ifss.eval.interactive_protocol import run_object
from napari_ifss.eval.metrics import iou
from napari_ifss.eval.objects import EvalObject
from napari_ifss.eval.random_walker import (
    BACKGROUND,
    FOREGROUND,
    RandomWalkerSegmenter,
    click_seeds,
)
from napari_ifss.eval.watershed import WatershedSegmenter


def _disk_scene(shape=(96, 96), centre=(50, 40), radius=20, seed=0):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    gt = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 < radius**2
    rng = np.random.default_rng(seed)
    image = 60 + 120 * gt + rng.normal(0, 12, shape)
    return np.clip(image, 0, 255).astype(np.uint8), gt


def _object(image, gt) -> EvalObject:
    return EvalObject("synthetic", "synthetic", "0", "disk", image, (0, 0, *gt.shape), gt)


@pytest.mark.parametrize("cls", [RandomWalkerSegmenter, WatershedSegmenter])
def test_easy_disk_one_click(cls):
    image, gt = _disk_scene()
    seg = cls()
    assert isinstance(seg, ClickSegmenter)
    seg.set_image(image)
    prob = seg.predict([Click(50, 40, True)])
    assert prob.shape == gt.shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert iou(prob > 0.5, gt) > 0.9


def test_large_rgb_image_is_downscaled_and_upsampled():
    image, gt = _disk_scene((400, 520), (200, 300), 80)
    rgb = np.stack([image, image // 2, image], axis=-1)
    seg = RandomWalkerSegmenter(max_side=128)
    seg.set_image(rgb)
    prob = seg.predict([Click(200, 300, True)])
    assert prob.shape == gt.shape
    assert iou(prob > 0.5, gt) > 0.9


def test_negative_click_cuts_a_touching_blob():
    image, gt = _disk_scene()
    extra = np.zeros_like(gt)
    extra[30:70, 60:90] = True  # a second bright object touching the disk
    image = np.where(extra, 180, image).astype(np.uint8)
    seg = RandomWalkerSegmenter()
    seg.set_image(image)
    both = seg.predict([Click(50, 40, True)]) > 0.5
    cut = seg.predict([Click(50, 40, True), Click(50, 80, False)]) > 0.5
    assert both[50, 80] and not cut[50, 80] and cut[50, 40]


def test_seeds_border_rule():
    clicks = [Click(10, 1, True)]
    seeds = click_seeds((40, 40), clicks, radius=2)
    assert seeds[10, 1] == FOREGROUND
    assert seeds[39, 20] == BACKGROUND and seeds[0, 20] == BACKGROUND
    assert seeds[10, 0] != BACKGROUND  # border kept free near a positive click
    neg = [*clicks, Click(30, 30, False)]
    assert click_seeds((40, 40), neg, radius=2)[39, 20] == BACKGROUND
    only_clicks = click_seeds((40, 40), neg, radius=2, border_until_negative=True)
    assert only_clicks[39, 20] == 0 and only_clicks[30, 30] == BACKGROUND
    half = click_seeds((20, 20), [Click(20, 20, True)], scale=0.5, radius=1)
    assert half[10, 10] == FOREGROUND


def test_bad_use():
    seg = RandomWalkerSegmenter()
    with pytest.raises(NotReadyError):
        seg.predict([Click(1, 1)])
    with pytest.raises(InvalidInputError):
        seg.set_image(np.zeros((4, 5, 6, 7)))
    seg.set_image(np.zeros((20, 20), np.uint8))
    with pytest.raises(InvalidInputError):
        seg.predict([Click(25, 3)])
    assert not seg.predict([Click(3, 3, False)]).any()  # no positive click: nothing


class _Oracle:
    """Returns the ground truth minus ``missing`` pixels (a fixed IoU), counting calls."""

    def __init__(self, gt, missing=0):
        self.pred = gt.astype(np.float32)
        self.pred[tuple(np.argwhere(gt)[:missing].T)] = 0
        self.calls = 0
        self.prev_seen = []

    def set_image(self, image, key=None):
        self.calls = 0

    def predict(self, clicks, prev_mask=None):
        self.calls += 1
        self.prev_seen.append(prev_mask is not None)
        return self.pred


def test_protocol_stops_when_perfect_and_when_good_enough():
    image, gt = _disk_scene()
    perfect = run_object(_Oracle(gt), _object(image, gt), "oracle")
    assert perfect.ious == (1.0,) and perfect.noc(0.9) == 1 and perfect.iou_at(5) == 1.0
    good = _Oracle(gt, missing=int(0.05 * gt.sum()))  # IoU 0.95 from the first click
    res = run_object(good, _object(image, gt), "good")
    assert len(res.ious) == 5 and good.calls == 5  # early stop after the 5th click
    assert good.prev_seen == [False, True, True, True, True]  # feedback after the first
    assert res.noc(0.85) == 1 and res.reached(0.9)
    full = run_object(_Oracle(gt, missing=int(0.05 * gt.sum())), _object(image, gt), "x",
                      max_clicks=7, stop_iou=None)
    assert len(full.ious) == 7 and len(full.predict_s) == 7


def test_protocol_never_reaching():
    image, gt = _disk_scene()
    bad = _Oracle(gt, missing=int(0.5 * gt.sum()))
    res = run_object(bad, _object(image, gt), "bad", max_clicks=6)
    assert len(res.ious) == 6 and res.noc(0.85) == 6 and not res.reached(0.9)
    assert len(res.clicks) == 6 and all(c[2] for c in res.clicks)  # only FN errors: positive
    d = res.to_dict()
    assert d["noc@90"] == 6 and d["reached@90"] is False and len(d["predict_ms"]) == 6
    with pytest.raises(InvalidInputError):
        run_object(bad, _object(image, gt), max_clicks=0)
