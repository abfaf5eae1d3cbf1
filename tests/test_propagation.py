"""Volume propagation: protection of user labels, merging, order, cancel, streaming."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.propagation import processing_order, propagate, propagate_volume
from napari_ifss.models.fewshot_head import FewShotHead
from napari_ifss.models.registry import build_click_net


class CopySegmenter:
    """Stand-in model: predicts the neighbour prior (or nothing) and records its calls."""

    def __init__(self, drop_after: int | None = None) -> None:
        self.calls: list[tuple[int | None, float | None]] = []
        self.drop_after = drop_after

    def set_support(self, images, masks, positions=None, window=None):
        self.support = list(positions)

    def predict(self, image, position=None, neighbour=None, key=None):
        self.calls.append((position, None if neighbour is None else float(neighbour.mean())))
        if neighbour is None or (self.drop_after is not None and position > self.drop_after):
            return np.zeros(np.shape(image)[:2], np.float32)
        return np.asarray(neighbour, np.float32)


class CountingArray:
    """Wraps an array and records every index used to read it."""

    def __init__(self, arr) -> None:
        self.arr, self.reads = arr, []
        self.shape, self.dtype, self.ndim = arr.shape, arr.dtype, arr.ndim

    def __getitem__(self, idx):
        self.reads.append(idx)
        return self.arr[idx]


def _texture(shape) -> np.ndarray:
    """A non-blank stand-in volume (blank slices are left empty without asking the model)."""
    return np.random.default_rng(7).integers(1, 255, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def real_segmenter():
    torch.manual_seed(0)
    return FewShotSegmenter(FewShotHead(), build_click_net("nofeedback").encoder, device="cpu",
                            min_side=64, max_side=64, cache_size=32)


@pytest.fixture(scope="module")
def cells():
    return make_synthetic_cells((10, 48, 48), n_cells=6, seed=2)


def _squares(depth=5, shape=(16, 16)):
    vol = _texture((depth, *shape))
    labels = np.zeros((depth, *shape), np.int32)
    labels[0, 2:8, 2:8] = 1
    labels[4, 5:11, 5:11] = 1
    return vol, labels


def test_processing_order_nearest_first():
    assert processing_order([0, 4], 0, 4) == [1, 3, 2]
    assert processing_order([5], 3, 8) == [4, 6, 3, 7, 8]


def test_fronts_meet_and_are_reconciled():
    vol, labels = _squares()
    seg = CopySegmenter()
    events = list(propagate(vol, labels, 1, segmenter=seg, out=labels.copy()))
    assert [e.z for e in events] == [1, 3, 2]
    assert events[0].mask[2:8, 2:8].all() and events[0].mask.sum() == 36
    assert events[1].mask[5:11, 5:11].all() and events[1].mask.sum() == 36
    # slice 2 sees both fronts: their mean keeps only where they agree (overlap 5:8)
    assert events[2].mask.sum() == 9 and events[2].mask[5:8, 5:8].all()
    assert events[-1].done == events[-1].total == 3


def test_front_stops_when_object_vanishes_outside_annotated_range():
    vol = _texture((8, 16, 16))
    labels = np.zeros((8, 16, 16), np.int32)
    labels[2, 4:9, 4:9] = 1
    seg = CopySegmenter(drop_after=3)
    events = list(propagate(vol, labels, 1, segmenter=seg, out=labels.copy()))
    predicted = {e.z for e in events if e.predicted}
    assert predicted == {0, 1, 3, 4}  # slice 4 is empty, so 5..7 skip the network
    assert {e.z for e in events} == {0, 1, 3, 4, 5, 6, 7}
    assert all(not e.mask.any() for e in events if e.z >= 4)


def test_never_overwrites_user_labels(real_segmenter, cells):
    image, truth = cells
    labels = np.zeros_like(truth)
    labels[2] = truth[2] == truth[2].max()
    labels[7] = (truth[7] == truth[7].max()) * 1
    labels[4, 10:20, 10:20] = 5  # another object, annotated on another slice
    labels[6, 0:3, 0:3] = 9
    out = labels.copy()
    events = list(propagate(image, labels, 1, segmenter=real_segmenter, out=out))
    for z in (2, 4, 6, 7):
        np.testing.assert_array_equal(out[z], labels[z])
    assert {e.z for e in events} == {0, 1, 3, 5, 8, 9}
    assert np.all(out[labels != 0] == labels[labels != 0])
    for e in events:
        np.testing.assert_array_equal(out[e.z], e.labels)
        assert set(np.unique(e.labels)) <= {0, 1}


def test_multi_label_merge_without_overlap():
    vol = _texture((4, 16, 16))
    labels = np.zeros((4, 16, 16), np.int32)
    labels[0, 2:10, 2:10] = 1
    labels[0, 10:14, 10:14] = 3
    labels[3, 4:12, 4:12] = 3  # label 3 grows over label 1's area on its way down
    out = labels.copy()
    events = list(propagate(vol, labels, [1, 3], segmenter=CopySegmenter(), out=out))
    assert [e.label_id for e in events] == [1, 1, 3, 3]
    by = {(e.label_id, e.z): e.mask for e in events}
    for z in (1, 2):
        assert not (by[(1, z)] & by[(3, z)]).any()
        assert (out[z] == 1).sum() == by[(1, z)].sum() == 64
        assert (out[z] == 3).sum() == by[(3, z)].sum() > 0
    with pytest.raises(InvalidInputError, match="out"):
        propagate(vol, labels, [1, 3], segmenter=CopySegmenter())


def test_cancel_leaves_only_yielded_slices():
    vol = _texture((12, 16, 16))
    labels = np.zeros((12, 16, 16), np.int32)
    labels[6, 3:9, 3:9] = 2
    out = labels.copy()
    gen = propagate(vol, labels, 2, segmenter=CopySegmenter(), out=out)
    seen = [next(gen) for _ in range(3)]
    gen.close()
    changed = {z for z in range(12) if (out[z] != labels[z]).any()}
    assert changed == {e.z for e in seen} == {5, 7, 4}
    with pytest.raises(StopIteration):
        next(gen)


def test_slices_subset_and_input_errors():
    vol, labels = _squares(depth=7)
    out = labels.copy()
    events = list(propagate(vol, labels, 1, slices=[1, 2, 4, 6], segmenter=CopySegmenter(),
                            out=out))
    assert sorted(e.z for e in events) == [1, 2, 6]  # 4 is annotated
    assert not out[3].any() and not out[5].any()
    with pytest.raises(InvalidInputError, match="label id 4"):
        propagate(vol, labels, 4, segmenter=CopySegmenter())
    with pytest.raises(InvalidInputError, match="outside"):
        propagate(vol, labels, 1, slices=[9], segmenter=CopySegmenter())
    with pytest.raises(InvalidInputError, match="does not match"):
        propagate(vol[:, :8], labels, 1, segmenter=CopySegmenter())
    with pytest.raises(InvalidInputError, match="integer"):
        propagate(vol, labels, 1, segmenter=CopySegmenter(), out=np.zeros(vol.shape, float))
    full = labels.copy()
    full[2] = 2
    with pytest.raises(InvalidInputError, match="background"):
        propagate(vol, full, [1, 2], segmenter=CopySegmenter(), out=full.copy())


def test_dask_input_streams_single_slices(real_segmenter, cells):
    image, truth = cells
    labels = np.zeros_like(truth)
    labels[3] = (truth[3] > 0).astype(truth.dtype)
    labels[6] = (truth[6] > 0).astype(truth.dtype)
    vol = CountingArray(da.from_array(image, chunks=(1, 48, 48)))
    lab = CountingArray(da.from_array(labels, chunks=(1, 48, 48)))
    events = list(propagate(vol, lab, 1, segmenter=real_segmenter))
    assert len(events) == 8
    for reads in (vol.reads, lab.reads):
        assert all(isinstance(i, int) for i in reads), "only whole single slices are read"
    # window sample (<= 8) + supports (2) + one read per predicted slice (8)
    assert len(vol.reads) <= 8 + 2 + 8
    assert len(lab.reads) <= 10 + 2 + 2  # index scan, background check, two support masks
    expected = propagate_volume(image, labels, 1, segmenter=real_segmenter)
    for e in events:
        np.testing.assert_array_equal(e.labels, expected[e.z])


def test_zarr_output_receives_results_slice_by_slice(tmp_path):
    import zarr

    vol, labels = _squares()
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="w", shape=labels.shape,
                          chunks=(1, 16, 16), dtype="int32")
    out[:] = labels
    events = list(propagate(vol, labels, 1, segmenter=CopySegmenter(), out=out))
    result = np.asarray(out[:])
    np.testing.assert_array_equal(result[[0, 4]], labels[[0, 4]])
    for e in events:
        np.testing.assert_array_equal(result[e.z], e.labels)
    assert (result[1] == 1).sum() == 36


def test_constant_volume_is_refused_before_anything_is_written():
    """#15: a NIfTI of NaN reads as zeros; propagating it must not invent objects."""
    vol = np.zeros((6, 16, 16), np.float32)
    labels = np.zeros((6, 16, 16), np.int32)
    labels[2, 4:9, 4:9] = 1
    out = labels.copy()
    for volume in (vol, da.from_array(vol, chunks=(1, 16, 16))):
        with pytest.raises(InvalidInputError, match="same value"):
            list(propagate(volume, labels, 1, segmenter=CopySegmenter(), out=out))
    assert np.array_equal(out, labels)


def test_blank_slices_stay_empty_with_a_warning():
    vol = np.random.default_rng(0).random((6, 16, 16)).astype(np.float32)
    vol[4] = 0.0  # a blank slice inside the object's range
    labels = np.zeros((6, 16, 16), np.int32)
    labels[1, 4:9, 4:9] = 1
    seg = CopySegmenter()
    with pytest.warns(UserWarning, match=r"single value.*\[4\]"):
        events = list(propagate(vol, labels, 1, segmenter=seg, stop_when_empty=False))
    by_z = {e.z: e for e in events}
    assert not by_z[4].mask.any() and not by_z[4].predicted
    assert 4 not in [p for p, _ in seg.calls]  # the model never saw the blank slice
    assert by_z[2].mask.any()
