"""Metrics on hand-made masks and hand-made IoU curves."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.metrics import (
    boundary_band,
    boundary_dilation,
    boundary_iou,
    dice,
    iou,
    iou_at,
    noc,
    nof,
    reached,
)


def _box(shape, r0, r1, c0, c1):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def test_iou_and_dice_exact():
    gt = _box((10, 10), 0, 2, 0, 4)  # 8 px
    pred = _box((10, 10), 0, 2, 0, 2)  # 4 px inside
    assert iou(pred, gt) == pytest.approx(0.5)
    assert dice(pred, gt) == pytest.approx(8 / 12)
    assert iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert iou(gt, ~gt) == 0.0
    with pytest.raises(InvalidInputError):
        iou(gt, gt[:5])


def test_boundary_band_and_dilation():
    assert boundary_dilation((100, 100)) == 3  # 0.02 * 141.4 = 2.83
    assert boundary_dilation((10, 10)) == 1  # at least one pixel
    sq = _box((100, 100), 40, 60, 40, 60)
    assert boundary_band(sq, 3).sum() == 20 * 20 - 14 * 14
    full = np.ones((10, 10), bool)  # the image border counts as a border
    assert boundary_band(full, 1).sum() == 100 - 64


def test_boundary_iou_exact():
    gt = _box((100, 100), 40, 60, 40, 60)
    pred = _box((100, 100), 40, 60, 40, 70)
    # bands: gt 204 px, pred 600 - 14*24 = 264 px; common: 2 rows strips of 3x20 (120) and
    # the left column strip 3x14 (42) = 162
    assert boundary_iou(pred, gt) == pytest.approx(162 / (204 + 264 - 162))
    assert boundary_iou(gt, gt) == 1.0
    assert iou(pred, gt) == pytest.approx(400 / 600)  # boundary IoU is stricter here


def test_noc_nof_and_iou_at():
    curve = [0.5, 0.86, 0.90, 0.95]
    assert noc(curve, 0.85) == 2
    assert noc(curve, 0.90) == 3  # reaching the threshold exactly counts
    assert noc([0.1, 0.2], 0.9, max_clicks=20) == 20  # never reached
    assert noc([0.1] * 20 + [0.99], 0.9, max_clicks=20) == 20  # click 21 does not count
    assert not reached([0.1] * 20 + [0.99], 0.9, 20)
    assert reached([0.1] * 19 + [0.95], 0.9, 20)
    curves = [curve, [0.2] * 20, [0.89] * 20, [0.1] * 19 + [0.91]]
    assert nof(curves, 0.90, 20) == 2
    assert iou_at(curve, 1) == 0.5 and iou_at(curve, 4) == 0.95
    assert iou_at(curve, 10) == 0.95  # after an early stop the IoU stays
    with pytest.raises(InvalidInputError):
        iou_at([], 1)
