"""Property-based checks of the headless API on arbitrary shapes, dtypes and values.

Whatever comes in, a call either returns a well-formed result or raises
:class:`InvalidInputError` with a message, and it never changes the caller's arrays.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import napari_ifss as ifss
from napari_ifss.core.errors import InvalidInputError

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = st.sampled_from([np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64,
                          np.bool_])


@functools.lru_cache(maxsize=1)
def _session() -> ifss.InteractiveSession:
    return ifss.InteractiveSession()  # the shipped model, loaded once for all examples


@functools.lru_cache(maxsize=1)
def _fewshot():
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter

    return FewShotSegmenter.default()


def _values(dtype, clean: bool = False):
    """Elements for ``dtype``: any float (NaN, inf) unless ``clean``; all integers."""
    if np.issubdtype(dtype, np.floating):
        if clean:
            return st.floats(-1e6, 1e6, width=32)
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    return None  # hypothesis' default: the whole range of the dtype


@st.composite
def slices(draw):
    dtype = draw(DTYPES)
    clean = draw(st.sampled_from([True, True, False]))
    shape = draw(st.sampled_from([(16, 16), (24, 40), (12, 12, 3), (9, 9, 4), (5, 3), (2, 2),
                                  (1, 1), (1, 7), (10, 10, 2), (3, 8, 8)]))
    return draw(hnp.arrays(dtype, shape, elements=_values(dtype, clean)))


@given(image=slices(), row=st.one_of(st.floats(-2, 30), st.floats(allow_nan=True,
                                                                    allow_infinity=True)),
       col=st.floats(-5, 50), positive=st.booleans())
@SETTINGS
def test_a_click_gives_a_mask_or_a_clear_error(image, row, col, positive):
    before = image.copy()
    session = _session()
    try:
        session.set_image(image)
        mask = session.add_click(row, col, positive)
    except InvalidInputError as err:
        assert str(err)
        event(f"refused: {str(err)[:38]}")
    else:
        event("segmented")
        assert mask.shape == image.shape[:2] and mask.dtype == bool
        assert np.all(np.isfinite(image.astype(np.float64)))  # NaN/inf never get through
    np.testing.assert_array_equal(image, before)


@st.composite
def volumes(draw):
    depth = draw(st.integers(1, 4))
    h, w = draw(st.sampled_from([(16, 12), (20, 20), (8, 8), (1, 1), (2, 9)]))
    dtype = draw(DTYPES)
    # hypothesis favours the first choice: mostly finite values, so results get checked too
    clean = draw(st.sampled_from([True, True, False]))
    vol = draw(hnp.arrays(dtype, (depth, h, w), elements=_values(dtype, clean)))
    ldtype = draw(st.sampled_from([np.uint8, np.int16, np.uint32, np.int64, np.bool_,
                                   np.uint8, np.float32]))
    labels = np.zeros((depth, h, w), ldtype)
    z = draw(st.integers(0, depth - 1))
    fill = draw(st.sampled_from(["box", "box", "none", "box", "all", "negative"]))
    if fill == "box":
        labels[z, : max(1, h // 2), : max(1, w // 2)] = draw(st.integers(1, 1 if ldtype ==
                                                                        np.bool_ else 3))
    elif fill == "all":
        labels[z] = 1
    elif fill == "negative" and np.issubdtype(ldtype, np.signedinteger):
        labels[z, 0, 0] = -1
    if draw(st.sampled_from([False, False, False, True])):  # labels of another shape
        labels = labels[:, : max(1, h - 1)]
    ids = draw(st.sampled_from([None, None, None, 1, [1, 2], [0], [7]]))
    return vol, labels, ids


@given(case=volumes())
@SETTINGS
def test_propagation_fills_or_refuses_and_never_touches_inputs(case):
    vol, labels, ids = case
    vol_before, labels_before = vol.copy(), labels.copy()
    try:
        result = ifss.propagate(vol, labels, ids, segmenter=_fewshot())
    except InvalidInputError as err:
        assert str(err)
        event(f"refused: {str(err)[:38]}")
    else:
        event("propagated")
        assert result.shape == labels.shape
        assert result.dtype == (np.uint8 if labels.dtype == bool else labels.dtype)
        drawn = labels != 0
        assert np.array_equal(result[drawn], labels[drawn])  # user voxels kept
        annotated = drawn.any(axis=(1, 2))
        assert np.array_equal(result[annotated], labels[annotated])  # user slices kept
        assert set(np.unique(result)) <= set(np.unique(labels))  # no invented ids
    np.testing.assert_array_equal(vol, vol_before)
    np.testing.assert_array_equal(labels, labels_before)


@pytest.mark.parametrize("shape, hint", [
    ((6, 2, 32, 32), r"\(Z, C, Y, X\) with 2 channels: pass one channel, e.g. volume\[:, 0\]"),
    ((2, 6, 32, 32), r"\(Z, C, Y, X\) with 6 channels"),
    ((3, 6, 32, 32, 1), r"one time point and one channel"),
])
def test_channel_data_gets_a_hint(shape, hint):
    with pytest.raises(InvalidInputError, match=hint):
        ifss.propagate(np.zeros(shape, np.float32), np.zeros(shape[-3:], np.uint8))


def test_named_bad_inputs_say_what_is_wrong():
    vol = np.random.default_rng(0).random((5, 24, 24)).astype(np.float32)
    labels = np.zeros(vol.shape, np.uint8)
    labels[2, 5:12, 5:12] = 1
    cases = [
        (lambda: ifss.propagate(np.where(labels > 0, np.nan, vol), labels), "NaN or infinite"),
        (lambda: ifss.propagate(vol, np.zeros_like(labels)), "labels volume is empty"),
        (lambda: ifss.propagate(vol, np.ones_like(labels)), "some background is needed"),
        (lambda: ifss.propagate(vol, labels, [4]), "label id 4 does not occur"),
        (lambda: ifss.propagate(vol, labels.astype(np.float32)), "integer ids"),
        (lambda: ifss.propagate(vol, labels.astype(np.int8) - 1), "must be >= 0"),
        (lambda: ifss.propagate(vol, labels[:, :5]), "does not match"),
        (lambda: ifss.score(vol, labels, labels, [9]), "label id 9 does not occur"),
        (lambda: ifss.segment_clicks(vol[0], [(30, 2)]), "outside the image"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            call()
    with pytest.raises(InvalidInputError, match="same value"):  # #15: nothing to segment
        ifss.propagate(np.ones_like(vol), labels)
