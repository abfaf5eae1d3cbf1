"""The record of propagated slices: recognised while untouched, user-owned once edited."""

from __future__ import annotations

import numpy as np

from napari_ifss.core.provenance import (
    propagated_slices,
    record_states,
    slice_checksum,
    user_labels,
)


def _volume():
    labels = np.zeros((5, 8, 8), np.int32)
    labels[0, 2:5, 2:5] = 1  # user slice
    labels[1, 2:6, 2:6] = 1  # propagated
    labels[2, 3:6, 3:6] = 1  # propagated
    return labels


def test_checksum_depends_on_content_dtype_and_shape():
    a = np.zeros((4, 4), np.int32)
    b = a.copy()
    b[0, 0] = 1
    assert slice_checksum(a) == slice_checksum(a.copy())
    assert slice_checksum(a) != slice_checksum(b)
    assert slice_checksum(a) != slice_checksum(a.astype(np.int64))
    assert slice_checksum(a) != slice_checksum(np.zeros((2, 8), np.int32))


def test_untouched_slices_are_propagated_and_edited_ones_belong_to_the_user():
    labels = _volume()
    record = record_states({}, labels, [1, 2, 3])  # slice 3 is empty: not recorded
    assert sorted(record) == [1, 2]
    assert propagated_slices(record, labels) == [1, 2]
    labels[2, 0, 0] = 1  # the user paints a correction on slice 2
    assert propagated_slices(record, labels) == [1]
    support, stale = user_labels(record, labels)
    assert stale == [1]
    assert not support[1].any()
    np.testing.assert_array_equal(support[[0, 2]], labels[[0, 2]])
    assert labels[1].any()  # the input is not modified


def test_undo_to_an_earlier_recorded_state_keeps_the_slice_propagated():
    labels = _volume()
    record = record_states({}, labels, [1])
    first = labels[1].copy()
    labels[1, 6, 6] = 1  # a second run changes slice 1
    record = record_states(record, labels, [1])
    labels[1] = first  # undo of the second run
    assert propagated_slices(record, labels) == [1]
    assert len(record[1]) == 2
