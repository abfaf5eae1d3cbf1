"""The robot user: first click, FN/FP choice, largest region, padding, clicked pixels."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.clicker import Clicker, error_regions, first_click, next_click


def _rect(shape, r0, r1, c0, c1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def test_first_click_is_interior_point():
    gt = _rect((50, 60), 10, 21, 20, 51)  # 11 x 31 box, centre row 15
    click = first_click(gt)
    assert click.positive and click.row == 15 and 25 <= click.col <= 45


def test_false_negative_gives_positive_click_in_its_interior():
    gt = _rect((40, 40), 10, 31, 5, 36)
    pred = _rect((40, 40), 10, 31, 5, 15)  # left part found, right part (cols 15-35) missing
    click = next_click(gt, pred)
    assert click.positive
    assert click.row == 20 and 24 <= click.col <= 26


def test_false_positive_gives_negative_click():
    gt = _rect((40, 40), 5, 15, 5, 15)
    pred = gt | _rect((40, 40), 20, 35, 20, 35)
    click = next_click(gt, pred)
    assert not click.positive
    assert click.pixel == (27, 27)


@pytest.mark.parametrize("fn_bigger", [True, False])
def test_largest_region_wins(fn_bigger):
    gt = np.zeros((60, 60), bool)
    gt[:, :30] = True
    pred = gt.copy()
    big, small = _rect((60, 60), 5, 25, 5, 25), _rect((60, 60), 40, 48, 40, 48)
    if fn_bigger:
        pred &= ~big  # missing 20x20 object part
        pred |= small  # 8x8 spurious background
    else:
        pred &= ~_rect((60, 60), 5, 13, 5, 13)
        pred |= _rect((60, 60), 35, 55, 35, 55)
    click = next_click(gt, pred)
    assert click.positive is fn_bigger
    regions = error_regions(gt, pred)
    assert [r.area for r in regions] == sorted((r.area for r in regions), reverse=True)


def test_area_rule_and_ritm_rule_differ_on_thin_regions():
    gt = np.zeros((80, 80), bool)
    gt[10:30, 10:30] = True
    pred = gt.copy()
    pred[15:25, 15:25] = False  # FN: compact 10x10 = 100 px, depth 5
    pred[50:53, 0:60] = True  # FP: thin 3x60 = 180 px, depth 2
    assert not next_click(gt, pred, rule="largest_region").positive
    assert next_click(gt, pred, rule="ritm").positive


def test_padding_keeps_click_off_the_image_border():
    gt = np.zeros((40, 40), bool)
    gt[:, :10] = True  # object touching the left, top and bottom borders
    click = first_click(gt)
    assert 4 <= click.col <= 5 and 15 <= click.row <= 24


def test_perfect_prediction_and_clicked_pixels():
    gt = _rect((30, 30), 5, 20, 5, 20)
    assert next_click(gt, gt) is None
    pred = np.zeros_like(gt)
    first = next_click(gt, pred)
    second = next_click(gt, pred, [first])
    assert second is not None and second.pixel != first.pixel and second.positive


def test_clicker_sequence_and_bad_input():
    gt = _rect((30, 30), 5, 20, 5, 20)
    robot = Clicker(gt)
    c1 = robot.click(None)
    assert c1 == first_click(gt)
    c2 = robot.click(gt | _rect((30, 30), 22, 30, 22, 30))
    assert not c2.positive and robot.clicks == [c1, c2]
    assert robot.click(gt) is None and len(robot.clicks) == 2
    with pytest.raises(InvalidInputError):
        Clicker(np.zeros((10, 10)))
    with pytest.raises(InvalidInputError):
        next_click(gt, np.zeros((5, 5)))
    with pytest.raises(InvalidInputError):
        next_click(gt, gt, rule="nearest")
