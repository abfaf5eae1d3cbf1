"""Paired differences with bootstrap intervals (``ifss bench interactive``'s comparison)."""

from __future__ import annotations

import pytest

from napari_ifss.eval.paired import paired_differences


def _objects(values: dict[str, list[float]], split: str = "em") -> list[dict]:
    return [{"method": m, "uid": f"o{i}", "split": split, "noc@90": v}
            for m, vs in values.items() for i, v in enumerate(vs)]


def test_a_constant_gap_has_a_zero_width_interval_and_groups_add_up():
    objs = _objects({"fcfi": [5, 7, 9, 11], "concat": [6, 8, 10, 12]})
    objs += _objects({"fcfi": [3, 3], "concat": [3, 3]}, split="nuclei")
    rows = {r["split"]: r for r in paired_differences(objs, "fcfi")}
    assert set(rows) == {"em", "nuclei", "all"}
    assert rows["em"]["mean"] == rows["em"]["lo"] == rows["em"]["hi"] == 1.0
    assert rows["nuclei"]["mean"] == 0.0 and rows["all"]["n"] == 6
    assert rows["all"]["mean"] == pytest.approx(4 / 6)


def test_a_noisy_gap_gets_an_interval_around_its_mean():
    objs = _objects({"fcfi": [10, 10, 10, 10, 10, 10], "concat": [8, 12, 7, 13, 10, 9]})
    (row, _all) = paired_differences(objs, "fcfi", seed=1)
    assert row["lo"] < row["mean"] < row["hi"] and row["lo"] < 0 < row["hi"]
    assert row["mean"] == pytest.approx(-1 / 6)


def test_objects_only_one_method_saw_are_left_out_and_missing_reference_is_empty():
    objs = _objects({"fcfi": [5, 5], "concat": [7]})
    rows = paired_differences(objs, "fcfi")
    assert all(r["n"] == 1 and r["mean"] == 2.0 for r in rows)
    assert paired_differences(objs, "watershed") == [] or all(
        r["method"] != "watershed" for r in paired_differences(objs, "watershed"))
    assert paired_differences(_objects({"concat": [1]}), "fcfi") == []


def test_interval_text_is_the_tables_mean_and_interval():
    import numpy as np

    from napari_ifss.eval.paired import interval_text, mean_interval

    values = [0.2, 0.5, 0.9, 0.4]
    lo, hi = mean_interval(values, 2000)
    assert interval_text(values) == f"{0.5:.3f} [{lo:.3f}, {hi:.3f}]"
    d = [-0.1, 0.2, 0.05]
    dlo, dhi = mean_interval(d, 2000)
    assert interval_text(d, signed=True) == f"{np.mean(d):+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
