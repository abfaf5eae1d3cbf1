"""`ifss bench interactive` end to end on a tiny fake data folder, aggregation and reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_ifss.cli import main
from napari_ifss.eval.interactive_bench import aggregate, summarize
from napari_ifss.eval.interactive_protocol import ObjectResult
from napari_ifss.eval.report import dumps, markdown_table, write_json
from test_eval_objects import make_fake_data


def _result(ious, method="m", split="s", predict_s=(0.01,), encode_s=0.1):
    return ObjectResult(method, "d/i/l", split, "d", 100, (10, 10), tuple(ious), (0.5, 0.7),
                        (), encode_s, tuple(predict_s), 20)


def test_cli_end_to_end_random_walker(tmp_path: Path):
    data = make_fake_data(tmp_path / "data")
    out = tmp_path / "out" / "bench.json"
    code = main(["bench", "interactive", "--data", str(data), "--methods", "random_walker",
                 "--json", str(out), "--max-clicks", "3", "--max-objects", "2",
                 "--splits", "nuclei,em", "--threads", "1"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["methods"] == ["random_walker"]
    assert "--max-objects 2" in report["command"] and report["machine"]["torch"]
    rows = {(r["split"], r["method"]): r for r in report["summary"]}
    assert set(rows) == {("nuclei", "random_walker"), ("em", "random_walker"),
                         ("all", "random_walker")}
    assert rows[("nuclei", "random_walker")]["objects"] == 2
    assert rows[("all", "random_walker")]["objects"] == 4
    assert len(report["objects"]) == 4
    assert all(1 <= o["noc@90"] <= 3 and len(o["ious"]) <= 3 for o in report["objects"])
    # easy synthetic blobs: the baseline segments them well
    assert rows[("nuclei", "random_walker")]["iou@1"] > 0.8
    md = out.with_suffix(".md").read_text()
    assert "| nuclei | random_walker |" in md and "NoC@90" in md and "ifss bench interactive" in md


def test_cli_bad_input(tmp_path: Path, capsys):
    assert main(["bench", "interactive", "--data", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["bench", "interactive", "--data", str(tmp_path / "empty"),
                 "--methods", "random_walker"]) == 1
    assert "no evaluation objects" in capsys.readouterr().err
    data = make_fake_data(tmp_path / "data")
    assert main(["bench", "interactive", "--data", str(data), "--methods", "magic"]) == 1
    assert "unknown method" in capsys.readouterr().err
    assert main(["bench", "interactive", "--data", str(data), "--methods", "magic+clicked"]) == 1
    assert "unknown method" in capsys.readouterr().err
    assert main(["bench", "interactive", "--data", str(data), "--methods", "random_walker",
                 "--splits", "natural"]) == 1
    assert "no objects for split" in capsys.readouterr().err
    assert main(["bench", "interactive", "--data", str(data), "--checkpoint", "nopath"]) == 1
    assert "NAME=PATH" in capsys.readouterr().err
    assert main(["bench", "interactive", "--data", str(data), "--methods", "",
                 "--checkpoint", f"mine={tmp_path / 'no.pt'}"]) == 1
    assert "not found" in capsys.readouterr().err


def test_aggregate_arithmetic():
    results = [
        _result([0.5, 0.86, 0.91], predict_s=(0.01, 0.02, 0.03)),
        _result([0.95] * 5, predict_s=(0.04,) * 5, encode_s=0.3),
        _result([0.2] * 20, predict_s=(0.01,) * 20),
    ]
    agg = aggregate(results, max_clicks=20)
    assert agg["objects"] == 3
    assert agg["noc@85"] == pytest.approx((2 + 1 + 20) / 3)
    assert agg["noc@90"] == pytest.approx((3 + 1 + 20) / 3)
    assert agg["nof20@90"] == 1
    assert agg["iou@1"] == pytest.approx((0.5 + 0.95 + 0.2) / 3)
    assert agg["iou@5"] == pytest.approx((0.91 + 0.95 + 0.2) / 3)  # short curve: last IoU stays
    assert agg["spc_ms"] == pytest.approx(1000 * (0.06 + 0.2 + 0.2) / 28)
    assert agg["encode_ms"] == pytest.approx(1000 * 0.5 / 3)
    rows = summarize([*results, _result([0.9], method="n", split="t")], 20)
    assert [(r["split"], r["method"], r["objects"]) for r in rows] == [
        ("s", "m", 3), ("t", "n", 1), ("all", "m", 3), ("all", "n", 1)]


def test_report_writers(tmp_path: Path):
    table = markdown_table([{"a": 1.23456, "b": "x"}, {"a": float("nan")}],
                           [("a", "A"), ("b", "B")], {"a": 3})
    assert table.splitlines() == ["| A | B |", "|---|---|", "| 1.235 | x |", "| - | - |"]
    path = write_json(tmp_path / "r" / "x.json",
                      {"v": np.float32(0.5), "n": float("nan"), "arr": np.arange(2)})
    assert json.loads(path.read_text()) == {"v": 0.5, "n": None, "arr": [0, 1]}
    payload = {"a": {"b": [1, 2]}, "objects": [{"x": [1, 2]}, {"y": None}]}
    text = dumps(payload, ["objects"])
    assert json.loads(text) == payload and '  {"x": [1, 2]},' in text.splitlines()


def test_module_ablation_methods_switch_the_shipped_fcfi():
    from napari_ifss.eval.interactive_bench import make_segmenter

    full = make_segmenter("fcfi", {})
    no_fusion = make_segmenter("fcfi-no-fusion", {})
    no_corr = make_segmenter("fcfi-no-correction", {})
    assert full.net.fusion_enabled and full.net.correction_enabled
    assert not no_fusion.net.fusion_enabled and no_fusion.net.correction_enabled
    assert not no_corr.net.correction_enabled and no_corr.net.fusion_enabled


def test_clicked_suffix_wraps_any_method():
    from napari_ifss.core.interactive.clicked_regions import ClickedRegions
    from napari_ifss.eval.interactive_bench import make_segmenter
    from napari_ifss.eval.random_walker import RandomWalkerSegmenter

    seg = make_segmenter("random_walker+clicked", {})
    assert isinstance(seg, ClickedRegions) and isinstance(seg.segmenter, RandomWalkerSegmenter)
    no_fusion = make_segmenter("fcfi-no-fusion+clicked", {})
    assert isinstance(no_fusion, ClickedRegions) and not no_fusion.net.fusion_enabled
