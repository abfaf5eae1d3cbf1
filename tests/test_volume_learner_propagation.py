"""Issue #14: the per-volume learner is the default method of propagation (core, API, CLI,
Few-shot dock); the meta-learned head stays selectable. Hard cases on small synthetic stacks:
a tiny target, an object that leaves the volume and ends inside it, several labels,
anisotropic spacing, lazy (dask) input."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import napari_ifss as ifss
from napari_ifss.cli import main
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot import propagation
from napari_ifss.core.fewshot.learner_segmenter import LearnerSegmenter
from napari_ifss.core.fewshot.propagation import propagate, propagate_volume, slice_model
from napari_ifss.core.fewshot.volume_learner import LearnerConfig

FAST = LearnerConfig(levels=(), samples=1500)  # filters only: no trunk
SIDE = 64
RR, CC = np.mgrid[0:SIDE, 0:SIDE]


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    return float(2 * (pred & truth).sum() / max(1, pred.sum() + truth.sum()))


def _noisy(truth: np.ndarray, seed: int = 0, bright: float = 150.0) -> np.ndarray:
    """Float32 image: 40 + noise, ``bright`` on ``truth > 0``."""
    image = 40 + np.random.default_rng(seed).normal(0, 8, truth.shape)
    image[truth > 0] = bright
    return image.astype(np.float32)


def _disk(r: float, c: float, radius: float) -> np.ndarray:
    return np.hypot(RR - r, CC - c) < radius


@pytest.fixture(scope="module")
def ending():
    """``(image, truth)`` 14 x 64 x 64: a disk on slices 0..6 (it leaves the volume at z = 0
    and ends at z = 6), and from z = 8 on a disk that looks the same elsewhere."""
    truth = np.zeros((14, SIDE, SIDE), np.int32)
    truth[:7][:, _disk(32, 32, 9)] = 1
    image = _noisy(truth)
    image[8:][:, _disk(12, 12, 7)] = 150  # a look-alike beyond the object's end
    return image, truth


def test_the_learner_is_the_default_and_the_head_is_not_loaded(ending, monkeypatch):
    def no_head(**_kwargs):
        raise AssertionError("the default method must not load the few-shot head")

    monkeypatch.setattr(propagation.FewShotSegmenter, "default", no_head)
    assert isinstance(slice_model(None, None, None, None, 0.5), LearnerSegmenter)
    image, truth = ending
    support = np.where(np.arange(14)[:, None, None] == 3, truth, 0)
    result = propagate_volume(image, support)  # the shipped design, trunk features included
    assert np.array_equal(result, propagate_volume(image, support, method="learner"))
    assert np.array_equal(result[3], support[3])
    assert _dice(result[:7], truth[:7]) > 0.9
    assert ifss.propagate(image, support).tolist() == result.tolist()  # the API likewise


def test_an_object_that_leaves_the_volume_and_ends_stops_there(ending):
    image, truth = ending
    support = np.where(np.arange(14)[:, None, None] == 3, truth, 0)
    out = support.copy()
    events = list(propagate(image, support, out=out, learner=FAST))
    assert _dice(out[:7], truth[:7]) > 0.9  # down to the volume's first slice
    assert out[0].sum() > 0.8 * truth[0].sum()
    assert not out[7:].any()  # beyond the end: empty, the look-alike never painted
    skipped = sorted(e.z for e in events if not e.predicted)
    assert skipped == list(range(8, 14))  # the front stopped: no model call after slice 7


def test_a_tiny_target_is_found():
    """A 3 x 3 pixel object next to larger, dimmer blobs (a random forest scores 0 there)."""
    truth = np.zeros((12, SIDE, SIDE), np.int32)
    truth[2:10, 30:33, 40:43] = 1
    image = _noisy(truth, seed=1, bright=160)
    image[:, _disk(15, 15, 8)] = 100
    image[:, _disk(50, 15, 6)] = 100
    support = np.where(np.arange(12)[:, None, None] == 5, truth, 0)
    result = propagate_volume(image, support)  # default method and design
    per_slice = [int(result[z].sum()) for z in range(12)]
    assert _dice(result, truth) > 0.8, per_slice
    assert all(per_slice[z] >= 5 for z in range(2, 10)), per_slice
    assert not result[[0, 1, 10, 11]].any(), per_slice


def test_several_labels_each_with_its_own_learner():
    truth = np.zeros((12, SIDE, SIDE), np.int32)
    truth[1:9][:, _disk(20, 20, 8)] = 1
    truth[3:12][:, _disk(44, 44, 6)] = 2
    image = _noisy(truth)
    image[truth == 2] = 100  # another intensity
    support = np.zeros_like(truth)
    support[5] = truth[5]
    support[9][truth[9] == 2] = 2
    result = propagate_volume(image, support)
    assert np.array_equal(result[[5, 9]], support[[5, 9]])  # the user's slices
    assert set(np.unique(result)) == {0, 1, 2}
    assert _dice(result == 1, truth == 1) > 0.85
    assert _dice(result == 2, truth == 2) > 0.85
    assert not (result[9:] == 1).any() and not (result[:3] == 2).any()  # each ends on its own


def _drifting() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thick slices: a disk of radius 6 moving 9 pixels per slice; support on slice 3."""
    truth = np.zeros((7, SIDE, SIDE), np.int32)
    for z in range(7):
        truth[z][_disk(32, 4 + 9 * z, 6)] = 1
    support = np.where(np.arange(7)[:, None, None] == 3, truth, 0)
    return _noisy(truth, seed=2), truth, support


