"""``napari_ifss.batch`` / ``ifss batch`` on a real 2-worker dask LocalCluster.

One cluster serves every test of this module (starting one costs seconds); the test that
kills a worker runs last. Volumes are 8 x 64 x 64 synthetic cells with one object annotated
on two slices, segmented by a tiny untrained model at a small network size, so each input
takes about a second of CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch
import zarr

import napari_ifss as ifss
from napari_ifss.cli import main
from napari_ifss.core.batch.batch_engine import batch
from napari_ifss.core.batch.batch_summary import read_summary
from napari_ifss.core.batch.batch_task import process_input
from napari_ifss.core.batch.batch_volume import open_volume
from napari_ifss.core.io import LayerData
from napari_ifss.core.quality.quality_volume import read_scores_csv

SPACING = {"a": (2.0, 0.5, 0.5), "b": (1.5, 0.4, 0.4), "c": (3.0, 0.25, 0.25)}
ORIGIN_B = (5.0, -2.0, 7.5)
FAST = {"network_side": (64, 128), "threads": 1, "progress": False}


def _volume(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic stack and one object's labels on slices 2 and 5."""
    image, truth = ifss.make_synthetic_cells((8, 64, 64), n_cells=4, seed=seed)
    label_id = int(np.bincount(truth[3].ravel())[1:].argmax() + 1)
    support = np.zeros(truth.shape, np.uint16)
    for z in (2, 5):
        support[z][truth[z] == label_id] = 1
    assert support[2].any() and support[5].any()
    return image, support


def _zarr(path, data, scale):
    arr = zarr.create_array(store=str(path), shape=data.shape, dtype=data.dtype,
                            chunks=(1, *data.shape[1:]), attributes={"scale": list(scale)})
    arr[:] = data


