"""labels_ops (next id, commit without overwriting) and Plane (2D slices of nD arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.interactive.plane import Plane
from napari_ifss.core.labels_ops import commit_mask, free_indices, next_free_id


def test_next_free_id():
    assert next_free_id(np.zeros((4, 4), np.uint8)) == 1
    lab = np.zeros((3, 4, 4), np.uint16)
    lab[1, 2, 2] = 7
    assert next_free_id(lab) == 8
    with pytest.raises(InvalidInputError, match="full"):
        next_free_id(np.full((2, 2), 255, np.uint8))
    with pytest.raises(InvalidInputError, match="integer"):
        next_free_id(np.zeros((2, 2), np.float32))


def test_commit_does_not_overwrite_other_objects():
    lab = np.zeros((6, 6), np.int32)
    lab[0:3, 0:3] = 5
    mask = np.zeros((6, 6), bool)
    mask[2:5, 2:5] = True
    idx, old = commit_mask(lab, mask, 9)
    assert (lab[0:3, 0:3] == 5).all()  # object 5 untouched
    assert (lab[mask & (lab != 5)] == 9).all() and (lab[~mask & (lab != 5)] == 0).all()
    assert len(idx[0]) == 9 - 1 and (old == 0).all()
    lab[idx] = old  # the return value is enough to undo
    assert set(np.unique(lab)) == {0, 5}


def test_commit_overwrite_true():
    lab = np.zeros((4, 4), np.uint8)
    lab[1, 1] = 3
    mask = np.zeros((4, 4), bool)
    mask[1, 1:3] = True
    idx, old = commit_mask(lab, mask, 4, overwrite=True)
    assert lab[1, 1] == 4 and lab[1, 2] == 4 and sorted(old.tolist()) == [0, 3]


def test_commit_into_2d_view_of_3d():
    vol = np.zeros((3, 5, 5), np.uint16)
    vol[1, 0, 0] = 2
    mask = np.zeros((5, 5), bool)
    mask[0:2, 0:2] = True
    commit_mask(vol[1], mask, 3)
    assert vol[1, 0, 0] == 2 and (vol[1, 0:2, 0:2] == [[2, 3], [3, 3]]).all()
    assert vol[0].sum() == 0 and vol[2].sum() == 0


def test_commit_errors():
    lab = np.zeros((4, 4), np.uint8)
    with pytest.raises(InvalidInputError, match=r"\(4, 5\) does not match labels of shape \(4, 4\)"):
        commit_mask(lab, np.ones((4, 5), bool), 1)
    with pytest.raises(InvalidInputError, match="label_id"):
        commit_mask(lab, np.ones((4, 4), bool), 0)
    with pytest.raises(InvalidInputError, match="label_id"):
        commit_mask(lab, np.ones((4, 4), bool), 300)
    with pytest.raises(InvalidInputError, match="integer"):
        commit_mask(np.zeros((4, 4)), np.ones((4, 4), bool), 1)
    assert lab.sum() == 0
    with pytest.raises(InvalidInputError, match="outside"):
        free_indices(lab, (np.array([4]), np.array([0])))


def test_plane_geometry():
    p = Plane.through([3.2, 10.0, 7.0], axes=(2, 1))
    assert p == Plane(3, (1, 2), ((0, 3),)) and p.description == "slice 3"
    vol = np.arange(5 * 4 * 6).reshape(5, 4, 6)
    np.testing.assert_array_equal(vol[p.slicer()], vol[3])
    assert p.contains([2.6, 0, 0]) and not p.contains([2.4, 0, 0])
    assert p.to_rowcol([3, 1.5, 2.5]) == (1.5, 2.5)
    side = Plane.through([1, 2, 3], axes=(0, 2))  # rows along z, cols along x
    np.testing.assert_array_equal(vol[side.slicer()], vol[:, 2, :])
    assert side.description == "axis 1 = 2" and side.to_rowcol([1, 2, 3]) == (1.0, 3.0)
    m = np.zeros((5, 6), bool)
    m[4, 1] = True
    idx = side.volume_indices(m)
    assert [i.tolist() for i in idx] == [[4], [2], [1]]
    assert Plane(2).slicer() == (slice(None), slice(None)) and Plane(2).description == "image"
    assert side.inside(vol.shape) and not Plane(3, (1, 2), ((0, 5),)).inside(vol.shape)
    with pytest.raises(InvalidInputError):
        Plane(3, (1, 2), ())
    with pytest.raises(InvalidInputError):
        Plane(3, (2, 1), ((0, 0),))


def test_replacement_writes_correct_one_object_and_spare_the_others():
    from napari_ifss.core.labels_ops import replacement_writes

    labels = np.zeros((2, 6, 6), np.uint16)
    labels[1, 1:4, 1:4] = 5          # the object to correct, on slice 1
    labels[0, 1:4, 1:4] = 5          # its part on slice 0 is not touched
    labels[1, 4, 4] = 7              # another object
    old = np.nonzero(labels[1] == 5)
    old = (np.full(old[0].size, 1), *old)
    new_mask = np.zeros((6, 6), bool)
    new_mask[2:6, 2:6] = True        # moved: overlaps 5 and 7 and background
    rows, cols = np.nonzero(new_mask)
    new = (np.full(rows.size, 1), rows, cols)
    before = labels.copy()
    idx, values = replacement_writes(labels, 5, old, new)
    labels[idx] = values
    assert np.array_equal(labels[1] == 5, new_mask & (before[1] != 7))
    assert labels[1, 4, 4] == 7                      # the other object keeps its voxel
    assert np.array_equal(labels[0], before[0])      # the other slice is unchanged
    assert labels[1, 1, 1] == 0                      # left-out voxels are background again
    with pytest.raises(InvalidInputError):
        replacement_writes(labels, 0, old, new)