def test_anisotropic_spacing_widens_the_prior_for_thick_slices():
    image, truth, support = _drifting()
    thick = propagate_volume(image, support, learner=FAST, spacing=(9.0, 1.0, 1.0))
    iso = propagate_volume(image, support, learner=FAST)
    assert _dice(thick, truth) > 0.95
    assert _dice(iso, truth) < _dice(thick, truth) - 0.1  # the spacing is used, not ignored
    # in napari's world units: a layer's scale reaches the learner through the API
    assert np.array_equal(ifss.propagate(image, support, learner=FAST, spacing=(4.5, 0.5, 0.5)),
                          thick)


def test_lazy_input_gives_the_same_result_and_features_stay_bounded():
    import dask.array as da

    image, truth, support = _drifting()
    expected = propagate_volume(image, support, learner=FAST, spacing=(9, 1, 1))
    lazy = propagate_volume(da.from_array(image, chunks=(1, SIDE, SIDE)), support,
                            learner=FAST, spacing=(9, 1, 1))
    assert np.array_equal(lazy, expected)

    seg = LearnerSegmenter(FAST, cache_size=4)
    seg.set_support([image[3]], [truth[3]], positions=[3])
    for z in range(7):
        seg.predict(image[z], position=z)
    assert len(seg._features._filters) <= 4  # memory flat in the number of slices


def test_the_head_stays_selectable(ending, monkeypatch):
    calls = []

    class Head:
        """Stand-in head: the first support mask everywhere."""

        def set_support(self, images, masks, positions=None, window=None):
            calls.append(("support", positions))
            self.mask = np.asarray(masks[0], np.float32)

        def predict(self, image, position=None, neighbour=None, key=None):
            calls.append(("predict", position))
            return self.mask

    monkeypatch.setattr(propagation.FewShotSegmenter, "default", lambda **_: Head())
    image, truth = ending
    support = np.where(np.arange(14)[:, None, None] == 3, truth, 0)
    result = propagate_volume(image, support, method="head")
    assert calls[0] == ("support", [3]) and len(calls) == 14
    assert all(np.array_equal(result[z], support[3]) for z in range(14))  # the head's output
    again = propagate_volume(image, support, segmenter=Head())  # a given model: the head path
    assert np.array_equal(again, result)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "forest"}, "method must be one of learner, head"),
    ({"method": "learner", "segmenter": object()}, "leave segmenter out"),
    ({"method": "head", "learner": FAST}, "needs method='learner'"),
    ({"spacing": (0, 1, 1)}, "spacing must be three positive numbers"),
    ({"spacing": (1, 1)}, "spacing must be three positive numbers"),
    ({"threshold": 1.5}, "threshold must lie in"),
])
def test_bad_method_options_are_refused_before_writing(ending, kwargs, message):
    image, truth = ending
    support = np.where(np.arange(14)[:, None, None] == 3, truth, 0)
    out = support.copy()
    with pytest.raises(InvalidInputError, match=message):
        propagate(image, support, out=out, **kwargs)
    assert np.array_equal(out, support)


