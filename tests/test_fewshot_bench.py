"""Baselines on a synthetic volume and ``ifss bench fewshot`` end to end on a tiny data folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.fewshot_baselines import ForestSegmenter, copy_nearest, filter_features
from napari_ifss.eval.metrics import dice
from synthetic_dsb import write_dsb2018


def test_copy_nearest_picks_the_nearest_support():
    a, b = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    support = {2: a, 8: b}
    assert not copy_nearest(support, 0).any()
    assert not copy_nearest(support, 5).any()  # tie -> lower z
    assert copy_nearest(support, 6).all()
    with pytest.raises(InvalidInputError):
        copy_nearest({}, 3)


def test_forest_learns_cells_from_two_slices():
    image, labels = make_synthetic_cells((10, 64, 64), n_cells=12, seed=4)
    gt = labels > 0
    rf = ForestSegmenter(n_estimators=10, samples_per_class=1500)
    with pytest.raises(InvalidInputError):
        rf.predict(filter_features(image[0]))
    rf.fit([filter_features(image[z]) for z in (2, 7)], [gt[2], gt[7]])
    pred = rf.predict(filter_features(image[5]))
    assert pred.shape == (64, 64) and pred.dtype == bool
    assert dice(pred, gt[5]) > 0.7
    with pytest.raises(InvalidInputError, match="both"):
        rf.fit([filter_features(image[2])], [np.ones((64, 64), bool)])


@pytest.fixture()
def data_dir(tiny_volume_root, tiny_fewshot_weights):
    root = tiny_volume_root
    write_dsb2018(root, [f"img{i}" for i in range(40)], 3, 2, 48, 5, 10,
                  lambda img: (img // 256).astype(np.uint8))
    return (root, *tiny_fewshot_weights)


def test_bench_cli_end_to_end(tmp_path, data_dir):
    root, click, head = data_dir
    out = tmp_path / "report" / "fewshot.json"
    code = main(["bench", "fewshot", "--protocol", "dev", "--data", str(root), "--json", str(out),
                 "--weights", str(head), "--click-weights", str(click), "--k", "1", "2",
                 "--rf-trees", "5", "--no-speed", "--no-memory", "--max-queries", "2"])
    assert code == 0
    report = json.loads(out.read_text())
    assert [r["k"] for r in report["summary_3d"]] == [1, 2]
    assert len(report["volumes"]) == 2  # cells3d*: all nuclei as one object, x 2 Ks
    case = report["volumes"][0]
    assert set(case["methods"]) == {"fewshot", "copy_nearest", "random_forest"}
    assert len(case["methods"]["fewshot"]["dice_per_slice"]) == case["n_eval"]
    assert 0.0 <= case["methods"]["random_forest"]["dice_volume"] <= 1.0
    assert {s["set"] for s in report["sets_2d"]} == {"dsb2018/48x48grey"}
    assert report["protocol"] == "dev" and report["held_out"].startswith("no")
    md = out.with_suffix(".md").read_text()
    assert "few-shot" in md and "copy nearest" in md and "NOT held out" in md
