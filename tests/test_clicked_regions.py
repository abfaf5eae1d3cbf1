"""Keeping only the clicked regions of a prediction (core/interactive/clicked_regions.py)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.interactive.clicked_regions import ClickedRegions, keep_clicked_regions
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.core.protocols import ClickSegmenter


def _two_blobs() -> np.ndarray:
    prob = np.full((40, 60), 0.1, dtype=np.float32)
    prob[5:15, 5:15] = 0.9  # the clicked object
    prob[25:30, 40:50] = 0.8  # a stray blob
    prob[15, 15] = 0.7  # touches the object diagonally: the same 8-connected region
    return prob


def test_drops_unclicked_region_and_keeps_the_rest():
    prob = _two_blobs()
    out = keep_clicked_regions(prob, [Click(10, 10, True), Click(27, 45, False)])
    assert out.dtype == np.float32 and out.shape == prob.shape
    assert np.all(out[25:30, 40:50] == 0)
    assert np.array_equal(out[:20, :20], prob[:20, :20])  # includes the diagonal pixel
    stray = np.zeros(prob.shape, dtype=bool)
    stray[25:30, 40:50] = True
    assert np.array_equal(out != prob, stray)  # nothing else changed
    assert prob[27, 45] == np.float32(0.8)  # input untouched


def test_every_positively_clicked_region_is_kept():
    prob = _two_blobs()
    out = keep_clicked_regions(prob, [Click(10, 10, True), Click(27.6, 45.2, True)])
    assert np.array_equal(out, prob)


def test_unchanged_when_no_positive_click_hits_a_region():
    prob = _two_blobs()
    assert np.array_equal(keep_clicked_regions(prob, [Click(35, 5, True)]), prob)
    assert np.array_equal(keep_clicked_regions(prob, [Click(10, 10, False)]), prob)
    # clicks on the border are clipped into the image, not an IndexError
    assert np.array_equal(keep_clicked_regions(prob, [Click(39.9, 59.9, True)]), prob)


def test_threshold_defines_the_regions():
    prob = _two_blobs()
    out = keep_clicked_regions(prob, [Click(10, 10, True)], threshold=0.85)
    assert out[27, 45] == np.float32(0.8)  # below 0.85: not a region, left alone
    with pytest.raises(ValueError, match="H, W"):
        keep_clicked_regions(prob[None], [Click(10, 10, True)])


class _Fixed:
    """A segmenter that always predicts the same map and records its feedback."""

    def __init__(self, prob: np.ndarray) -> None:
        self.prob, self.feedback, self.net = prob, [], "the net"

    def set_image(self, image, key=None) -> None:
        self.image = image

    def predict(self, clicks, prev_mask=None) -> np.ndarray:
        self.feedback.append(None if prev_mask is None else prev_mask.copy())
        return self.prob


def test_wrapper_in_a_session_cleans_mask_and_feedback():
    inner = _Fixed(_two_blobs())
    seg = ClickedRegions(inner)
    assert isinstance(seg, ClickSegmenter) and seg.net == "the net"
    session = InteractiveSession(seg)
    session.set_image(np.zeros((40, 60), dtype=np.uint8))
    mask = session.add_click(10, 10)
    assert mask[10, 10] and not mask[27:30, 40:50].any()
    session.add_click(20, 30, positive=False)
    assert np.all(inner.feedback[1][25:30, 40:50] == 0)  # the model sees the cleaned map


def test_session_option_matches_the_wrapper_and_applies_from_the_next_click():
    image = np.zeros((40, 60), dtype=np.uint8)
    plain = InteractiveSession(_Fixed(_two_blobs()))
    plain.set_image(image)
    assert plain.add_click(10, 10)[27, 45]  # the stray blob is shown without the option
    plain.keep_clicked_regions = True
    assert plain.mask[27, 45]  # the shown mask is not rewritten behind the user's back
    assert not plain.add_click(12, 12)[27, 45]
    wrapped = InteractiveSession(ClickedRegions(_Fixed(_two_blobs())))
    wrapped.set_image(image)
    wrapped.add_click(10, 10)
    opt = InteractiveSession(_Fixed(_two_blobs()), keep_clicked_regions=True)
    opt.set_image(image)
    assert np.array_equal(opt.add_click(10, 10), wrapped.mask)
    assert np.array_equal(opt.undo(), np.zeros((40, 60), dtype=bool))
