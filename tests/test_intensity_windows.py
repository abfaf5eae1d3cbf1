"""#20 (7), API part: an intensity window (CT window in HU, or a preset) for segment_clicks,
propagate and score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import napari_ifss
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.core.normalize import CT_PRESETS, IntensityWindow, as_window
from napari_ifss.eval.random_walker import RandomWalkerSegmenter

torch.set_num_threads(1)


def _ct_slice() -> tuple[np.ndarray, np.ndarray]:
    """int16 HU: soft tissue (30 HU) with an organ at 65 HU, air outside the body, a bone."""
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[:512, :512]
    img = np.full((512, 512), 30.0) + rng.normal(0, 8, (512, 512))
    body = (rr - 256) ** 2 / 230 ** 2 + (cc - 256) ** 2 / 200 ** 2 < 1
    img[~body] = -1000 + rng.normal(0, 10, int((~body).sum()))
    organ = (rr - 230) ** 2 / 60 ** 2 + (cc - 300) ** 2 / 45 ** 2 < 1
    img[organ] += 35
    img[(rr - 380) ** 2 + (cc - 256) ** 2 < 30 ** 2] = 1000
    return img.astype(np.int16), organ


def test_as_window_presets_pairs_and_errors():
    assert as_window(None) is None
    assert as_window("Soft tissue") == IntensityWindow(*CT_PRESETS["soft tissue"])
    assert as_window((-160, 240)) == IntensityWindow(-160.0, 240.0)
    w = IntensityWindow(0, 80)
    assert as_window(w) is w
    for bad, match in (("liver", "unknown window preset"), ((5, 5), "low < high"),
                       ((0, float("nan")), "finite"), (3, "window must be"),
                       ((1, 2, 3), "window must be")):
        with pytest.raises(InvalidInputError, match=match):
            as_window(bad)


def test_segment_clicks_with_a_ct_window():
    image, organ = _ct_slice()
    session = InteractiveSession()
    plain = napari_ifss.segment_clicks(image, [(230, 300)], session=session)
    windowed = napari_ifss.segment_clicks(image, [(230, 300)], session=session,
                                          window="soft tissue")
    iou = lambda m: float((m & organ).sum() / (m | organ).sum())  # noqa: E731
    assert not np.array_equal(plain, windowed)  # the window reaches the model
    assert iou(windowed) >= 0.9 and iou(windowed) >= iou(plain) - 0.01  # measured 0.98 / 0.92


def test_a_model_without_windows_refuses_one():
    session = InteractiveSession(RandomWalkerSegmenter())
    with pytest.raises(InvalidInputError, match="takes no intensity window"):
        session.set_image(np.zeros((32, 32), np.int16), window=IntensityWindow(0, 1))


def test_propagate_and_score_pass_the_window_on(monkeypatch):
    import napari_ifss.core.fewshot.propagation as propagation
    import napari_ifss.core.quality.quality_volume as quality_volume

    seen = {}

    def fake_propagate(*args, **kwargs):
        seen["propagate"] = kwargs["window"]
        return iter(())

    def fake_score(*args, **kwargs):
        seen["score"] = kwargs["window"]
        return iter(())

    monkeypatch.setattr(propagation, "propagate", fake_propagate)
    monkeypatch.setattr(quality_volume, "score_labels", fake_score)
    volume = np.zeros((4, 16, 16), np.int16)
    labels = np.zeros((4, 16, 16), np.uint8)
    labels[1, 4:8, 4:8] = 1
    napari_ifss.propagate(volume, labels, window=(-160, 240))
    napari_ifss.score(volume, labels, labels, window="lung")
    assert seen == {"propagate": IntensityWindow(-160.0, 240.0),
                    "score": IntensityWindow(*CT_PRESETS["lung"])}


def test_a_slice_keeps_its_clicks_and_is_predicted_again_under_a_new_window():
    image, organ = _ct_slice()
    session = InteractiveSession()
    session.set_image(image, key=0)
    session.add_click(230, 300)
    session.add_click(230, 250, positive=False)
    plain = session.mask.copy()
    session.set_image(image, key=0, window=as_window("soft tissue"))  # same slice, new window
    assert len(session.snapshot().clicks) == 2 and session.window == as_window("soft tissue")
    assert not np.array_equal(session.mask, plain)
    session.set_image(image, key=0)  # back to automatic: the same masks as before
    np.testing.assert_array_equal(session.mask, plain)
    session.undo()
    assert len(session.snapshot().clicks) == 1
