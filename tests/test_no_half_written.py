"""No half-written output: checks run before the first write, and a failure while writing
leaves either the old file or an exact record of what was written.

* ``propagate(volume, labels, out=...)``: an in-memory volume with NaN anywhere the run reads is
  refused before anything is written; a lazy (dask) volume is checked slice by slice, and a
  bad slice midway raises :class:`PartialWriteError` naming the failed slice and the slices
  already written (with their provenance record; a zarr ``out`` keeps it in its attrs).
* ``ifss propagate`` / ``ifss score`` check their output path before the work and write it
  atomically; ``write_layer`` and the score CSV appear whole or not at all.
"""

from __future__ import annotations

import errno
import os

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

import napari_ifss
from napari_ifss.cli import main
from napari_ifss.core.errors import InvalidInputError, WriteError
from napari_ifss.core.fewshot.propagation import propagate
from napari_ifss.core.fewshot.volume_io import PartialWriteError, window_slices
from napari_ifss.core.io import LayerData, write_layer
from napari_ifss.core.provenance import RECORD_KEY, record_from_json, user_labels
from napari_ifss.core.quality.quality import QualityScore
from napari_ifss.core.quality.quality_volume import read_scores_csv, scores_to_csv

DEPTH = 30


class PriorSegmenter:
    """Stand-in model: predicts the neighbour prior (else the first support mask)."""

    def set_support(self, images, masks, positions=None, window=None):
        self.first = np.asarray(masks[0], np.float32)

    def predict(self, image, position=None, neighbour=None, key=None):
        assert np.isfinite(np.asarray(image)).all(), "the model never sees NaN"
        return np.asarray(self.first if neighbour is None else neighbour, np.float32)


def _unsampled_slice() -> int:
    """A slice the intensity sampler skips (the case of the bug report)."""
    sampled = window_slices(np.zeros((DEPTH, 1, 1)))
    return next(z for z in range(10, DEPTH) if z not in sampled)


@pytest.fixture()
def case():
    """``(volume with NaN in one unsampled slice, labels drawn on slice 5, that slice)``."""
    rng = np.random.default_rng(0)
    volume = rng.random((DEPTH, 16, 16)).astype(np.float32)
    bad = _unsampled_slice()
    volume[bad, 3, 4] = np.nan
    labels = np.zeros(volume.shape, np.uint16)
    labels[5, 4:10, 4:10] = 1
    return volume, labels, bad


def _zarr_like(labels, tmp_path, name="out.zarr"):
    out = zarr.open_array(str(tmp_path / name), mode="w", shape=labels.shape,
                          chunks=(1, *labels.shape[1:]), dtype=labels.dtype)
    out[:] = labels
    return out


# -- propagation: in-memory volumes are refused before the first write -----------------
@pytest.mark.parametrize("out_kind", ["numpy", "zarr", "labels itself"])
def test_nan_in_memory_volume_is_refused_before_anything_is_written(case, tmp_path, out_kind):
    volume, labels, bad = case
    before = labels.copy()
    out = {"numpy": labels.copy(), "labels itself": labels,
           "zarr": _zarr_like(labels, tmp_path)}[out_kind]
    with pytest.raises(InvalidInputError, match=rf"slice {bad} of the volume contains NaN") as e:
        napari_ifss.propagate(volume, labels, out=out, segmenter=PriorSegmenter())
    assert "np.nan_to_num" in str(e.value)
    assert not isinstance(e.value, PartialWriteError)
    np.testing.assert_array_equal(np.asarray(out[:]), before)
    with pytest.raises(InvalidInputError, match=f"slice {bad}"):  # the core call, eagerly
        propagate(volume, labels, out=out, segmenter=PriorSegmenter())


def test_nan_outside_the_slices_a_run_reads_does_not_matter(case):
    volume, labels, bad = case
    result = napari_ifss.propagate(volume, labels, slices=range(0, 9),
                                   segmenter=PriorSegmenter())
    assert result[bad].sum() == 0 and result[6].sum() > 0


# -- propagation: lazy volumes leave an exact record ---------------------------------------
def test_lazy_volume_failing_midway_names_written_and_failed_slices(case, tmp_path):
    volume, labels, bad = case
    lazy = da.from_array(volume, chunks=(1, 16, 16))
    out = _zarr_like(labels, tmp_path)
    with pytest.raises(PartialWriteError) as e:
        napari_ifss.propagate(lazy, labels, out=out, segmenter=PriorSegmenter())
    err = e.value
    result = np.asarray(out[:])
    changed = sorted(int(z) for z in np.flatnonzero((result != labels).any(axis=(1, 2))))
    assert err.failed_slice == bad
    assert sorted(err.written[1]) == changed and bad not in changed  # exact, nothing else
    # fronts run nearest-first (ties: lower z), so exactly the slices before `bad` in that order
    assert changed == [z for z in range(DEPTH) if z != 5 and (abs(z - 5), z) < (bad - 5, bad)]
    message = str(err)
    assert f"slice {bad} of the volume contains NaN" in message and "np.nan_to_num" in message
    assert f"stopped at slice {bad}" in message
    assert f"already written to out: slices 0-4, 6-{bad - 1} (label 1)" in message
    # the provenance record, in the exception and in the zarr array's attributes
    assert sorted(err.record) == changed
    kept = record_from_json(dict(out.attrs[RECORD_KEY]))
    assert kept == err.record
    user, stale = user_labels(kept, result)
    assert stale == changed and np.array_equal(user, labels)  # a rerun sees only slice 5


