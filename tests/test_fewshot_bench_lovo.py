"""``ifss bench fewshot --protocol lovo`` on a tiny synthetic data folder, and its pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.fewshot_designs import DESIGNS, design
from napari_ifss.eval.fewshot_protocol import HEAD_NOT_HELD_OUT, ending_objects, quantile_slices
from napari_ifss.eval.fewshot_report import main as merge_main


def test_quantile_support_rule():
    assert quantile_slices(list(range(10, 21)), 1) == [15]
    assert quantile_slices(list(range(0, 30)), 2) == [10, 19]
    assert quantile_slices(list(range(0, 13)), 3) == [3, 6, 9]
    assert quantile_slices([8, 9, 10], 3) == [8, 9, 10]  # every slice: nothing left to score
    assert quantile_slices([2, 3, 9], 1) == [3]  # moved to the nearest slice with the object
    assert quantile_slices([4], 2) == [4]


def test_design_specs():
    assert design("both_mlp_soft") == DESIGNS["both_mlp_soft"]
    cfg = design("both_mlp_soft:margin=5,levels=c2+c4,filters=false,prior=gate")
    assert cfg.margin == 5.0 and cfg.levels == ("c2", "c4") and not cfg.filters
    assert cfg.prior == "gate"
    with pytest.raises(InvalidInputError):
        design("nope")
    with pytest.raises(InvalidInputError):
        design("both_mlp_soft:colour=red")


def test_ending_objects():
    labels = np.zeros((6, 8, 8), np.int32)
    labels[1:4, :4, :4] = 1  # ends inside at both ends, 48 voxels
    labels[0:6, 5:, 5:] = 2  # spans every slice
    assert [o for o, _ in ending_objects("x", labels, min_voxels=10)] == ["label1"]
    assert ending_objects("x", labels, min_voxels=100) == []
    assert ending_objects("isbi2012_em", labels, min_voxels=10) == []


@pytest.fixture()
def lovo_root(tmp_path):
    """Two synthetic volumes: cells (one object: all nuclei) and a label map of two ids."""
    root = tmp_path / "data"
    for name, seed in (("cells3d_tiny", 5), ("organs_tiny", 6)):
        vol = root / "3d" / name
        vol.mkdir(parents=True)
        image, labels = make_synthetic_cells((10, 40, 40), n_cells=6, seed=seed)
        if name == "organs_tiny":
            keep = np.unique(labels[labels > 0])[:2]
            labels = np.where(np.isin(labels, keep), labels, 0)
        tifffile.imwrite(vol / "image.tif", image)
        tifffile.imwrite(vol / "labels.tif", labels.astype(np.int32))
    return root


def test_lovo_bench_scores_every_volume(tmp_path, lovo_root):
    out = tmp_path / "report" / "lovo.json"
    code = main(["bench", "fewshot", "--data", str(lovo_root),  # lovo is the default
                 "--json", str(out), "--k", "1", "2", "--rf-trees", "5", "--no-speed",
                 "--learners", "filters_mlp_soft:samples=800",
                 "filters_mlp_soft:samples=800,prior=none"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["protocol"] == "lovo" and report["head"] is None
    volumes = {c["dataset"] for c in report["volumes"]}
    assert volumes == {"cells3d_tiny", "organs_tiny"}
    names = {"copy_nearest", "random_forest", "learner:filters_mlp_soft:samples=800",
             "learner:filters_mlp_soft:samples=800,prior=none"}
    for case in report["volumes"]:
        assert set(case["methods"]) == names  # the shipped head only with --head
        assert HEAD_NOT_HELD_OUT not in case["methods"]
        assert len(case["support"]) == case["k"]
        assert case["n_eval"] == case["shape"][0] - case["k"]
        for scores in case["methods"].values():
            assert 0.0 <= scores["dice_volume"] <= 1.0 and 0.0 <= scores["dice_zrange"] <= 1.0
    assert [r["k"] for r in report["summary"]["means"]] == [1, 2]
    paired = report["summary"]["paired"]
    assert {r["reference"] for r in paired} == {"copy_nearest", "random_forest"}
    assert all(r["lo"] <= r["mean"] <= r["hi"] for r in paired)
    assert {r["k"] for r in paired} == {"1", "2", "all"}
    md = out.with_suffix(".md").read_text()
    assert "leave-one-volume-out" in md and "95 % interval" in md
    merged = tmp_path / "merged.json"
    assert merge_main(["merge", str(out), "--json", str(merged)]) == 0
    again = json.loads(merged.read_text())
    assert len(again["volumes"]) == len(report["volumes"])
    assert again["summary"]["means"] == report["summary"]["means"]


def test_exclude_volumes_leaves_a_volume_out_of_the_head_pool(tiny_volume_root):
    import torch

    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
    from napari_ifss.models.fewshot_head import FewShotHead
    from napari_ifss.models.registry import build_click_net
    from napari_ifss.train.fewshot_pool import build_pool

    torch.manual_seed(0)
    seg = FewShotSegmenter(FewShotHead(), build_click_net("nofeedback").encoder, device="cpu",
                           min_side=64, max_side=64)
    logs: list[str] = []
    kept = build_pool(seg, tiny_volume_root, n_synthetic=0, log=logs.append)
    left = build_pool(seg, tiny_volume_root, n_synthetic=0, log=logs.append,
                      exclude_volumes=("cells3d_tiny",))
    assert any(g.name.startswith("cells3d_tiny") for g in kept.groups)
    assert not left.groups and len(left.deep) == 0
    assert "left out volume cells3d_tiny" in logs


def test_lovo_head_is_labelled_not_held_out(tmp_path, tiny_volume_root, tiny_fewshot_weights):
    click, head = tiny_fewshot_weights
    out = tmp_path / "lovo_head.json"
    assert main(["bench", "fewshot", "--protocol", "lovo", "--data", str(tiny_volume_root),
                 "--json", str(out), "--k", "1", "--rf-trees", "3", "--no-speed", "--head",
                 "--weights", str(head), "--click-weights", str(click),
                 "--learners", "filters_mlp_soft:samples=500"]) == 0
    report = json.loads(out.read_text())
    assert HEAD_NOT_HELD_OUT in report["volumes"][0]["methods"]
    assert HEAD_NOT_HELD_OUT in report["head"]
    assert "Not a held-out number" in out.with_suffix(".md").read_text()


def test_summarize_2d_means_wins_and_pairs():
    from napari_ifss.eval.fewshot_report import summarize_2d

    sets = [{"set": "a", "k": 1, "n_queries": 2, "queries": ["q1", "q2"],
             "random_forest": 0.5, "random_forest_per_image": [0.4, 0.6],
             "learner": 0.7, "learner_per_image": [0.6, 0.8]},
            {"set": "b", "k": 1, "n_queries": 1, "queries": ["q3"],
             "random_forest": 0.9, "random_forest_per_image": [0.9],
             "learner": 0.6, "learner_per_image": [0.6]}]
    summ = summarize_2d(sets, [1], ["random_forest", "learner"])
    assert summ["means"] == [{"k": 1, "sets": 2, "queries": 3, "random_forest": 0.7,
                              "learner": pytest.approx(0.65)}]
    assert summ["wins"] == [{"k": 1, "method": "learner", "sets": 2, "won": 1}]
    rows = {(r["over"], r["k"]): r for r in summ["paired"]}
    assert rows[("sets", "1")]["n"] == 2
    assert rows[("sets", "1")]["mean"] == pytest.approx(-0.05)
    assert rows[("query images", "all")]["n"] == 3
    assert rows[("query images", "all")]["mean"] == pytest.approx((0.2 + 0.2 - 0.3) / 3)


def test_lovo_2d_table(tmp_path):
    """``--2d --no-3d``: the learner and the forest on cross-image sets, nothing else."""
    from synthetic_dsb import write_dsb2018

    root = tmp_path / "data"
    write_dsb2018(root, [f"img{i}" for i in range(40)], 2, 2, 48, 5, 10,
                  lambda img: (img // 256).astype(np.uint8))
    out = tmp_path / "lovo2d.json"
    assert main(["bench", "fewshot", "--data", str(root), "--json", str(out), "--k", "1", "2",
                 "--rf-trees", "5", "--no-speed", "--2d", "--no-3d",
                 "--learners", "filters_mlp_soft:samples=500"]) == 0
    report = json.loads(out.read_text())
    assert report["volumes"] == []
    learner = "learner:filters_mlp_soft:samples=500"
    assert [(s["set"], s["k"]) for s in report["sets_2d"]] == [("dsb2018/48x48grey", 1),
                                                              ("dsb2018/48x48grey", 2)]
    for s in report["sets_2d"]:
        assert s["n_queries"] == len(s["queries"]) == len(s[f"{learner}_per_image"]) == 2
        assert s[learner] == pytest.approx(np.mean(s[f"{learner}_per_image"]))
        assert s[learner] > 0.6 and s["random_forest"] > 0.6  # bright synthetic nuclei
    means = report["summary_2d"]["means"]
    assert [m["k"] for m in means] == [1, 2] and learner in means[0]
    assert {r["over"] for r in report["summary_2d"]["paired"]} == {"sets", "query images"}
    md = out.with_suffix(".md").read_text()
    assert "2D cross-image" in md and "Per object" not in md
