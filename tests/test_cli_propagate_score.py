"""``ifss propagate`` and ``ifss score`` as a shell user runs them."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.fewshot.propagation import propagate_volume
from napari_ifss.core.io import read_layer
from napari_ifss.core.quality.quality_volume import read_scores_csv


@pytest.fixture()
def files(tmp_path):
    """image.tif (with z spacing 2), support_labels.tif (one object on slices 2 and 7)."""
    image, truth = make_synthetic_cells((10, 48, 48), n_cells=5, seed=4)
    label_id = int(np.bincount(truth[2].ravel())[1:].argmax() + 1)
    support = np.zeros_like(truth, dtype=np.uint16)
    for z in (2, 7):
        support[z][truth[z] == label_id] = label_id
    tifffile.imwrite(tmp_path / "image.tif", image, imagej=True, resolution=(2.0, 2.0),
                     metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    tifffile.imwrite(tmp_path / "support_labels.tif", support)
    return tmp_path, image, support, label_id


def test_propagate_writes_labels_with_the_image_geometry(files, capsys):
    root, image, support, _ = files
    out = root / "result_labels.tif"
    rc = main(["propagate", str(root / "image.tif"), "--support",
               str(root / "support_labels.tif"), "--out", str(out), "--threads", "1"])
    assert rc == 0
    result = read_layer(out, as_labels=True)
    scale = read_layer(root / "image.tif").scale  # the per-volume learner honours it
    assert np.array_equal(result.data, propagate_volume(image, support, spacing=scale))
    assert result.scale == pytest.approx(scale)
    err = capsys.readouterr().err
    assert "propagate" in err and "100%" in err  # the progress bar
    assert f"wrote {out}" in err


def test_propagate_refuses_to_overwrite_and_bad_arguments(files, capsys):
    root, *_ = files
    image, support = str(root / "image.tif"), str(root / "support_labels.tif")
    out = root / "taken.tif"
    out.write_bytes(b"keep me")
    assert main(["propagate", image, "--support", support, "--out", str(out), "-q"]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    new = str(root / "new.tif")
    assert main(["propagate", image, "--support", support, "--out", new, "--slices", "3:99"]) == 1
    assert "indices must lie in 0..9" in capsys.readouterr().err
    assert main(["propagate", image, "--support", str(root / "no.tif"), "--out", new]) == 1
    assert "no such file" in capsys.readouterr().err
    tifffile.imwrite(root / "small_labels.tif", np.zeros((4, 48, 48), np.uint16),
                     photometric="minisblack")
    assert main(["propagate", image, "--support", str(root / "small_labels.tif"),
                 "--out", new]) == 1
    assert "has shape (4, 48, 48)" in capsys.readouterr().err
    assert not (root / "new.tif").exists()
    with pytest.raises(SystemExit) as exc:
        main(["propagate", image, "--out", new])  # --support missing: usage error
    assert exc.value.code == 2


def test_propagate_checks_the_output_extension_before_any_work(files, capsys, monkeypatch):
    """#15 (10): a bad --out extension was refused only after the whole propagation."""
    import napari_ifss.api as api

    def no_work(*args, **kwargs):
        raise AssertionError("propagation started before the arguments were checked")

    monkeypatch.setattr(api, "propagate", no_work)
    root, *_ = files
    image, support = str(root / "image.tif"), str(root / "support_labels.tif")
    assert main(["propagate", image, "--support", support, "--out",
                 str(root / "result.xyz")]) == 1
    err = capsys.readouterr().err
    assert ".xyz" in err and "Traceback" not in err and "AssertionError" not in err
    assert not (root / "result.xyz").exists()