def test_lazy_volume_with_numpy_out_and_the_core_generator(case):
    volume, labels, bad = case
    out = labels.copy()
    events = propagate(da.from_array(volume, chunks=(1, 16, 16)), labels, out=out,
                       segmenter=PriorSegmenter())
    seen = []
    with pytest.raises(PartialWriteError) as e:
        for event in events:
            seen.append(event.z)
    assert sorted(seen) == sorted(e.value.written[1])
    assert e.value.failed_slice == bad


@pytest.mark.parametrize("where", ["window sample", "second label's support"])
def test_lazy_volume_checks_what_it_reads_before_the_first_write(case, tmp_path, where):
    volume, labels, _ = case
    volume = np.nan_to_num(volume)
    labels[20, 2:6, 2:6] = 2
    bad = window_slices(volume)[3] if where == "window sample" else 20
    volume[bad] = np.inf
    out = _zarr_like(labels, tmp_path)
    with pytest.raises(InvalidInputError, match=f"slice {bad} of the volume") as e:
        napari_ifss.propagate(da.from_array(volume, chunks=(1, 16, 16)), labels, out=out,
                              segmenter=PriorSegmenter())
    assert not isinstance(e.value, PartialWriteError)
    np.testing.assert_array_equal(np.asarray(out[:]), labels)


def test_outs_that_cannot_take_the_result_are_refused_up_front(case, tmp_path):
    volume, labels, _ = case
    volume = np.nan_to_num(volume)
    big = labels.astype(np.uint16) * 300
    small = np.zeros(labels.shape, np.uint8)
    with pytest.raises(InvalidInputError, match="label id 300 does not fit out's dtype uint8"):
        napari_ifss.propagate(volume, big, out=small, segmenter=PriorSegmenter())
    assert not small.any()
    frozen = labels.copy()
    frozen.flags.writeable = False
    with pytest.raises(InvalidInputError, match="read-only"):
        napari_ifss.propagate(volume, labels, out=frozen, segmenter=PriorSegmenter())
    _zarr_like(labels, tmp_path, "ro.zarr")
    read_only = zarr.open_array(str(tmp_path / "ro.zarr"), mode="r")
    with pytest.raises(InvalidInputError, match="read-only"):
        napari_ifss.propagate(volume, labels, out=read_only, segmenter=PriorSegmenter())
    for dtype in ("complex64", "object"):
        with pytest.raises(InvalidInputError, match="intensities"):
            napari_ifss.propagate(volume.astype(dtype), labels, segmenter=PriorSegmenter())
        with pytest.raises(InvalidInputError, match="intensities"):
            napari_ifss.score(volume.astype(dtype), labels, labels, segmenter=PriorSegmenter())


# -- files: atomic writes ------------------------------------------------------------------
def _no_leftovers(folder) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def _failing_after(n_bytes: int):
    """A tifffile.imwrite that writes ``n_bytes`` of junk, then fails as a full disk would."""
    def imwrite(path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"\0" * n_bytes)
        raise OSError(errno.ENOSPC, "No space left on device")
    return imwrite


@pytest.mark.parametrize("ext", [".tif", ".nrrd", ".mhd"])
def test_write_layer_replaces_whole_or_not_at_all(tmp_path, monkeypatch, ext):
    path = tmp_path / f"labels{ext}"
    old = LayerData.from_array(np.ones((3, 4, 5), np.uint8), "labels")
    write_layer(path, old)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    new = LayerData.from_array(np.full((3, 4, 5), 2, np.uint8), "labels")
    if ext == ".tif":
        monkeypatch.setattr("napari_ifss.core.io.tiff.tifffile.imwrite", _failing_after(100))
    else:
        def fail(image, path, useCompression=False):
            with open(path, "wb") as fh:
                fh.write(b"NRRD0004\n")
            raise RuntimeError("ITK ERROR: could not write: disk full")
        monkeypatch.setattr("napari_ifss.core.io.itk.sitk.WriteImage", fail)
    with pytest.raises(WriteError, match="could not write"):
        write_layer(path, new)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    _no_leftovers(tmp_path)


def test_scores_csv_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "q.csv"
    path.write_text("old\n")
    good = QualityScore(0.9, "good", (), "", 0.0)
    rows = [type("E", (), {"z": z, "label_id": 1, "score": good})() for z in range(5)]

    class Broken:
        def __init__(self, fh):
            self.n = 0

        def writerow(self, row):
            self.n += 1
            if self.n == 3:
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("napari_ifss.core.quality.quality_volume.csv.writer", Broken)
    with pytest.raises(WriteError, match="No space left"):
        scores_to_csv(rows, path)
    assert path.read_text() == "old\n"
    _no_leftovers(tmp_path)
    monkeypatch.undo()
    scores_to_csv(rows, path)
    assert [r[0] for r in read_scores_csv(path)] == list(range(5))


