"""#20 (1): the click model sees a large slice through a focus window around the prompts that
sizes itself to the object (on by default above 1024 px), never one downsample of the whole
canvas; large slices are read region by region, never prepared whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.interactive.focus import (
    boundary_contrast,
    choose_window,
    first_windows,
    object_area,
)
from napari_ifss.core.interactive.predictor import FOCUS_ABOVE, FOCUS_MIN_SIZE, ClickPredictor
from napari_ifss.core.interactive.prompts import Box, Click
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.core.slice_sources import BAND_PIXELS, LazySource
from napari_ifss.core.spans import frozen_copy, span_above
from napari_ifss.eval.clicker import first_click
from napari_ifss.eval.large_volume_bench import image_slice, tube_mask

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cells():
    return make_synthetic_cells((512, 512), n_cells=60, seed=3)


@pytest.fixture(scope="module")
def predictor():
    return ClickPredictor.default(device="cpu")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _one_click_ious(pred: ClickPredictor, image: np.ndarray, labels: np.ndarray, reps: int,
                    ids: list[int]) -> list[float]:
    """1-click IoU of ``ids`` in the centre tile of ``image`` tiled ``reps`` x ``reps``."""
    big = np.tile(image, (reps, reps))
    off = (reps // 2) * 512
    pred.set_image(big)
    out = []
    for i in ids:
        gt = np.zeros(big.shape, bool)
        gt[off:off + 512, off:off + 512] = labels == i
        out.append(_iou(pred.predict([first_click(gt)]) > 0.5, gt))
    return out


def test_a_mosaic_is_segmented_as_well_as_its_tile(cells, predictor):
    image, labels = cells
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    ids = [int(i) for i in np.random.default_rng(0).choice(ids[counts > 200], 6, replace=False)]
    whole = ClickPredictor.default(device="cpu", focus_above=None)  # one downsample
    assert predictor.focus_above == FOCUS_ABOVE and whole.focus_above is None
    tile = np.mean(_one_click_ious(predictor, image, labels, 1, ids))
    mosaic = np.mean(_one_click_ious(predictor, image, labels, 4, ids))
    shrunk = np.mean(_one_click_ious(whole, image, labels, 4, ids))
    # benchmarks/mosaic_clicks.py has the tables over more cells and canvases
    assert abs(mosaic - tile) < 0.1, (mosaic, tile)
    assert mosaic > shrunk + 0.3, (mosaic, shrunk)


def test_the_first_window_sizes_itself_to_a_large_object(predictor):
    """The large-volume benchmark's tube (~540 px across on a 1448 px slice): a fixed first
    window inside it found a blob (IoU 0.01); the window chosen by contrast finds it whole."""
    side = 1448
    assert predictor.uses_focus((side, side))
    predictor.set_image(image_slice(4, 15, side))
    gt = tube_mask(4, 15, side)
    prob = predictor.predict([Click(side / 2, side / 2)])
    assert _iou(prob > 0.5, gt) > 0.8
    # the next click keeps that scale: no shrinking back to a window inside the object
    rr, cc = np.nonzero(gt & ~(prob > 0.5)) if (gt & ~(prob > 0.5)).any() else np.nonzero(gt)
    again = predictor.predict([Click(side / 2, side / 2), Click(rr[0], cc[0])], prob)
    assert _iou(again > 0.5, gt) > 0.8


def test_upscaled_cells_on_a_large_canvas(cells, predictor):
    """The same cells 4x larger (~110 px) on a 2048 px canvas: found as well as on the tile."""
    image, labels = cells
    up, lab = (np.kron(a, np.ones((4, 4), a.dtype)) for a in (image, labels))
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    ids = [int(i) for i in np.random.default_rng(1).choice(ids[counts > 200], 4, replace=False)]
    predictor.set_image(up)
    big = [_iou(predictor.predict([first_click(lab == i)]) > 0.5, lab == i) for i in ids]
    predictor.set_image(image)
    small = [_iou(predictor.predict([first_click(labels == i)]) > 0.5, labels == i) for i in ids]
    assert np.mean(big) > np.mean(small) - 0.1, (big, small)


def test_window_follows_the_prompts_and_its_encoding_is_reused(cells, predictor):
    image, labels = cells
    big = np.tile(image, (4, 4))  # 2048 x 2048
    assert predictor.uses_focus(big.shape) and not predictor.uses_focus(image.shape)
    predictor.set_image(big)
    gt = np.zeros(big.shape, bool)
    gt[1024:1536, 1024:1536] = labels == labels[256, 256] if labels[256, 256] else labels == 1
    c = first_click(gt)
    prob = predictor.predict([c])
    assert _iou(prob > 0.5, gt) > 0.3  # this cell: 0.48
    rows, cols = np.nonzero(prob > 0)
    assert rows.max() - rows.min() <= 2 * FOCUS_MIN_SIZE and cols.max() - cols.min() <= 2 * FOCUS_MIN_SIZE
    assert prob[:c.pixel[0] - 2 * FOCUS_MIN_SIZE].max() == 0  # nothing far from the click
    calls = predictor.encoder_calls
    predictor.predict([c, Click(c.row + 2, c.col + 3)], prob)  # same object: same window
    assert predictor.encoder_calls == calls
    far = predictor.predict([Click(100, 1900)])  # another place: other windows
    assert predictor.encoder_calls > calls and far[:, :1000].max() == 0


def test_first_window_choice_is_kept_with_the_slice(cells, predictor):
    """Back on a slice (cached by key), the first click's window is not searched again."""
    image, _ = cells
    big, other = np.tile(image, (4, 4)), np.tile(image[::-1], (4, 4))
    predictor.set_image(big, key="a")
    first = predictor.predict([Click(1300, 1300)])
    predictor.set_image(other, key="b")
    predictor.predict([Click(700, 700)])
    predictor.set_image(big, key="a")
    calls = predictor.encoder_calls
    np.testing.assert_array_equal(predictor.predict([Click(1300, 1300)]), first)
    assert predictor.encoder_calls == calls