@pytest.mark.parametrize("command", ["propagate", "score"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "--support" in capsys.readouterr().out


def test_score_writes_csv_and_names_the_slice_to_annotate_next(files, capsys):
    root, image, support, label_id = files
    tifffile.imwrite(root / "result_labels.tif", propagate_volume(image, support))
    args = ["score", str(root / "image.tif"), "--labels", str(root / "result_labels.tif"),
            "--support", str(root / "support_labels.tif"), "--threads", "1"]
    assert main([*args, "--csv", str(root / "q.csv")]) == 0
    rows = read_scores_csv(root / "q.csv")
    assert rows and {i for _, i, _, _ in rows} == {label_id}
    assert not {z for z, *_ in rows} & {2, 7}  # the user's slices are evidence, not scored
    err = capsys.readouterr().err
    from napari_ifss.core.quality.quality import QualityScore
    from napari_ifss.core.quality.quality_volume import next_slice

    table = {z: QualityScore(s, b, (), "", float(z)) for z, _, s, b in rows}
    assert f"annotate next: slice {next_slice(table, [2, 7])} (label {label_id}" in err
    assert main([*args, "-q"]) == 0  # no --csv: rows on standard output
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "slice,label_id,score,badge" and len(out) == len(rows) + 1


def test_propagate_refuses_a_nifti_of_nan(tmp_path, capsys):
    """#15: SimpleITK reads a NIfTI full of NaN as one value; no blob may be invented."""
    import SimpleITK as sitk

    image = tmp_path / "blank.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((6, 20, 20), np.nan, np.float32)), str(image))
    labels = np.zeros((6, 20, 20), np.uint16)
    labels[2, 5:12, 5:12] = 1
    support = tmp_path / "support.tif"
    tifffile.imwrite(support, labels)
    out = tmp_path / "out.tif"
    assert main(["propagate", str(image), "--support", str(support), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert ("same value" in err or "NaN" in err) and "Traceback" not in err
    assert not out.exists()


class _InterruptingSegmenter:
    """A few-shot stand-in: a slice "encodes" as itself, the back-prediction is the result
    mask itself; Ctrl+C (KeyboardInterrupt) arrives while judging slice ``after + 1``."""

    def __init__(self, after: int) -> None:
        self.after, self.judged = after, 0

    def encode(self, image, key=None, window=None):
        return np.asarray(image)

    def summarize(self, support, mask, seed=0):
        if self.judged == self.after:
            raise KeyboardInterrupt
        self.judged += 1
        return np.asarray(mask, bool)

    def predict_encoded(self, query, supports, weights, prior=None):
        return supports[0].astype(np.float32)


def test_score_interrupted_keeps_the_rows_scored_so_far(files, capsys, monkeypatch):
    """#15 (11): Ctrl+C during ``ifss score`` writes the rows so far (atomically) and says
    how many slices were scored."""
    import napari_ifss.cli.score as score_command

    root, image, support, label_id = files
    truth = make_synthetic_cells((10, 48, 48), n_cells=5, seed=4)[1]
    result = np.where(truth == label_id, label_id, 0).astype(np.uint16)
    result[[2, 7]] = support[[2, 7]]
    tifffile.imwrite(root / "result_labels.tif", result)
    stub = _InterruptingSegmenter(after=3)
    monkeypatch.setattr(score_command, "load_segmenter", lambda args: stub)
    csv = root / "q.csv"
    rc = main(["score", str(root / "image.tif"), "--labels", str(root / "result_labels.tif"),
               "--support", str(root / "support_labels.tif"), "--csv", str(csv), "-q"])
    assert rc == 130
    rows = read_scores_csv(csv)
    judged = [r for r in rows if r[3] != "empty"]
    assert len(judged) == 3 and stub.judged == 3
    assert all(0.0 < r[2] <= 1.0 for r in judged)  # the result mask, predicted back
    zs = [z for z, *_ in rows]
    assert zs == sorted(zs) and not set(zs) & {2, 7}
    err = capsys.readouterr().err
    from napari_ifss.core.quality.quality_volume import plan_scoring

    total = plan_scoring(image, result, support).total
    assert total > len(rows)
    assert f"interrupted: {len(rows)} of {total} slices scored" in err, err
    assert f"written to {csv}" in err
    assert sorted(p.name for p in root.iterdir()) == [
        "image.tif", "q.csv", "result_labels.tif", "support_labels.tif"]  # nothing half-written

    # without --csv the rows so far go to standard output
    rc = main(["score", str(root / "image.tif"), "--labels", str(root / "result_labels.tif"),
               "--support", str(root / "support_labels.tif"), "-q"])
    out = capsys.readouterr()
    assert rc == 130 and "interrupted: " in out.err
    assert out.out.splitlines()[0] == "slice,label_id,score,badge"


def test_window_option_is_checked_first_and_reaches_the_models(files, capsys, monkeypatch):
    """#20 (7): --window LOW,HIGH or a CT preset for ifss propagate and ifss score."""
    import napari_ifss.api as api
    from napari_ifss.core.normalize import CT_PRESETS, IntensityWindow

    root, *_ = files
    image, support = str(root / "image.tif"), str(root / "support_labels.tif")
    for bad, message in (("5,1", "low < high"), ("a,b", "LOW,HIGH"), ("liver", "preset")):
        assert main(["propagate", image, "--support", support, "--out",
                     str(root / "x.tif"), "--window", bad]) == 1
        assert message in capsys.readouterr().err
    assert not (root / "x.tif").exists()
    seen = {}

    def fake_propagate(*args, window=None, **kwargs):
        seen["propagate"] = window
        return np.asarray(args[1])

    def fake_score(*args, window=None, **kwargs):
        seen["score"] = window
        return {}

    monkeypatch.setattr(api, "propagate", fake_propagate)
    monkeypatch.setattr(api, "score", fake_score)
    assert main(["propagate", image, "--support", support, "--out", str(root / "y.tif"),
                 "--window=-160,240", "-q"]) == 0
    main(["score", image, "--labels", support, "--support", support, "--window", "lung", "-q"])
    assert seen == {"propagate": IntensityWindow(-160.0, 240.0),
                    "score": IntensityWindow(*CT_PRESETS["lung"])}
