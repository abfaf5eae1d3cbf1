"""`ifss bench interactive --first-prompt box`: the robot drags a jittered box as prompt 1,
then corrects with clicks; methods without box prompts are skipped, not crashed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_ifss.cli import main
from napari_ifss.core.data.data_layout import detect_layout
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.clicker import Clicker, robot_box
from napari_ifss.eval.interactive_protocol import run_object
from napari_ifss.eval.objects import collect_objects
from napari_ifss.eval.watershed import WatershedSegmenter
from test_bench_folder import _disk, _write_folder


def test_robot_box_is_the_jittered_bounding_box_and_repeatable():
    gt = _disk((30, 20), 10)
    rows, cols = np.nonzero(gt)
    tight = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
    slack = 0.1 * (rows.max() + 1 - rows.min())
    box = robot_box(gt, seed=0, uid="a")
    assert box == robot_box(gt, seed=0, uid="a")
    assert box != robot_box(gt, seed=1, uid="a")
    # each side within 10% of the box size of the tight box, not the tight box itself
    sides = (box.row0, box.col0, box.row1, box.col1)
    assert all(abs(g - t) <= slack + 1e-9 for g, t in zip(sides, tight, strict=True))
    assert sides != tuple(float(t) for t in tight)
    with pytest.raises(InvalidInputError):
        robot_box(np.zeros((8, 8), bool), seed=0)


def test_clicker_after_a_box_corrects_instead_of_clicking_the_centre():
    gt = _disk((32, 32), 12)
    pred = gt.copy()
    pred[:, 32:] = False  # the right half was missed
    click = Clicker(gt).click(pred, after_box=True)
    assert click is not None and click.positive and click.col >= 32
    assert Clicker(gt).click(pred).col == 32  # without a box: the centre


def test_a_method_without_box_prompts_is_refused_by_the_protocol(tmp_path: Path):
    folder = _write_folder(tmp_path / "f", {"a": _disk().astype(np.uint8)})
    obj = next(iter(collect_objects(detect_layout(folder), subset="all").values()))[0]
    with pytest.raises(InvalidInputError, match="box"):
        run_object(WatershedSegmenter(), obj, "watershed", 3, first_prompt="box")


def test_bench_box_first_records_the_box_as_prompt_one(tmp_path: Path):
    masks = {f"img{k}": _disk((24 + 4 * k, 30), 10).astype(np.uint8) for k in range(3)}
    folder = _write_folder(tmp_path / "cells", masks)
    out = tmp_path / "box.json"
    code = main(["bench", "interactive", "--data", str(folder), "--methods",
                 "concat,watershed", "--first-prompt", "box", "--split", "all",
                 "--max-clicks", "3", "--threads", "1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["first_prompt"] == "box"
    assert "watershed" in report["settings"]["skipped"]
    assert {o["method"] for o in report["objects"]} == {"concat"}
    for o in report["objects"]:
        assert o["first_prompt"] == "box" and len(o["box"]) == 4
        assert len(o["clicks"]) == len(o["ious"]) - 1  # prompt 1 was the box, not a click
    concat = next(r for r in report["summary"] if r["method"] == "concat")
    assert concat["iou@1"] > 0
    assert "--first-prompt box" in report["command"]
    md = out.with_suffix(".md").read_text()
    assert "First prompt: a box" in md and "watershed: skipped" in md