def test_box_on_a_large_slice_and_small_slices_unchanged(cells, predictor):
    image, labels = cells
    big = np.tile(image, (3, 3))
    predictor.set_image(big)
    gt = np.zeros(big.shape, bool)
    i = int(labels[256, 256]) or int(np.unique(labels[labels > 0])[0])
    gt[512:1024, 512:1024] = labels == i
    rr, cc = np.nonzero(gt)
    prob = predictor.predict([], box=Box(rr.min(), cc.min(), rr.max() + 1, cc.max() + 1))
    assert _iou(prob > 0.5, gt) > 0.5
    # at or below focus_above nothing changes: the same as the predictor without focus windows
    plain = ClickPredictor.default(device="cpu", focus_above=None)
    for p in (predictor, plain):
        p.set_image(image)
    click = [Click(256.0, 256.0)]
    np.testing.assert_array_equal(predictor.predict(click), plain.predict(click))


class _CountingArray:
    """A read-only 2D array that records the largest block read from it (like a zarr array)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.largest = data, 0

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def __getitem__(self, index):
        out = self.data[index]
        self.largest = max(self.largest, out.size)
        return out


def test_a_large_slice_is_read_region_by_region(cells):
    image, labels = cells
    data = np.tile(image, (12, 12))  # 6144 x 6144: 37.7 M pixels, read in bands
    lazy = _CountingArray(data)
    session = InteractiveSession(ClickPredictor.default(device="cpu"))
    session.set_image(lazy)
    off = 6 * 512
    gt = np.zeros(data.shape, bool)
    gt[off:off + 512, off:off + 512] = labels == labels[256, 256] if labels[256, 256] else labels == 1
    c = first_click(gt)
    mask = session.add_click(c.row, c.col)
    assert _iou(mask, gt) > 0.3  # this cell: 0.48
    assert lazy.largest <= BAND_PIXELS < data.size  # never the whole slice at once
    # the answer is zero outside its window; its copy in the session writes only that span
    assert span_above(session.probabilities, 0.0)[1] - off < 2048


def test_lazy_source_checks_and_reductions():
    values = np.arange(36, dtype=np.float32).reshape(6, 6)
    src = LazySource(values, _window01())
    full = src.region((0, 6, 0, 6))
    assert full.shape == (3, 6, 6)
    half = src.region((0, 6, 0, 6), side=3)  # 2 x 2 block means
    np.testing.assert_allclose(half[0].numpy(), values.reshape(3, 2, 3, 2).mean(axis=(1, 3)) / 35)
    bad = values.copy()
    bad[5, 5] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        LazySource(bad, _window01()).region((0, 6, 0, 6), side=3)
    bad[5, 5] = np.inf  # clipped by any window: caught before it is applied
    with pytest.raises(InvalidInputError, match="infinite"):
        LazySource(bad, _window01()).region((4, 6, 4, 6))
    with pytest.raises(InvalidInputError, match="2D slice"):
        LazySource(np.zeros((2, 3, 4, 5)), _window01())


def _window01():
    from napari_ifss.core.normalize import IntensityWindow

    return IntensityWindow(0.0, 35.0)


def test_spans_and_frozen_copy():
    values = np.zeros((50, 40), np.float32)
    assert span_above(values, 0.0) is None
    values[10:12, 5:9] = 0.7
    values[30, 20] = -0.2
    assert span_above(values, 0.5) == (10, 12, 5, 9)
    copy = frozen_copy(values)
    np.testing.assert_array_equal(copy, values)
    assert not copy.flags.writeable and copy.dtype == np.float32


def test_contrast_prefers_the_whole_object():
    grey = np.zeros((64, 64), np.float32)
    grey[16:48, 16:48] = 1.0
    whole = np.zeros_like(grey, dtype=bool)
    whole[16:48, 16:48] = True
    blob = np.zeros_like(whole)
    blob[28:36, 28:36] = True
    assert boundary_contrast(grey, whole, (32, 32)) > 5 * boundary_contrast(grey, blob, (32, 32))
    assert boundary_contrast(grey, whole, (2, 2)) == 0.0  # the seed is not in the object
    assert object_area(whole, (30, 30)) == 32 * 32 and object_area(whole, (2, 2)) == 0
    assert choose_window([1.0, 3.0, 4.0], [100, 400, 420]) == 1  # stable: 400 ~ 420
    assert choose_window([3.0, 4.0, 4.0], [100, 900, 2000]) == 0  # none stable: contrast
    assert choose_window([0.5, 0.6, 4.0], [100, 110, 5000]) == 2  # stable but too faint
    windows = first_windows((1000, 1000), (4096, 4096))
    assert windows[-1] is None and len(windows) >= 4
    sides = [b[1] - b[0] for b in windows[:-1]]
    assert sides == sorted(sides) and sides[0] >= FOCUS_MIN_SIZE


def test_a_smaller_first_window_on_an_ordinary_slice(cells, predictor):
    """``focus_min``: windows from that side (and focus windows on a 512 px slice when
    ``focus_above`` is below it); a cell is then found in a window around the click."""
    image, labels = cells
    with pytest.raises(InvalidInputError, match="focus_min"):
        ClickPredictor(predictor.net, device="cpu", focus_min=8)
    small = ClickPredictor(predictor.net, device="cpu", focus_above=256, focus_min=128)
    assert small.focus_min == 128 and predictor.focus_min == FOCUS_MIN_SIZE
    cell = labels == np.bincount(labels.ravel())[1:].argmax() + 1
    small.set_image(image)
    prob = small.predict([first_click(cell)])
    chosen = next(iter(small._current.memo["first_windows"].values()))
    assert chosen is not None and chosen[1] - chosen[0] < 512  # a window, not the slice
    assert _iou(prob > 0.5, cell) > 0.5