@pytest.fixture()
def files(tmp_path, ending):
    image, truth = ending
    support = np.where(np.arange(14)[:, None, None] == 3, truth, 0).astype(np.uint16)
    tifffile.imwrite(tmp_path / "image.tif", image, imagej=True, resolution=(1.0, 1.0),
                     metadata={"spacing": 3.0, "unit": "um", "axes": "ZYX"})
    tifffile.imwrite(tmp_path / "support.tif", support)
    return tmp_path, image, support


def test_cli_uses_the_learner_with_the_image_spacing(files, capsys):
    from napari_ifss.core.io import read_layer

    root, image, support = files
    out = root / "out.tif"
    assert main(["propagate", str(root / "image.tif"), "--support", str(root / "support.tif"),
                 "--out", str(out), "-q"]) == 0
    scale = read_layer(root / "image.tif").scale
    assert scale == pytest.approx((3.0, 1.0, 1.0))
    result = read_layer(out, as_labels=True).data
    assert np.array_equal(result, propagate_volume(image, support, spacing=scale))
    assert not result[7:].any() and result[:7].any()
    # --weights belong to the head: refused with --method learner, nothing written
    new = root / "new.tif"
    assert main(["propagate", str(root / "image.tif"), "--support", str(root / "support.tif"),
                 "--out", str(new), "--weights", "x.safetensors", "--method", "learner",
                 "-q"]) == 1
    assert "use --method head" in capsys.readouterr().err and not new.exists()


def test_cli_method_head_runs_the_given_head(files, tiny_fewshot_weights):
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
    from napari_ifss.core.io import read_layer

    root, image, support = files
    click, head = tiny_fewshot_weights
    out = root / "head.tif"
    assert main(["propagate", str(root / "image.tif"), "--support", str(root / "support.tif"),
                 "--out", str(out), "--method", "head", "--weights", str(head),
                 "--click-weights", str(click), "-q"]) == 0
    expected = propagate_volume(image, support,
                                segmenter=FewShotSegmenter.from_checkpoint(head, click))
    assert np.array_equal(read_layer(out, as_labels=True).data, expected)
    implied = root / "implied.tif"  # --weights without --method: the head, as before
    assert main(["propagate", str(root / "image.tif"), "--support", str(root / "support.tif"),
                 "--out", str(implied), "--weights", str(head), "--click-weights", str(click),
                 "-q"]) == 0
    assert np.array_equal(read_layer(implied, as_labels=True).data, expected)


def test_cli_help_names_the_methods(capsys):
    with pytest.raises(SystemExit):
        main(["propagate", "--help"])
    text = capsys.readouterr().out
    assert "--method {learner,head}" in text and "learner (default)" in text
    with pytest.raises(SystemExit):
        main(["bench", "fewshot", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--protocol {lovo,dev}" in text and "lovo (default)" in text
    assert "NOT held out" in text


@pytest.mark.gui
def test_dock_method_box_and_a_learner_run_with_the_layer_scale(fewshot_docked, qtbot):
    image, truth, support = _drifting()
    viewer, layer, dock = fewshot_docked(image, support.copy(), None)
    viewer.layers["cells"].scale = (9.0, 1.0, 1.0)
    box = dock._method
    assert box.label == "method" and "learn from this image" in box.tooltip
    assert dock.method == "learner" and list(box.choices) == ["learner", "head"]

    from napari_ifss._napari import fewshot_plan

    runs = []
    real = fewshot_plan.propagate

    def spy(*args, **kwargs):
        runs.append(kwargs)
        return real(*args, **{**kwargs, "learner": FAST})

    fewshot_plan.propagate = spy
    try:
        dock.segmenter = object()  # no pretrained model needed for the learner run
        dock.quality.score = lambda *a, **k: None  # (its scores use the pretrained model)
        dock.propagate()
        qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    finally:
        fewshot_plan.propagate = real
    assert dock.status.startswith("done: 6/6 slices"), dock.status
    assert runs[0]["method"] == "learner" and runs[0]["spacing"] == (9.0, 1.0, 1.0)
    assert _dice(layer.data, truth) > 0.95  # the thick-slice prior reached the learner