def _make_data(folder):
    """a.tif + a_labels.tif; b.nii.gz + its autosaved session; c.zarr + c_labels.zarr."""
    folder.mkdir()
    image, labels = _volume(0)
    ifss.save(folder / "a.tif", LayerData.from_array(image, "image", scale=SPACING["a"]))
    ifss.save(folder / "a_labels.tif", LayerData.from_array(labels, "labels",
                                                            scale=SPACING["a"]))
    image, labels = _volume(1)
    ifss.save(folder / "b.nii.gz", LayerData.from_array(image, "image", scale=SPACING["b"],
                                                        translate=ORIGIN_B))
    ifss.save_session(ifss.session_folder_for(folder / "b.nii.gz"), labels=labels,
                      image_name="b", image_shape=image.shape)
    image, labels = _volume(2)
    _zarr(folder / "c.zarr", image, SPACING["c"])
    _zarr(folder / "c_labels.zarr", labels, SPACING["c"])
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """``{"weights", "click_weights"}`` of a tiny untrained model."""
    from napari_ifss.models.fewshot_head import FewShotHead
    from napari_ifss.models.fewshot_weights import save_fewshot_head
    from napari_ifss.models.registry import build_click_net, save_click_net

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    click = save_click_net(build_click_net("nofeedback"), folder / "click.safetensors")
    head = save_fewshot_head(FewShotHead(), folder / "fewshot.safetensors", click)
    return {"weights": str(head), "click_weights": str(click)}


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster (processes, one thread each), shared by this module."""
    from distributed import Client

    from napari_ifss.core.batch.batch_cluster import start_local_cluster

    cluster = start_local_cluster(2)  # as `ifss batch --workers 2` starts it
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _make_data(tmp_path_factory.mktemp("batch") / "data")


def _statuses(report):
    return {r.name: r.status for r in report.results}


def test_propagate_mode_keeps_geometry_and_resumes(client, weights, data, tmp_path):
    out = tmp_path / "out"
    report = batch(data, "propagate", out=out, scheduler=client, **weights, **FAST)
    assert _statuses(report) == {"a": "done", "b": "done", "c": "done"}, report.results
    assert report.exit_code == 0
    assert sum(r.model_loaded for r in report.results) <= 2  # once per worker, not per task
    for name, source in (("a", data / "a.tif"), ("b", data / "b.nii.gz"),
                         ("c", data / "c.zarr")):
        result = ifss.open_image(out / f"{name}_seg.tif", as_labels=True)
        assert result.scale == pytest.approx(open_volume(source).geometry.scale)
        assert result.data.shape == (8, 64, 64)
        assert np.array_equal(result.data[2] != 0, _volume("abc".index(name))[1][2] != 0)
        rows = read_scores_csv(out / f"{name}_scores.csv")
        assert rows and {r[0] for r in rows}.isdisjoint({2, 5})  # user slices never scored
        manifest = json.loads((out / f"{name}.ifss-batch.json").read_text())
        assert len(manifest["key"]["input_sha256"]) == 64 and manifest["key"]["labels_sha256"]
    summary = read_summary(report.summary_csv)
    assert [r["status"] for r in summary] == ["done"] * 3
    assert all(0.0 <= float(r["mean_score"]) <= 1.0 for r in summary)
    assert json.loads(report.summary_json.read_text())["counts"] == {"done": 3}

    # unchanged: everything is skipped; the previous scores are reported again
    again = batch(data, "propagate", out=out, scheduler=client, **weights, **FAST)
    assert set(_statuses(again).values()) == {"skipped"}
    assert [r.mean_score for r in again.results] == pytest.approx(
        [r.mean_score for r in report.results])

    # edited annotations of one input: only that one is redone
    copy = shutil.copytree(data, tmp_path / "data")
    image, labels = _volume(0)
    labels[6] = labels[5]
    ifss.save(copy / "a_labels.tif", LayerData.from_array(labels, "labels",
                                                          scale=SPACING["a"]))
    edited = batch(copy, "propagate", out=out, scheduler=client, **weights, **FAST)
    assert _statuses(edited) == {"a": "done", "b": "skipped", "c": "skipped"}

    # other settings: redone; --overwrite: redone although current
    changed = batch(copy / "a.tif", "propagate", out=out, threshold=0.4, scheduler=client,
                    **weights, **FAST)
    assert _statuses(changed) == {"a": "done"}
    forced = batch(copy / "a.tif", "propagate", out=out, threshold=0.4, overwrite=True,
                   scheduler=client, **weights, **FAST)
    assert _statuses(forced) == {"a": "done"}


def test_apply_mode_writes_zarr_with_geometry(client, weights, data, tmp_path):
    out = tmp_path / "out"
    inputs = [data / "b.nii.gz", str(data / "c.*")]  # a path and a glob
    report = batch(inputs, "apply", support=data / "a.tif", out=out, ext=".zarr",
                   scheduler=client, **weights, **FAST)
    assert _statuses(report) == {"b": "done", "c": "done"}, report.results
    for name, source in (("b", data / "b.nii.gz"), ("c", data / "c.zarr")):
        result = open_volume(out / f"{name}_seg.zarr")
        geometry = open_volume(source).geometry
        assert result.geometry.scale == pytest.approx(geometry.scale)
        assert result.geometry.translate == pytest.approx(geometry.translate)
        values = np.unique(np.asarray(result.data[:]))
        assert set(values.tolist()) <= {0, 1}
        scored = read_scores_csv(out / f"{name}_scores.csv")
        assert len(scored) == report.results[0 if name == "b" else 1].scored
    assert open_volume(out / "b_seg.zarr").geometry.translate == pytest.approx(ORIGIN_B)
    manifest = json.loads((out / "b.ifss-batch.json").read_text())
    assert manifest["key"]["support_sha256"] and manifest["key"]["settings"]["mode"] == "apply"


def test_corrupt_input_fails_alone_with_its_error(client, weights, data, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(data / "a.tif", folder / "good.tif")
    shutil.copy(data / "a_labels.tif", folder / "good_labels.tif")
    (folder / "bad.tif").write_bytes(b"II*\x00" + os.urandom(300))
    shutil.copy(data / "a_labels.tif", folder / "bad_labels.tif")
    shutil.copy(data / "a.tif", folder / "orphan.tif")  # no labels at all
    out = tmp_path / "out"
    # the command's own LocalCluster (1 worker), not the shared one
    rc = main(["batch", "propagate", str(folder), "--out", str(out), "--workers", "1",
               "--threads", "1", "-q", "--weights", weights["weights"], "--click-weights",
               weights["click_weights"]])
    assert rc == 3  # some inputs failed
    rows = {r["name"]: r for r in read_summary(out / "batch_summary.csv")}
    assert rows["good"]["status"] == "done"
    assert rows["bad"]["status"] == "failed" and "bad.tif" in rows["bad"]["error"]
    assert rows["orphan"]["status"] == "failed" and "orphan_labels.tif" in rows["orphan"][
        "error"]
    assert not (out / "bad_seg.tif").exists() and not (out / "bad.ifss-batch.json").exists()
    err = capsys.readouterr().err
    assert "1 done, 2 failed" in err and "failed: " in err


def test_ctrl_c_cancels_and_keeps_finished_outputs(client, weights, data, tmp_path,
                                                   monkeypatch):
    import distributed

    out = tmp_path / "out"
    done = batch(data / "a.tif", "propagate", out=out, scheduler=client, **weights, **FAST)
    assert done.exit_code == 0

    real = distributed.as_completed

    def interrupted_after_one(futures):
        yield next(iter(real(futures)))
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "as_completed", interrupted_after_one)
    report = batch([data / "a.tif", data / "b.nii.gz", data / "c.zarr"], "propagate",
                   out=out, scheduler=client.scheduler.address, **weights, **FAST)
    assert report.interrupted and report.exit_code == 130
    assert report.count("cancelled") >= 1
    assert (out / "a_seg.tif").is_file() and (out / "a.ifss-batch.json").is_file()
    assert json.loads(report.summary_json.read_text())["interrupted"] is True


def _kill_worker_once(job, support=None):
    """``process_input`` whose first attempt kills its own worker after 3 slices were
    written into the (temporary) zarr output; later attempts run normally."""
    marker = job.settings.out_dir / f"{job.name}.killed-once"
    if marker.exists():
        return process_input(job, support)

    def kill(done, total):
        if done == 3:  # record the half-written temporary store, then die
            marker.write_text("\n".join(p.name for p in marker.parent.glob(".*.tmp")))
            os.kill(os.getpid(), signal.SIGKILL)

    return process_input(job, support, on_slice=kill)


def test_killed_worker_is_retried_and_leaves_nothing_half_written(client, weights, data,
                                                                  tmp_path):
    out = tmp_path / "out"
    report = batch(data / "c.zarr", "propagate", out=out, ext=".zarr", scheduler=client,
                   task=_kill_worker_once, **weights, **FAST)
    half_written = (out / "c.killed-once").read_text().split()  # the first attempt died
    assert half_written and half_written[0].startswith(".c_seg.zarr.")
    assert _statuses(report) == {"c": "done"}, report.results
    result = open_volume(out / "c_seg.zarr")
    assert result.data.shape == (8, 64, 64) and np.asarray(result.data[7]).shape == (64, 64)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
