"""Support-slice bookkeeping: where labels occur and the fixed evenly-spaced selection rule."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.support import (
    evenly_spaced_slices,
    index_labels,
    nearest,
    object_slices,
    resolve_label_ids,
)


def _labels() -> np.ndarray:
    lab = np.zeros((10, 8, 8), np.int32)
    lab[2, 1:3, 1:3] = 1
    lab[5, 4:6, 4:6] = 1
    lab[5, 0, 0] = 3
    lab[9, 7, 7] = 3
    return lab


def test_index_labels_records_slices_per_id():
    index = index_labels(_labels())
    assert index.slices_of == {1: (2, 5), 3: (5, 9)}
    assert index.annotated == (2, 5, 9)
    assert index.label_ids == (1, 3)
    assert index.depth == 10


def test_resolve_label_ids_defaults_and_errors():
    index = index_labels(_labels())
    assert resolve_label_ids(index, None) == [1, 3]
    assert resolve_label_ids(index, 3) == [3]
    assert resolve_label_ids(index, [3, 1, 3]) == [3, 1]
    with pytest.raises(InvalidInputError, match="label id 7"):
        resolve_label_ids(index, [1, 7])
    with pytest.raises(InvalidInputError, match="background"):
        resolve_label_ids(index, 0)
    with pytest.raises(InvalidInputError, match="empty"):
        resolve_label_ids(index_labels(np.zeros((3, 4, 4), np.uint8)), None)


def test_index_rejects_non_integer_or_wrong_ndim():
    with pytest.raises(InvalidInputError, match="3D"):
        index_labels(np.zeros((4, 4), np.int32))
    with pytest.raises(InvalidInputError, match="integer"):
        index_labels(np.zeros((2, 4, 4), np.float32))


@pytest.mark.parametrize(("present", "k", "expected"), [
    (range(10, 30), 1, [20]),           # centre of the extent
    (range(10, 30), 2, [15, 25]),       # centres of two equal bins
    (range(0, 30), 3, [5, 15, 25]),
    (range(0, 2), 3, [0, 1]),           # fewer slices than k
    ([0, 1, 2, 8, 9], 1, [2]),          # centre 4 lacks the object: nearest slice with it
])
def test_evenly_spaced_rule(present, k, expected):
    assert evenly_spaced_slices(list(present), k) == expected


def test_evenly_spaced_errors():
    with pytest.raises(InvalidInputError):
        evenly_spaced_slices([1, 2], 0)
    with pytest.raises(InvalidInputError):
        evenly_spaced_slices([], 1)


def test_object_slices_and_nearest():
    assert object_slices(_labels() == 3) == [5, 9]
    assert nearest([2, 6], 4) == 2
    assert nearest([2, 6], 5) == 6
