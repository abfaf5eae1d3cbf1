"""Batch runs without a cluster: which inputs and labels are found, settings, manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_ifss.core.batch.batch_inputs import find_inputs, find_labels, input_stem, output_names
from napari_ifss.core.batch.batch_manifest import Outputs, completed, finish, start
from napari_ifss.core.batch.batch_settings import BatchSettings, InputJob, ModelSpec
from napari_ifss.core.batch.batch_task import process_input
from napari_ifss.core.errors import InvalidInputError, UnsupportedFormatError, WriteError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zarr":
        path.mkdir()
    else:
        path.write_bytes(b"")
    return path


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "data"
    for name in ("a.tif", "a_labels.tif", "b.nii.gz", "c.zarr", "c_labels.zarr",
                 ".hidden.tif", "notes.txt", "z.ome.tif", "z.ome.tif.ifss/session.json"):
        _touch(d / name)
    return d


def test_a_folder_gives_its_images_not_labels_sessions_or_hidden_files(folder):
    assert [p.name for p in find_inputs([folder])] == ["a.tif", "b.nii.gz", "c.zarr",
                                                       "z.ome.tif"]
    assert [p.name for p in find_inputs([str(folder / "*.tif")])] == ["a.tif", "z.ome.tif"]
    assert [p.name for p in find_inputs([folder / "a.tif", folder, str(folder / "a*")])] == [
        "a.tif", "b.nii.gz", "c.zarr", "z.ome.tif"]  # each input once, first order kept


def test_a_list_file_names_paths_relative_to_itself(folder):
    listing = folder / "list.txt"
    listing.write_text("# my stacks\n\na.tif\n  sub/missing.tif \n/abs/x.nrrd\n")
    found = find_inputs([listing])
    assert found == [folder / "a.tif", folder / "sub" / "missing.tif", Path("/abs/x.nrrd")]


def test_inputs_that_would_collide_or_nothing_at_all_are_refused(folder, tmp_path):
    _touch(tmp_path / "other" / "a.nii.gz")
    with pytest.raises(InvalidInputError, match="both write outputs named 'a'"):
        output_names(find_inputs([folder / "a.tif", tmp_path / "other"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="no images in this folder"):
        find_inputs([tmp_path / "empty"])
    with pytest.raises(InvalidInputError, match="matches no image"):
        find_inputs([str(tmp_path / "*.nrrd")])
    assert input_stem("x/cells.ome.tif") == "cells" and input_stem("y.zarr") == "y"
    assert input_stem("dicom_series") == "dicom_series"


def test_labels_naming_rule(folder, tmp_path):
    assert find_labels(folder / "a.tif") == folder / "a_labels.tif"
    assert find_labels(folder / "c.zarr") == folder / "c_labels.zarr"
    assert find_labels(folder / "z.ome.tif") == folder / "z.ome.tif.ifss"  # the session
    with pytest.raises(InvalidInputError, match=r"expected .*b_labels\.tif .*b\.nii\.gz\.ifss"):
        find_labels(folder / "b.nii.gz")
    _touch(folder / "a_labels.nrrd")
    with pytest.raises(InvalidInputError, match="several labels files"):
        find_labels(folder / "a.tif")
    _touch(tmp_path / "labels" / "b_seg.mha")
    assert find_labels(folder / "b.nii.gz", tmp_path / "labels", "_seg") == (
        tmp_path / "labels" / "b_seg.mha")


def test_settings_are_checked_before_any_work(tmp_path):
    with pytest.raises(UnsupportedFormatError, match=r"\.zarr"):
        BatchSettings("propagate", tmp_path, ext=".png").check()
    with pytest.raises(InvalidInputError, match="--support IMAGE"):
        BatchSettings("apply", tmp_path).check()
    with pytest.raises(InvalidInputError, match="apply mode"):
        BatchSettings("propagate", tmp_path, support=tmp_path / "x.tif").check()
    with pytest.raises(InvalidInputError, match="threshold"):
        BatchSettings("propagate", tmp_path, threshold=1.0).check()
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="is a file"):
        BatchSettings("propagate", tmp_path / "file").check()
    BatchSettings("propagate", tmp_path / "new" / "out", ext=".zarr").check()
    assert (tmp_path / "new" / "out").is_dir()
    with pytest.raises(InvalidInputError, match="not found"):
        ModelSpec(weights=str(tmp_path / "nope.safetensors")).files()


def test_manifest_vouches_only_for_complete_outputs_of_the_same_key(tmp_path):
    outputs = Outputs.of(tmp_path, "x", ".tif")
    key = {"input_sha256": "ab", "settings": {"threshold": 0.5}}
    for p in (outputs.labels, outputs.scores):
        p.write_text("x")
    finish(outputs, key, {"mean_score": 0.4, "scored": 3, "flagged_slices": [2]})
    assert completed(outputs, key)["mean_score"] == 0.4
    assert completed(outputs, {**key, "input_sha256": "cd"}) is None
    outputs.scores.unlink()
    assert completed(outputs, key) is None
    outputs.scores.write_text("x")
    outputs.manifest.write_text("{not json")
    assert completed(outputs, key) is None
    stale = tmp_path / ".x_seg.tif.abc123.tmp"
    stale.mkdir()
    start(outputs)
    assert not stale.exists() and not outputs.manifest.exists()
    assert json.loads(json.dumps(key)) == key


def test_an_input_without_labels_fails_its_own_row(tmp_path):
    tifffile.imwrite(tmp_path / "lonely.tif", np.zeros((8, 16, 16), np.uint16))
    settings = BatchSettings("propagate", tmp_path / "out")
    settings.check()
    result = process_input(InputJob(tmp_path / "lonely.tif", "lonely", settings, {}))
    assert result.status == "failed" and "lonely_labels.tif" in result.error
    assert result.worker.startswith("pid ")
    assert not any((tmp_path / "out").iterdir())