# -- the commands: output checked before the work, written atomically -----------------------
@pytest.fixture()
def inputs(tmp_path, monkeypatch):
    """Image and support files, and a command line whose model and propagation are stubs
    (only the output handling is under test here)."""
    image = np.random.default_rng(1).random((4, 16, 16)).astype(np.float32)
    support = np.zeros(image.shape, np.uint16)
    support[1, 4:9, 4:9] = 1
    tifffile.imwrite(tmp_path / "image.tif", image, photometric="minisblack")
    tifffile.imwrite(tmp_path / "support_labels.tif", support, photometric="minisblack")
    calls = []
    monkeypatch.setattr("napari_ifss.cli.propagate.load_segmenter",
                        lambda args: calls.append("model"))
    monkeypatch.setattr("napari_ifss.cli.score.load_segmenter",
                        lambda args: calls.append("model"))
    monkeypatch.setattr("napari_ifss.api.propagate", lambda image, labels, *a, **k: (
        calls.append("propagate"), np.asarray(labels) * 1)[1])
    score = QualityScore(0.2, "review", (), "", 2.0)
    monkeypatch.setattr("napari_ifss.api.score",
                        lambda *a, **k: (calls.append("score"), {1: {0: score, 2: score}})[1])
    return tmp_path, calls


def _run(args, capsys) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ifss: error:") and "\n" not in err and "Traceback" not in err
    return err


def _propagate_args(root, out):
    return ["propagate", str(root / "image.tif"), "--support", str(root / "support_labels.tif"),
            "--out", str(out), "-q"]


@pytest.mark.parametrize(("out", "words"), [
    ("result.png", "cannot write '.png'"), ("result", "cannot write '(no extension)'"),
    ("missing/result.tif", "does not exist"), (".", "is a folder"),
])
def test_propagate_checks_out_before_the_work(inputs, capsys, out, words):
    root, calls = inputs
    assert words in _run(_propagate_args(root, root / out), capsys)
    assert calls == [], "refused before reading the image, loading the model or propagating"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write anywhere")
def test_propagate_refuses_an_unwritable_folder_before_the_work(inputs, capsys):
    root, calls = inputs
    locked = root / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert "no permission" in _run(_propagate_args(root, locked / "r.tif"), capsys)
    finally:
        locked.chmod(0o700)
    assert calls == []


def test_propagate_failing_while_writing_keeps_the_old_output(inputs, capsys, monkeypatch):
    root, calls = inputs
    out = root / "result_labels.tif"
    out.write_bytes(b"previous result")
    monkeypatch.setattr("napari_ifss.core.io.tiff.tifffile.imwrite", _failing_after(1000))
    err = _run([*_propagate_args(root, out), "--overwrite", "--method", "head"], capsys)
    assert "No space left on device" in err and calls == ["model", "propagate"]
    assert out.read_bytes() == b"previous result"
    _no_leftovers(root)


def test_propagate_writes_its_output_whole(inputs, capsys):
    root, _ = inputs
    assert main(_propagate_args(root, root / "result_labels.nii.gz")) == 0
    written = napari_ifss.open_image(root / "result_labels.nii.gz", as_labels=True)
    assert written.data[1].sum() == 25
    _no_leftovers(root)


def _score_args(root, csv):
    return ["score", str(root / "image.tif"), "--labels", str(root / "support_labels.tif"),
            "--support", str(root / "support_labels.tif"), "--csv", str(csv), "-q"]


def test_score_checks_the_csv_path_before_the_work(inputs, capsys):
    root, calls = inputs
    assert "does not exist" in _run(_score_args(root, root / "no" / "q.csv"), capsys)
    assert "is a folder" in _run(_score_args(root, root), capsys)
    (root / "q.csv").write_text("mine")
    assert "exists; pass --overwrite" in _run(_score_args(root, root / "q.csv"), capsys)
    assert calls == [] and (root / "q.csv").read_text() == "mine"


def test_score_failing_while_writing_keeps_the_old_csv(inputs, capsys, monkeypatch):
    root, calls = inputs
    csv_path = root / "q.csv"
    csv_path.write_text("previous scores\n")

    def broken_writer(fh):
        class W:
            def writerow(self, row):
                fh.write("half,")
                if row[0] == 2:
                    raise OSError(errno.ENOSPC, "No space left on device")
        return W()

    monkeypatch.setattr("napari_ifss.core.quality.quality_volume.csv.writer", broken_writer)
    err = _run([*_score_args(root, csv_path), "--overwrite"], capsys)
    assert "No space left on device" in err and "score" in calls
    assert csv_path.read_text() == "previous scores\n"
    _no_leftovers(root)
