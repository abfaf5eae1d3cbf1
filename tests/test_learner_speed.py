"""Speed pieces of the per-volume learner: the trunk stops after the deepest level needed, and
the speed section of ``ifss bench fewshot`` says where the time goes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.trunk_features import TrunkFeatures, TrunkPyramid
from napari_ifss.core.fewshot.volume_learner import LearnerConfig
from napari_ifss.eval.fewshot_report import speed_lines
from napari_ifss.eval.fewshot_resources import learner_speed_256, speed_stack

FAST = LearnerConfig(levels=(), samples=1000)  # filters only: no trunk


def test_a_truncated_trunk_gives_the_same_levels():
    full, four = TrunkPyramid("lite0"), TrunkPyramid("lite0", n_levels=4)
    four.trunk.load_state_dict(full.trunk.state_dict())
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    a, b = full(x), four(x)
    assert len(a) == 5 and len(b) == 4
    for la, lb in zip(a, b, strict=False):
        assert torch.equal(la, lb)
    with pytest.raises(InvalidInputError):
        TrunkPyramid("lite0", n_levels=0)


def test_trunk_features_compute_only_what_is_asked_and_refuse_deeper_levels():
    assert TrunkFeatures(("c2", "c4")).net.n_levels == 2
    assert TrunkFeatures(("c2",), deepest="c16").net.n_levels == 4
    shallow = TrunkFeatures(("c2", "c4"), min_side=64, max_side=64)
    image = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    assert shallow.pixel_features(image, None).shape == (40, 40, 16 + 24)
    with pytest.raises(InvalidInputError, match="deeper"):
        shallow.pixel_features(image, None, levels=("c2", "c16"))


def test_speed_stacks():
    image, gt = speed_stack("object", depth=6)
    assert image.shape == gt.shape == (6, 256, 256) and gt.all(axis=(1, 2)).sum() == 0
    assert gt.any(axis=(1, 2)).all()  # the object is on every slice
    with pytest.raises(ValueError):
        speed_stack("other")


def test_learner_speed_reports_stages():
    s = learner_speed_256(FAST, None, depth=6, target="object")
    assert s["target"] == "object" and s["prior"] == "soft" and s["predicted_slices"] == 4
    stages = s["stages_ms"]
    assert set(stages) == {"filter_features", "trunk_features", "fit_s", "predict", "prior",
                           "rest"}
    assert stages["filter_features"] > 0 and stages["trunk_features"] == 0  # no trunk here
    assert stages["predict"] > 0 and stages["prior"] > 0 and stages["fit_s"] > 0
    assert s["slices_per_s_after_encoding"] > s["slices_per_s_end_to_end"] > 0
    line = speed_lines("learner:x", {"object": s})[0]
    assert "object, prior soft" in line and "predict" in line


@pytest.mark.parametrize("kind", ["mlp", "logreg"])
@pytest.mark.parametrize(("shape", "levels"), [((70, 53), ("c2", "c4", "c8", "c16")),
                                               ((64, 64), ("c4",)), ((45, 61), ())])
def test_logits_from_parts_match_the_model_on_full_features(kind, shape, levels):
    """The fast path (first layer on the trunk's own grids, channels-last resizes, bias on the
    coarsest level) gives the model's own logits on the full-resolution features."""
    from dataclasses import replace

    from napari_ifss.core.fewshot.volume_learner import SliceFeatures, VolumeLearner
    from napari_ifss.core.normalize import IntensityWindow

    rng = np.random.default_rng(1)
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    gt = np.stack([np.hypot(rr - shape[0] / 2, cc - shape[1] / 2) < r for r in (12, 14, 16)])
    image = (60 + 100 * gt + rng.normal(0, 15, gt.shape)).astype(np.float32)
    cfg = replace(FAST, levels=levels, classifier=kind, min_side=64, max_side=96,
                  upsample_below=0, filters=True)
    trunk = TrunkFeatures(levels, min_side=64, max_side=96) if levels else None
    feats = SliceFeatures(image, IntensityWindow(0.0, 255.0), trunk)
    learner = VolumeLearner(feats, cfg).fit({0: gt[0], 2: gt[2]})
    fast = learner.logits(1)
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(feats.slice(1, cfg).reshape(fast.size, -1)))
        ref = learner.clf.model(x)[:, 0].reshape(shape).numpy()
    assert fast.shape == shape and fast.dtype == np.float32
    assert np.abs(fast - ref).max() < 1e-3 * max(1.0, float(np.abs(ref).max()))
    assert dice_like(fast > 0, gt[1]) > 0.8


def dice_like(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / max(1, int(a.sum() + b.sum()))


def test_propagate_without_refitting(monkeypatch):
    from napari_ifss.core.fewshot.volume_learner import SliceFeatures, VolumeLearner
    from napari_ifss.core.normalize import IntensityWindow

    image, gt = speed_stack("object", depth=5)
    learner = VolumeLearner(SliceFeatures(image, IntensityWindow(0.0, 255.0)), FAST)
    support = {2: gt[2]}
    learner.fit(support)
    calls = []
    monkeypatch.setattr(learner, "fit", lambda s: calls.append(s) or learner)
    once = [(z, m.copy()) for z, m, _ in learner.propagate(support, 5, fitted=True)]
    assert calls == [] and [z for z, _ in once] == [1, 3, 0, 4]
    list(learner.propagate(support, 5))
    assert len(calls) == 1
