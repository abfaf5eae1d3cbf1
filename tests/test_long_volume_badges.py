"""Issue #20, items 8 and 9: badges on long volumes count distance in object widths, with the
voxel spacing, so correct slices far from the user's slices are not sent to "review"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.fewshot.support import evenly_spaced_slices
from napari_ifss.core.quality.quality import size_factor
from napari_ifss.core.quality.quality_volume import score_volume

SIDE = 64


def _tube(depth: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th slice of a ``depth``-slice bright tube (radius 8-13 px), uint16."""
    rr, cc = np.ogrid[0:SIDE, 0:SIDE]
    image, labels = [], []
    for z in range(0, depth, step):
        radius = SIDE * (0.12 + 0.08 * np.sin(np.pi * (z + 0.5) / depth))
        mask = np.hypot(rr - SIDE / 2, cc - SIDE / 2) < radius
        noise = np.random.default_rng(z).normal(0, 150, (SIDE, SIDE))
        image.append(np.clip(1000 + 1500 * mask + noise, 0, None).astype(np.uint16))
        labels.append(mask.astype(np.int32))
    return np.stack(image), np.stack(labels)


def _scores(image, truth, spacing, every):
    """Scores of every ``every``-th slice but the user's 3, the result being the truth: every
    slice is correct, only the distance to the user's slices varies."""
    support = evenly_spaced_slices(list(range(truth.shape[0])), 3)
    user = np.zeros_like(truth)
    user[support] = truth[support]
    scored = [z for z in range(0, truth.shape[0], every) if z not in support]
    return {e.z: e.score for e in score_volume(image, truth, user, 1, slices=scored,
                                              spacing=spacing)}


@pytest.fixture(scope="module")
def thin():
    """Scores on a 300-slice tube of thin (unit) slices."""
    torch.set_num_threads(1)
    return _scores(*_tube(300), (1.0, 1.0, 1.0), every=6)


def test_correct_slices_far_from_the_user_slices_are_not_sent_to_review(thin):
    scores = thin
    assert len(scores) == 49  # 0, 6, ..., 294 but the user slice 150
    review = [z for z, s in scores.items() if s.badge in ("review", "empty")]
    assert len(review) <= 0.2 * len(scores)
    # the score before issue #20 (distance in slices, scale 3) sent most of them to review
    old = [z for z, s in scores.items()
           if s.back_iou * size_factor(s.size_ratio) / (1 + s.distance / 3.0) < 0.10]
    assert len(old) > 0.4 * len(scores)


def test_the_same_object_sampled_in_thick_slices_gets_the_same_verdict(thin):
    """Spacing changes the result: 100 slices 3 thick are as far apart as 300 thin ones."""
    image, truth = _tube(300, step=3)
    thick = _scores(image, truth, (3.0, 1.0, 1.0), every=2)
    blind = _scores(image, truth, (1.0, 1.0, 1.0), every=2)  # thick, read without spacing
    far_thin = max(s.widths for s in thin.values())
    far_thick = max(s.widths for s in thick.values())
    assert far_thick == pytest.approx(far_thin, rel=0.1)
    assert max(s.widths for s in blind.values()) == pytest.approx(far_thick / 3, rel=1e-6)
    mean = {name: np.mean([s.score for s in t.values()])
            for name, t in (("thin", thin), ("thick", thick), ("blind", blind))}
    assert mean["thick"] == pytest.approx(mean["thin"], abs=0.05)
    assert mean["blind"] > mean["thick"] + 0.05  # ignoring the spacing trusts too much


def test_api_score_takes_the_voxel_size_of_a_layer_or_file(tmp_path):
    import napari_ifss as ifss
    from napari_ifss.core.io import LayerData

    image, truth = _tube(12)
    user = np.zeros_like(truth)
    user[6] = truth[6]
    spacing = (5.0, 1.0, 1.0)
    layer = LayerData.from_array(image, name="tube", scale=spacing)
    path = tmp_path / "tube.ome.tif"
    ifss.save(path, layer)

    def flat(scores):
        return {z: round(s.score, 6) for z, s in scores[1].items()}

    given = flat(ifss.score(image, truth, user, spacing=spacing))
    assert flat(ifss.score(layer, truth, user)) == given
    assert flat(ifss.score(str(path), truth, user)) == given
    bare = flat(ifss.score(image, truth, user))  # a bare array: unit spacing
    assert all(given[z] < bare[z] for z in given if bare[z] > 0)
