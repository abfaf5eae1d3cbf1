"""InteractiveSession: clicks, undo, reset, per-slice memory, feedback and errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError, NotReadyError
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.interactive.session import InteractiveSession, SessionState
from napari_ifss.core.protocols import ClickSegmenter
from napari_ifss.eval.random_walker import RandomWalkerSegmenter


class Recording:
    """A ClickSegmenter that records every call and delegates to a real segmenter."""

    def __init__(self, inner: ClickSegmenter) -> None:
        self.inner = inner
        self.images: list[object] = []
        self.calls: list[tuple[tuple[Click, ...], np.ndarray | None]] = []
        self.outputs: list[np.ndarray] = []

    def set_image(self, image, key=None):
        self.images.append(key)
        self.inner.set_image(image, key=key)

    def predict(self, clicks, prev_mask=None):
        prev = None if prev_mask is None else np.array(prev_mask, copy=True)
        self.calls.append((tuple(clicks), prev))
        out = self.inner.predict(clicks, prev_mask)
        self.outputs.append(out)
        return out


def _disk_image(center=(20, 24), radius=9, shape=(48, 56)) -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    obj = (rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius**2
    rng = np.random.default_rng(0)
    img = (obj * 150 + 40 + rng.normal(0, 5, shape)).astype(np.float32)
    return img, obj


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture
def rec() -> Recording:
    return Recording(RandomWalkerSegmenter())


def test_positive_click_segments_the_object_and_feedback_is_passed(rec):
    img, obj = _disk_image()
    s = InteractiveSession(rec)
    s.set_image(img, key=0)
    assert s.mask.shape == img.shape and not s.mask.any()
    m1 = s.add_click(20, 24)
    assert m1.dtype == bool and m1.shape == img.shape
    assert _iou(m1, obj) > 0.8
    m2 = s.add_click(40, 50, positive=False)
    assert not m2[40, 50]
    assert len(rec.calls) == 2
    assert rec.calls[0][1] is None  # no feedback before the first click
    np.testing.assert_array_equal(rec.calls[1][1], rec.outputs[0])  # previous probability
    assert [c.positive for c in rec.calls[1][0]] == [True, False]  # newest last
    assert s.clicks == (Click(20.0, 24.0, True), Click(40.0, 50.0, False))
    assert s.probabilities.dtype == np.float32
    np.testing.assert_array_equal(s.mask, s.probabilities > 0.5)


def test_undo_restores_previous_mask_without_model_call(rec):
    img, _ = _disk_image()
    s = InteractiveSession(rec)
    s.set_image(img)
    m1 = s.add_click(20, 24).copy()
    s.add_click(20, 10, positive=True)
    n = len(rec.calls)
    np.testing.assert_array_equal(s.undo(), m1)
    assert len(rec.calls) == n and len(s.clicks) == 1
    assert not s.undo().any() and s.clicks == ()
    assert not s.undo().any()  # undo with no clicks: documented no-op


def test_reset_and_threshold(rec):
    img, _ = _disk_image()
    s = InteractiveSession(rec, threshold=0.5)
    s.set_image(img)
    s.add_click(20, 24)
    area = s.mask.sum()
    s.threshold = 0.99
    assert s.mask.sum() <= area
    with pytest.raises(InvalidInputError, match="threshold"):
        s.threshold = 1.0
    s.reset()
    assert s.clicks == () and not s.mask.any() and not s.probabilities.any()


def test_per_key_state_survives_switching_slices(rec):
    img, obj = _disk_image()
    other, _ = _disk_image(center=(30, 30), radius=6)
    s = InteractiveSession(rec)
    s.set_image(img, key=("stack", 3))
    m3 = s.add_click(20, 24).copy()
    s.set_image(other, key=("stack", 4))
    assert s.clicks == () and not s.mask.any()
    s.add_click(30, 30)
    s.set_image(img, key=("stack", 3))
    assert s.key == ("stack", 3) and len(s.clicks) == 1
    np.testing.assert_array_equal(s.mask, m3)
    assert set(s.keys()) == {("stack", 3), ("stack", 4)}
    np.testing.assert_array_equal(s.snapshot(("stack", 3)).mask, m3)
    assert rec.images == [("stack", 3), ("stack", 4), ("stack", 3)]
    s.set_image(img, key=None)  # no key: always a fresh state
    assert s.clicks == ()
    s.discard(("stack", 4))
    assert s.keys() == (("stack", 3),)
    s.clear()
    assert s.keys() == ()


def test_set_clicks_replays_only_the_changed_suffix(rec):
    img, _ = _disk_image()
    s = InteractiveSession(rec)
    s.set_image(img)
    a, b, c = Click(20, 24), Click(40, 50, False), Click(10, 10, False)
    s.set_clicks([a, b])
    assert len(rec.calls) == 2
    s.set_clicks([a, c])  # b removed, c added: one undo, one prediction
    assert len(rec.calls) == 3 and s.clicks == (a, c)
    np.testing.assert_array_equal(rec.calls[-1][1], rec.outputs[0])
    s.set_clicks([])
    assert s.clicks == () and not s.mask.any() and len(rec.calls) == 3


def test_snapshot_is_frozen(rec):
    img, _ = _disk_image()
    s = InteractiveSession(rec)
    s.set_image(img, key=1)
    s.add_click(20, 24)
    snap = s.snapshot()
    assert isinstance(snap, SessionState) and snap.key == 1 and len(snap.clicks) == 1
    with pytest.raises(ValueError):
        snap.probabilities[0, 0] = 1.0
    s.add_click(40, 50, positive=False)
    assert len(snap.clicks) == 1  # a snapshot does not follow later clicks
    with pytest.raises(NotReadyError, match="no state for key 7"):
        s.snapshot(7)


def test_errors_name_the_problem(rec):
    s = InteractiveSession(rec)
    with pytest.raises(NotReadyError, match="set_image"):
        s.add_click(1, 1)
    with pytest.raises(NotReadyError):
        s.undo()
    with pytest.raises(InvalidInputError, match=r"shape \(2, 3, 4, 5\)"):
        s.set_image(np.zeros((2, 3, 4, 5)))
    bad = np.zeros((8, 8), np.float32)
    bad[1, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        s.set_image(bad)
    img, _ = _disk_image()
    s.set_image(img)
    with pytest.raises(InvalidInputError, match=r"outside the image of shape \(48, 56\)"):
        s.add_click(48, 3)
    with pytest.raises(InvalidInputError, match="outside"):
        s.add_click(-1, 3)
    with pytest.raises(InvalidInputError, match="non-finite"):
        s.add_click(float("nan"), 3)
    assert s.clicks == () and rec.calls == []  # bad clicks change nothing
    with pytest.raises(InvalidInputError, match="set_image"):
        InteractiveSession(object())  # type: ignore[arg-type]


def test_rgb_slice_is_accepted(rec):
    img, obj = _disk_image()
    rgb = np.stack([img, img, img], axis=-1).astype(np.uint8)
    s = InteractiveSession(rec)
    s.set_image(rgb, key="rgb")
    assert s.add_click(20, 24).shape == obj.shape


def test_deep_predictor_flow_random_init():
    """The real deep predictor (random weights: shapes and flow only, not quality)."""
    import torch

    from napari_ifss.core.interactive.predictor import ClickPredictor

    torch.set_num_threads(1)
    from napari_ifss.models.registry import build_click_net

    torch.manual_seed(0)
    s = InteractiveSession(ClickPredictor(build_click_net("fcfi")))
    img, _ = _disk_image(shape=(64, 64))
    s.set_image(img, key=0)
    m = s.add_click(20, 24)
    s.add_click(50, 50, positive=False)
    assert m.shape == (64, 64) and s.probabilities.dtype == np.float32
    assert 0.0 <= s.probabilities.min() and s.probabilities.max() <= 1.0
    assert len(s.clicks) == 2 and len(s.undo()) == 64
