"""A labels array seen as a stack of planes (3D movies in the Few-shot dock, #20 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.planes import PlaneStack
from napari_ifss.core.provenance import (
    RECORD_KEY,
    TIME_RECORD_KEY,
    record_key,
    record_states,
    user_labels,
)
from napari_ifss.core.slice_store import compressed_copy


def test_plane_stack_numbers_planes_in_c_order():
    movie = np.zeros((3, 4, 5, 6), np.uint8)
    planes = PlaneStack(movie)
    assert planes.shape == (12, 5, 6) and len(planes) == 12 and planes.lead == (3, 4)
    assert planes.index(9) == (2, 1) and planes.number((2, 1)) == 9
    planes[9] = 7
    assert movie[2, 1].min() == 7 and movie.sum() == 7 * 30
    assert planes[9].max() == 7 and planes[8].max() == 0
    volume = np.zeros((4, 5, 6), np.uint8)
    assert PlaneStack(volume).index(3) == (3,)  # a stack: plane z is slice z
    for shape in ((5, 6), (2, 3, 4, 5, 6)):
        with pytest.raises(InvalidInputError, match="expected a"):
            PlaneStack(np.zeros(shape))


def test_movie_provenance_and_copy_by_plane():
    movie = np.zeros((3, 4, 5, 6), np.uint16)
    movie[1, 2, 1:3, 1:3] = 5  # drawn
    movie[2, 2, 1:3, 1:3] = 5  # propagated
    planes = PlaneStack(movie)
    record = record_states({}, planes, [planes.number((2, 2))])
    assert list(record) == [10]
    user, stale = user_labels(record, planes)
    assert stale == [10] and user[10].max() == 0 and user[6].max() == 5
    copy = compressed_copy(user, shape=movie.shape)
    assert isinstance(copy, zarr.Array) and copy.shape == movie.shape
    np.testing.assert_array_equal(copy[1], movie[1])
    assert not np.asarray(copy[2]).any()
    with pytest.raises(ValueError, match="does not hold the planes"):
        compressed_copy(user, shape=(4, 4, 5, 6))
    assert record_key("z") == RECORD_KEY and record_key("t") == TIME_RECORD_KEY
