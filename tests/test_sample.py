"""The synthetic sample: right types, deterministic, fast, cell-like."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError


@pytest.fixture(scope="module")
def sample():
    return make_synthetic_cells()


def test_shapes_dtypes_and_label_ids(sample):
    image, labels = sample
    assert image.shape == labels.shape == (24, 192, 192)
    assert image.dtype == np.uint16 and labels.dtype == np.int32
    ids = np.unique(labels)
    assert ids[0] == 0 and np.array_equal(ids[1:], np.arange(1, ids.size))  # no gaps
    assert 45 <= ids.size - 1 <= 60


def test_cells_are_brighter_than_background_and_textured(sample):
    image, labels = sample
    inside, outside = image[labels > 0].astype(float), image[labels == 0].astype(float)
    assert inside.mean() > 3 * outside.mean()
    # texture: intensity varies inside a cell beyond the shot noise of its mean
    cell = image[labels == 1].astype(float)
    assert cell.std() > 2 * np.sqrt(cell.mean())


def test_some_cells_touch(sample):
    _, labels = sample
    touching = 0
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        region = labels[grown]
        neighbours = set(np.unique(region[ndi.binary_dilation(region == i)])) - {0, i}
        touching += bool(neighbours)
    assert touching >= 10


def test_deterministic_and_seed_dependent():
    a = make_synthetic_cells((12, 64, 64), n_cells=8, seed=3)
    b = make_synthetic_cells((12, 64, 64), n_cells=8, seed=3)
    c = make_synthetic_cells((12, 64, 64), n_cells=8, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_two_dimensional():
    image, labels = make_synthetic_cells((96, 96), n_cells=6)
    assert image.shape == labels.shape == (96, 96) and labels.max() >= 4


def test_fast():
    make_synthetic_cells()  # warm caches
    t0 = time.perf_counter()
    make_synthetic_cells(seed=1)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("kwargs", [{"shape": (4, 64, 64)}, {"shape": (2, 3, 64, 64)},
                                    {"n_cells": 0}, {"shape": (64, 64), "spacing": (1.0,)}])
def test_bad_arguments(kwargs):
    with pytest.raises(InvalidInputError):
        make_synthetic_cells(**kwargs)
