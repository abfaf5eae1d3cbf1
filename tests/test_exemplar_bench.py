"""``ifss bench exemplar`` end to end on a tiny dsb2018-like folder, and its protocol parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.eval.exemplar_protocol import choose_exemplar, match_instances, robot_clicks
from napari_ifss.eval.random_walker import RandomWalkerSegmenter
from synthetic_dsb import write_dsb2018

torch.set_num_threads(1)


@pytest.fixture()
def dsb_root(tmp_path):
    """``2d/dsb2018`` with 3 val and 2 train images of synthetic cells (uint16 instance ids)."""
    root = tmp_path / "data"

    def rgb(img):
        grey = (255.0 * img / img.max()).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)

    val = write_dsb2018(root, [f"cells{i:02d}" for i in range(60)], 2, 3, 72, 7, 20, rgb)
    return root, val


def test_bench_cli_end_to_end(tmp_path, dsb_root):
    root, val = dsb_root
    out = tmp_path / "report" / "exemplar.json"
    code = main(["bench", "exemplar", "--data", str(root), "--json", str(out),
                 "--max-images", "2", "--click-objects", "2", "--max-clicks", "4"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "exemplar"
    assert report["command"].startswith("ifss bench exemplar --data")
    assert [r["item_id"] for r in report["images"]] == val[:2]  # val only, sorted, first N
    s = report["summary"]
    assert s["images"] == 2
    assert s["objects"] == sum(r["others"] for r in report["images"]) > 0
    assert 0 <= s["matched"] <= min(s["objects"], s["found"])
    assert 0.0 <= s["recall"] <= 1.0
    assert s["precision"] is None or 0.0 <= s["precision"] <= 1.0
    for r in report["images"]:
        assert r["clicked"] == min(2, r["others"])
        assert 1 <= r["exemplar_clicks"] <= 4
        # each object costs at most max_clicks either way; false positives one click each
        assert r["clicks_alone"] <= 4 * (r["others"] + 1)
        assert r["clicks_with"] <= 4 * (r["others"] + 1) + r["found"] - r["matched"]
    assert s["clicks_saved"] == pytest.approx(s["clicks_alone"] - s["clicks_with_exemplar"])
    assert report["settings"]["exemplar"]["ridge_rounds"] >= 1
    md = out.with_suffix(".md").read_text()
    assert md.splitlines()[2].startswith("Command: `ifss bench exemplar")
    assert "clicks saved" in md and val[0][:12] in md


def test_bench_refuses_a_folder_without_val_images(tmp_path):
    (tmp_path / "2d" / "dsb2018" / "images").mkdir(parents=True)
    assert main(["bench", "exemplar", "--data", str(tmp_path), "--json",
                 str(tmp_path / "x.json")]) == 1
    with pytest.raises(InvalidInputError):
        choose_exemplar(np.zeros((4, 4), int))


def test_matching_and_exemplar_choice():
    gt = np.zeros((10, 30), int)
    gt[2:8, 2:8], gt[2:8, 12:16], gt[2:8, 20:29] = 1, 2, 3  # areas 36, 24, 54
    assert choose_exemplar(gt) == 1  # closest to the median area
    pred = np.zeros_like(gt)
    pred[2:8, 2:7] = 5   # IoU 30/36 with 1
    pred[2:4, 12:16] = 6  # IoU 8/24 with 2: below 0.5
    pred[0:2, 0:2] = 7   # nothing
    matches = match_instances(gt, pred)
    assert matches == [(1, 5, pytest.approx(30 / 36))]
    assert match_instances(gt, np.zeros_like(gt)) == []


def test_robot_starts_from_a_given_mask():
    image, truth = make_synthetic_cells((64, 64), n_cells=4, seed=2)
    session = InteractiveSession(RandomWalkerSegmenter(max_side=64))
    session.set_image(image, key="img")
    gt = truth == 1
    assert robot_clicks(session, gt, start=gt) == 0  # already right: no click
    scratch = robot_clicks(session, gt, max_clicks=6)
    assert 1 <= scratch <= 6
    _, cols = np.nonzero(gt)
    half = gt.copy()
    half[:, int(np.median(cols)):] = False  # about half of the object
    assert 1 <= robot_clicks(session, gt, start=half, max_clicks=6) <= 6
