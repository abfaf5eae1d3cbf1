"""Box prompts: the box map, the robot's loose box, and nets that do or do not take boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.eval.clicker import jittered_box
from napari_ifss.models.click_encoding import box_maps
from napari_ifss.models.registry import build_click_net

SMALL = {"channels": 8, "low_channels": 8, "encoder_widths": [8, 8, 8, 16, 16],
         "head_widths": [8, 16]}


def test_box_map_fills_the_box_on_the_feature_grid():
    maps = box_maps(torch.tensor([[8.0, 4.0, 16.0, 12.0], [-1, -1, -1, -1]]), 2, (32, 32), 4)
    assert maps.shape == (2, 1, 8, 8)
    assert maps[0, 0, 2:4, 1:3].eq(1).all() and maps[0].sum() == 4
    assert maps[1].sum() == 0
    assert box_maps(None, 3, (32, 32), 4).shape == (3, 1, 8, 8)


def test_jittered_box_stays_near_the_object_and_inside_the_image():
    mask = np.zeros((50, 60), bool)
    mask[10:30, 20:50] = True
    rng = np.random.default_rng(0)
    for _ in range(50):
        r0, c0, r1, c1 = jittered_box(mask, rng)
        assert 0 <= r0 < r1 <= 50 and 0 <= c0 < c1 <= 60
        assert abs(r0 - 10) <= 2 and abs(r1 - 30) <= 2 and abs(c0 - 20) <= 3 and abs(c1 - 50) <= 3
    with pytest.raises(ValueError, match="empty"):
        jittered_box(np.zeros((5, 5), bool), rng)


@pytest.mark.parametrize("variant", ["fcfi", "concat", "nofeedback"])
def test_box_net_takes_a_box_alone_or_with_clicks(variant):
    net = build_click_net(variant, box_prompt=True, **SMALL).eval()
    x = torch.rand(2, 3, 64, 64)
    pts = torch.tensor([[[-1.0, -1.0, -1.0]], [[20.0, 30.0, 1.0]]])
    boxes = torch.tensor([[10.0, 10.0, 40.0, 50.0], [12.0, 14.0, 44.0, 40.0]])
    with torch.no_grad():
        with_box = net(x, pts, None, boxes).logits
        without = net(x, pts, None, None).logits
    assert with_box.shape == (2, 1, 64, 64)
    assert not torch.equal(with_box, without)  # the box reaches the head


def test_net_without_box_training_refuses_a_box():
    net = build_click_net("fcfi", **SMALL)
    with pytest.raises(ValueError, match="not trained for box"):
        net(torch.rand(1, 3, 64, 64), torch.tensor([[[10.0, 10.0, 1.0]]]), None,
            torch.tensor([[0.0, 0.0, 30.0, 30.0]]))


def test_box_from_a_drag_and_clipping():
    from napari_ifss.core.interactive.prompts import Box

    assert Box.from_corners((10, 20), (2, 3)) == Box(1.5, 2.5, 10.5, 20.5)
    assert Box(-5, -5, 8, 100).clipped((10, 50)) == Box(0.0, 0.0, 8.0, 50.0)
    assert Box(20, 20, 30, 30).clipped((10, 10)) is None


def test_predictor_takes_a_box_then_clicks_on_box_nets_only():
    from napari_ifss.core.errors import InvalidInputError
    from napari_ifss.core.interactive.predictor import ClickPredictor
    from napari_ifss.core.interactive.prompts import Box, Click

    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    pred = ClickPredictor(build_click_net("fcfi", box_prompt=True, **SMALL), device="cpu",
                          max_side=64)
    assert pred.takes_boxes
    pred.set_image(image)
    box = Box(5, 5, 30, 40)
    alone = pred.predict([], box=box)
    assert alone.shape == (40, 50) and alone.dtype == np.float32
    assert not np.array_equal(alone, pred.predict([], box=Box(0, 0, 10, 10)))
    corrected = pred.predict([Click(20, 20, False)], prev_mask=alone, box=box)
    assert corrected.shape == (40, 50)
    with pytest.raises(InvalidInputError, match="does not cover"):
        pred.predict([], box=Box(100, 100, 120, 120))
    plain = ClickPredictor(build_click_net("fcfi", **SMALL), device="cpu", max_side=64)
    plain.set_image(image)
    assert not plain.takes_boxes
    with pytest.raises(InvalidInputError, match="not trained for box"):
        plain.predict([Click(10, 10)], box=box)
    assert np.all(plain.predict([]) == 0)


def test_session_starts_from_a_box_then_corrects_with_clicks():
    from napari_ifss.core.errors import InvalidInputError
    from napari_ifss.core.interactive.predictor import ClickPredictor
    from napari_ifss.core.interactive.prompts import Box
    from napari_ifss.core.interactive.session import InteractiveSession

    image = np.random.default_rng(1).random((40, 50)).astype(np.float32)
    session = InteractiveSession(ClickPredictor(build_click_net("concat", box_prompt=True,
                                                                **SMALL), device="cpu",
                                                max_side=64))
    session.set_image(image, key=3)
    mask = session.set_box(Box(5, 5, 30, 40))
    assert mask.shape == (40, 50) and session.snapshot().box == Box(5, 5, 30, 40)
    assert session.keys() == (3,) and session.clicks == ()
    session.add_click(20, 20, positive=False)
    assert len(session.clicks) == 1 and session.snapshot().box is not None
    session.undo()
    assert session.snapshot().box is not None  # the click went, the box stays
    session.undo()
    assert session.snapshot().box is None and not session.mask.any() and session.keys() == ()
    with pytest.raises(InvalidInputError, match="does not cover"):
        session.set_box(Box(60, 60, 70, 70))
    plain = InteractiveSession(ClickPredictor(build_click_net("concat", **SMALL), device="cpu",
                                              max_side=64))
    plain.set_image(image)
    with pytest.raises(InvalidInputError, match="not trained for box"):
        plain.set_box(Box(5, 5, 30, 40))
