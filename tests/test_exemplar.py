"""Exemplar mode ("segment all like this") with the shipped models, and seeding a session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError, NotReadyError
from napari_ifss.core.exemplar.exemplar import (
    ExemplarSettings,
    segment_all_like,
    split_instances,
    working_scale,
)
from napari_ifss.core.exemplar.exemplar_volume import exemplar_slice, segment_all_like_volume
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.eval.exemplar_protocol import choose_exemplar, match_instances
from napari_ifss.eval.random_walker import RandomWalkerSegmenter

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def segmenter() -> FewShotSegmenter:
    return FewShotSegmenter.default(max_side=1024)


def _cells(seed: int, shape=(128, 128), n=16):
    image, truth = make_synthetic_cells(shape, n_cells=n, seed=seed)
    return image, truth.astype(np.int32)


def test_finds_most_other_cells_with_new_ids_and_keeps_user_labels(segmenter):
    matched = others = 0
    for seed in (0, 1, 2):
        image, truth = _cells(seed)
        ex = choose_exemplar(truth)
        user = int(truth.max()) + 5  # another object the user drew, with a high id
        drawn_cell = next(i for i in np.unique(truth)[1:] if i != ex)
        labels = np.zeros_like(truth)
        labels[truth == ex] = ex
        labels[truth == drawn_cell] = user
        result = segment_all_like(image, labels, ex, segmenter=segmenter)

        assert result.labels.shape == truth.shape and result.labels.dtype == labels.dtype
        assert result.ids == tuple(range(user + 1, user + 1 + result.count))
        assert set(np.unique(result.labels)) - {0} == set(result.ids)
        assert not result.labels[labels != 0].any()  # nothing drawn is overwritten
        assert not result.labels.flags.writeable
        assert result.probability.shape == truth.shape
        assert all(mask.any() for _, mask in result.masks())
        hidden = np.where(labels != 0, 0, truth)  # the cells still to find
        matched += len(match_instances(hidden, result.labels))
        others += len(np.unique(hidden)) - 1
    # measured 0.48 (20 of 42) with the shipped EfficientNet-Lite0 models and the default one
    # ridge fit (0.64 with two fits, 0.73 with the earlier from-scratch models; see
    # core/exemplar/exemplar.py); an exemplar-only or empty result gives 0
    assert matched / others >= 0.4


def test_errors(segmenter):
    image, truth = _cells(0, (48, 48), 4)
    labels = np.where(truth == 1, 1, 0).astype(np.int32)
    with pytest.raises(InvalidInputError, match="not on this slice"):
        segment_all_like(image, labels, 9, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="empty"):
        segment_all_like(np.zeros((0, 0)), np.zeros((0, 0), np.int32), 1, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="shape"):
        segment_all_like(image, labels[:40], 1, segmenter=segmenter)
    nan = image.astype(np.float32)
    nan[3, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        segment_all_like(nan, labels, 1, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="integer"):
        segment_all_like(image, labels.astype(np.float32), 1, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="whole slice"):
        segment_all_like(image, np.ones_like(labels), 1, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="label id"):
        segment_all_like(image, labels, 0, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="threshold"):
        ExemplarSettings(threshold=1.5)
    with pytest.raises(InvalidInputError, match="on no slice"):
        list(segment_all_like_volume(np.stack([image] * 3), np.zeros((3, 48, 48), np.int32), 2,
                                     segmenter=segmenter))
    with pytest.raises(InvalidInputError, match="shape"):
        list(segment_all_like_volume(np.stack([image] * 3), np.zeros((2, 48, 48), np.int32), 2,
                                     segmenter=segmenter))


def test_volume_ids_are_unique_and_continue_over_slices(segmenter):
    matched = others = 0
    for seed in (3, 4, 5, 6):
        image, truth = make_synthetic_cells((8, 96, 96), n_cells=10, seed=seed)
        labels = np.zeros(truth.shape, np.int32)
        labels[4][truth[4] == choose_exemplar(truth[4])] = 3
        labels[0, :10, :10] = 50  # a user object on another slice
        assert exemplar_slice(labels, 3) == 4
        # two ridge fits: what suits these synthetic cells (core/exemplar/exemplar.py, step 2)
        events = list(segment_all_like_volume(image, labels, 3, segmenter=segmenter,
                                              settings=ExemplarSettings(ridge_rounds=2)))
        assert [e.z for e in events] == [4, 5, 6, 7, 3, 2, 1, 0]
        assert [e.done for e in events] == list(range(1, 9)) and events[0].total == 8
        new = [i for e in events for i in e.new_ids]
        assert len(new) == len(set(new)) and min(new) == 51  # unique, from next_free_id
        for e in events:
            assert not e.labels[labels[e.z] != 0].any()  # never over the user's voxels
            assert set(np.unique(e.labels)) - {0} <= set(new) | {3}
            hidden = np.where(labels[e.z] != 0, 0, truth[e.z])
            matched += len(match_instances(hidden, e.labels))
            others += len(np.unique(hidden)) - 1
        # objects continue over neighbouring slices: fewer ids than objects per slice
        assert len(new) < sum(e.count for e in events)
    # measured 0.38 (87 of 231 cell sections) with the shipped EfficientNet-Lite0 models and
    # two ridge fits:
    # on seeds 3 and 5 the few-shot head finds no cell but the exemplar (its probability on
    # the other cells ~0.1; docs/models/fewshot.md, limitations). 0.66 with the earlier
    # from-scratch models. Small sections fall under the area filter.
    assert matched / others >= 0.33


def test_split_instances_and_scale():
    rr, cc = np.mgrid[:40, :60]
    two = ((rr - 20) ** 2 + (cc - 18) ** 2 <= 100) | ((rr - 20) ** 2 + (cc - 36) ** 2 <= 100)
    inst = split_instances(two, min_distance=7, min_depth=2)
    assert inst.max() == 2 and np.array_equal(inst > 0, two)
    assert inst[20, 18] != inst[20, 36]
    assert split_instances(np.zeros((5, 5), bool), 3, 1).max() == 0
    # a 10 px-radius exemplar in a 256 image becomes 32 px wide; the long side stays <= 1024
    assert working_scale((256, 256), 10.0, 32.0, 256, 1024) == pytest.approx(1.6)
    assert working_scale((1000, 800), 2.0, 32.0, 256, 1024) == pytest.approx(1.024)
    assert working_scale((2048, 2048), 40.0, 32.0, 256, 1024) == pytest.approx(0.5)


def test_session_starts_from_a_mask_and_undoes_back_to_it():
    image, truth = _cells(1, (64, 64), 5)
    seg = RandomWalkerSegmenter(max_side=64)
    session = InteractiveSession(seg)
    with pytest.raises(NotReadyError):
        session.start_from_mask(truth == 1)
    session.set_image(image, key=0)
    start = truth == 1
    session.start_from_mask(start)
    assert np.array_equal(session.mask, start) and session.clicks == ()
    calls = []
    original = seg.predict
    seg.predict = lambda clicks, prev=None: calls.append(prev) or original(clicks, prev)
    rows, cols = np.nonzero(start)
    session.add_click(rows.mean(), cols.mean())
    assert np.array_equal(calls[0] > 0.5, start)  # the seeded mask is the feedback
    assert np.array_equal(session.undo(), start)  # back to the seed, not to nothing
    assert np.array_equal(session.undo(), start)
    session.reset()
    assert not session.mask.any()
    with pytest.raises(InvalidInputError, match="shape"):
        session.start_from_mask(start[:10])
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        session.start_from_mask(start * 3.0)
