"""#20 (3): the few-shot head and the JFS quality score on an image with several channels:
each object is seen in the channel it stands out in on the user's own slices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import napari_ifss as ifss
from napari_ifss.core.channels import Channels
from napari_ifss.core.contrast import region_contrast, sampled_contrast
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.propagation import propagate
from napari_ifss.core.fewshot.support_channel import (
    channel_contrasts,
    channel_key,
    support_channel,
)
from napari_ifss.core.normalize import IntensityWindow


@pytest.fixture(scope="module")
def head() -> FewShotSegmenter:
    torch.set_num_threads(1)
    return FewShotSegmenter.default(device="cpu")


@pytest.fixture(scope="module")
def stack() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return noise_and_dim_cells()


def noise_and_dim_cells() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(noise, cells, support)`` ``(8, 48, 48)``: a noise channel, a dim cells channel (~8 %
    brightness) and one cell drawn on slice 2."""
    vol, truth = make_synthetic_cells((8, 48, 48), n_cells=4, seed=3)
    dim = (vol.astype(np.float32) * 0.08 + 50).astype(np.uint16)
    noise = np.random.default_rng(0).integers(0, 4000, vol.shape).astype(np.uint16)
    cell = int(np.bincount(truth[2].ravel())[1:].argmax() + 1)
    support = np.zeros(truth.shape, np.uint8)
    support[2][truth[2] == cell] = 1
    return noise, dim, support


def test_region_contrast():
    grey = np.zeros((40, 40), np.float32)
    grey[10:20, 10:20] = 1.0
    grey += np.random.default_rng(1).normal(0, 0.1, grey.shape).astype(np.float32)
    obj = np.zeros((40, 40), bool)
    obj[10:20, 10:20] = True
    sharp = region_contrast(grey, obj)
    assert sharp > 5
    assert region_contrast(grey * 7.0 + 3.0, obj) == pytest.approx(sharp, rel=1e-3)  # affine
    assert region_contrast(grey, np.roll(obj, 15, axis=0)) < 0.5 * sharp  # wrong place
    assert region_contrast(grey, np.zeros_like(obj)) == 0.0
    assert region_contrast(grey, np.ones_like(obj)) == 0.0  # no ring
    big = np.kron(grey, np.ones((20, 20), np.float32))
    assert sampled_contrast(big, np.kron(obj, np.ones((20, 20), bool))) == pytest.approx(
        sharp, rel=0.2)
    # a small object on a large slice keeps its pixels (no grid step across the slice)
    huge = np.zeros((6000, 6000), np.float32)
    huge[3000:3040, 3000:3040] = grey[:40, :40]
    small = np.zeros(huge.shape, bool)
    small[3010:3020, 3010:3020] = True
    assert sampled_contrast(huge, small) == pytest.approx(
        region_contrast(huge[2990:3040, 2990:3040], small[2990:3040, 2990:3040]))


def test_support_channel_is_where_the_object_stands_out(stack):
    noise, dim, support = stack
    mask = support[2] == 1
    shots = [Channels((noise[2], dim[2]))]
    wins = [IntensityWindow.from_data(noise), IntensityWindow.from_data(dim)]
    contrasts = channel_contrasts(shots, [mask], wins)
    assert contrasts[1] > 3 * contrasts[0]
    assert support_channel(shots, [mask], wins) == 1
    swapped = [Channels((dim[2], noise[2]))]
    assert support_channel(swapped, [mask], wins[::-1]) == 0
    assert channel_key("p", None) == "p" and channel_key("p", 1) == ("p", "channel", 1)


def test_head_and_score_with_channels_use_the_objects_channel(stack, head):
    noise, dim, support = stack
    alone = ifss.propagate(dim, support, method="head", segmenter=head)
    both = ifss.propagate([noise, dim], support, method="head", segmenter=head)
    np.testing.assert_array_equal(both, alone)
    assert (both == 1).sum() > (support == 1).sum()  # something was propagated
    axis = ifss.propagate(np.stack([dim, noise]), support, channel_axis=0, method="head",
                          segmenter=head)
    np.testing.assert_array_equal(axis, alone)
    s_alone = ifss.score(dim, alone, support=support, segmenter=head)
    s_both = ifss.score([noise, dim], alone, support=support, segmenter=head)
    assert s_both.keys() == s_alone.keys() == {1}
    assert {z: s.score for z, s in s_both[1].items()} == pytest.approx(
        {z: s.score for z, s in s_alone[1].items()})
    # the noise channel alone scores the same result lower: the choice matters
    s_noise = ifss.score(noise, alone, support=support, segmenter=head)
    assert np.mean([s.score for s in s_noise[1].values()]) < np.mean(
        [s.score for s in s_alone[1].values()])


def test_scoring_reuses_the_channels_encodings(stack, head):
    from napari_ifss.core.quality.quality_scan import score_labels

    noise, dim, support = stack
    out = support.copy()
    volume = Channels((noise, dim))
    for _ in propagate(volume, support, out=out, method="head", segmenter=head,
                       cache_prefix="run"):
        pass
    keys = {k[0] for k in head.slices._cache}
    assert (channel_key("run", 1), 5) in keys and not any(
        k[0] == channel_key("run", 0) for k in keys)
    calls = []
    original = head.slices.encode
    head.slices.encode = lambda *a, **kw: calls.append(1) or original(*a, **kw)
    try:
        events = list(score_labels(volume, out, support, segmenter=head, cache_prefix="run",
                                   slices=[4, 5]))
    finally:
        del head.slices.encode
    assert [e.z for e in events] == [4, 5]
    assert len(calls) == 1  # only the user's slice 2: the result slices were cached


def test_cli_scores_on_several_channels(stack, tmp_path, capsys):
    import tifffile

    from napari_ifss.cli import main

    noise, dim, support = stack
    image = tmp_path / "two.ome.tif"
    tifffile.imwrite(image, np.stack([noise, dim]), ome=True, metadata={"axes": "CZYX"})
    result = tmp_path / "result.tif"
    ifss.save(result, ifss.propagate([noise, dim], support))
    ifss.save(tmp_path / "support.tif", support)
    rows = {}
    for choice in ("all", "1"):
        csv = tmp_path / f"s{choice}.csv"
        assert main(["score", str(image), "--labels", str(result), "--support",
                     str(tmp_path / "support.tif"), "--csv", str(csv), "--channel", choice,
                     "--quiet"]) == 0
        rows[choice] = csv.read_text()
    assert rows["all"] == rows["1"] and rows["all"].count("\n") > 3
    assert "annotate next" in capsys.readouterr().err
