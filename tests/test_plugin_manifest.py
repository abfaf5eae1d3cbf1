"""The npe2 manifest is valid and napari sees our readers, writers and sample data; the
adapters work in a real viewer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManager

from napari_ifss._napari.readers import get_reader
from napari_ifss._napari.sample_data import IMAGE_NAME, LABELS_NAME
from napari_ifss._napari.writers import layer_from_meta, write_image, write_labels
from napari_ifss.core.errors import ReadError
from napari_ifss.core.io import LayerData, read_layer, write_layer

PLUGIN = "napari-ifss"
SCALE = (2.5, 0.35, 0.4)
ORIGIN = (-3.2, 12.3, 0.7)


def test_npe2_validate_passes():
    npe2 = Path(sys.executable).with_name("npe2")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([str(npe2), "validate", PLUGIN], capture_output=True,
                            encoding="utf-8", errors="replace", timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_symlink_points_at_top_level_file():
    import napari_ifss

    link = Path(napari_ifss.__file__).parent / "napari.yaml"
    assert link.is_symlink() and link.resolve().read_text() == (
        Path(__file__).parents[1] / "napari.yaml").read_text()


def _assert_lists_our_contributions(pm: PluginManager) -> None:
    assert PLUGIN in {m.name for m in pm.iter_manifests()}
    for name in ("a.tif", "a.nii.gz", "a.mha", "a.mhd", "a.nrrd", "a.nii", "a.dcm"):
        assert PLUGIN in {r.plugin_name for r in pm.iter_compatible_readers([name])}, name
    for layer_type in ("labels", "image"):
        writers = [w for w in pm.iter_compatible_writers([layer_type])
                   if w.plugin_name == PLUGIN]
        assert writers, layer_type
        assert {".tif", ".nii.gz", ".mha", ".nrrd"} <= set(writers[0].filename_extensions)
    samples = dict(pm.iter_sample_data())
    assert "synthetic_cells" in {s.key for s in samples[PLUGIN]}


def test_installed_plugin_lists_readers_writers_and_sample():
    """A private plugin manager: discovering into napari's global one from a test leaves
    napari's registries in a state that crashes the interpreter at exit."""
    pm = PluginManager()
    pm.discover()
    _assert_lists_our_contributions(pm)


@pytest.mark.gui
def test_napari_lists_readers_writers_and_sample(make_napari_viewer):
    make_napari_viewer()  # napari discovers plugins on start-up
    _assert_lists_our_contributions(PluginManager.instance())


def test_get_reader_claims_only_our_files(tmp_path):
    assert get_reader(str(tmp_path / "a.png")) is None
    (tmp_path / "plain").mkdir()
    assert get_reader(str(tmp_path / "plain")) is None  # a folder without DICOM
    assert get_reader(str(tmp_path / "a.nrrd")) is not None


def test_reader_returns_layer_tuples_and_raises_clear_errors(tmp_path):
    data = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    write_layer(tmp_path / "cells_seg.nrrd", LayerData.from_array(data, "labels", "s", SCALE,
                                                                   ORIGIN))
    reader = get_reader(str(tmp_path / "cells_seg.nrrd"))
    [(arr, meta, kind)] = reader(str(tmp_path / "cells_seg.nrrd"))
    assert kind == "labels" and meta["name"] == "cells_seg"
    np.testing.assert_allclose(meta["scale"], SCALE)
    (tmp_path / "bad.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ReadError, match="bad.tif"):
        get_reader(str(tmp_path / "bad.tif"))(str(tmp_path / "bad.tif"))


def test_writer_functions_keep_geometry(tmp_path):
    labels = np.zeros((3, 4, 5), np.int64)
    labels[1, 2, 3] = 7
    meta = {"name": "l", "scale": np.array(SCALE), "translate": np.array(ORIGIN),
            "affine": np.eye(4), "rotate": np.eye(3), "shear": np.zeros(3)}
    paths = write_labels(str(tmp_path / "l.nii.gz"), labels, meta)
    assert paths == [str(tmp_path / "l.nii.gz")]
    back = read_layer(paths[0], as_labels=True)
    np.testing.assert_array_equal(back.data, labels)
    np.testing.assert_allclose(back.scale, SCALE, atol=1e-6)
    np.testing.assert_allclose(back.translate, ORIGIN, atol=1e-6)
    assert write_image(str(tmp_path / "i.mhd"), labels.astype(np.float32), meta)[1].endswith(
        ".zraw")


def test_layer_from_meta_turns_affine_flip_into_direction():
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    flip[1, 3], flip[2, 3] = 24.6, 1.4
    layer = layer_from_meta(np.zeros((3, 4, 5), np.uint8), "image",
                            {"scale": SCALE, "translate": ORIGIN, "affine": flip})
    np.testing.assert_allclose(layer.direction, np.diag([1.0, -1.0, -1.0]))
    np.testing.assert_allclose(layer.translate, (-3.2, 24.6 - 12.3, 1.4 - 0.7))


@pytest.mark.gui
def test_sample_opens_in_viewer_as_image_and_labels(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "synthetic_cells")
    assert [layer.name for layer in viewer.layers] == [IMAGE_NAME, LABELS_NAME]
    image, labels = viewer.layers
    assert type(image).__name__ == "Image" and type(labels).__name__ == "Labels"
    assert image.data.shape == labels.data.shape == (24, 192, 192)
    np.testing.assert_allclose(image.scale, (2.0, 0.5, 0.5))


@pytest.mark.gui
def test_viewer_open_and_save_through_plugin(make_napari_viewer, tmp_path):
    data = np.random.default_rng(0).integers(0, 500, (4, 6, 8)).astype(np.uint16)
    write_layer(tmp_path / "stack.ome.tif", LayerData.from_array(data, "image", "s", SCALE,
                                                                  ORIGIN))
    write_layer(tmp_path / "stack_labels.tif",
                LayerData.from_array((data > 250).astype(np.uint8), "labels", "l", SCALE, ORIGIN))
    viewer = make_napari_viewer()
    [image] = viewer.open(str(tmp_path / "stack.ome.tif"), plugin=PLUGIN)
    [labels] = viewer.open(str(tmp_path / "stack_labels.tif"), plugin=PLUGIN)
    assert type(image).__name__ == "Image" and type(labels).__name__ == "Labels"
    np.testing.assert_allclose(image.scale, SCALE, atol=1e-6)
    np.testing.assert_allclose(labels.translate, ORIGIN, atol=1e-6)
    saved = labels.save(str(tmp_path / "saved.nrrd"), plugin=PLUGIN)
    back = read_layer(saved[0], as_labels=True)
    np.testing.assert_array_equal(back.data, labels.data)
    np.testing.assert_allclose(back.scale, SCALE, atol=1e-6)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + bytes(100))  # TIFF magic, no content
    n_layers = len(viewer.layers)
    with pytest.raises(ReadError, match="broken.tif"):
        viewer.open(str(tmp_path / "broken.tif"), plugin=PLUGIN)
    assert len(viewer.layers) == n_layers


def test_writer_saves_level_zero_of_a_multiscale_layer(tmp_path):
    levels = [np.ones((8, 8), np.uint8), np.ones((4, 4), np.uint8)]
    [path] = write_image(str(tmp_path / "m.nrrd"), levels, {"multiscale": True, "name": "m"})
    assert read_layer(path).data.shape == (8, 8)
