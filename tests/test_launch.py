"""``open_viewer``: the part of ``ifss view`` before napari's event loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from napari_ifss._napari import launch as launch_mod
from napari_ifss._napari.launch import manifest_widget_names, open_viewer
from napari_ifss.core.errors import ReadError, UnsupportedFormatError
from napari_ifss.core.io import LayerData, write_layer

pytestmark = pytest.mark.gui


def test_manifest_widget_names_match_napari_yaml():
    manifest = yaml.safe_load((Path(__file__).parents[1] / "napari.yaml").read_text())
    expected = [w["display_name"] for w in manifest["contributions"].get("widgets") or []]
    assert manifest_widget_names() == expected


def test_open_viewer_with_sample_docks_every_manifest_widget(make_napari_viewer, monkeypatch):
    viewer = make_napari_viewer()
    docked = []
    monkeypatch.setattr(launch_mod, "manifest_widget_names", lambda: ["Interactive", "Few-shot"])
    monkeypatch.setattr(viewer.window, "add_plugin_dock_widget",
                        lambda plugin, name: docked.append((plugin, name)))
    assert open_viewer(viewer=viewer) is viewer
    assert docked == [("napari-ifss", "Interactive"), ("napari-ifss", "Few-shot")]
    assert [type(layer).__name__ for layer in viewer.layers] == ["Image", "Labels"]


def test_open_viewer_real_docks(make_napari_viewer):
    """With the real manifest every contributed widget ends up docked."""
    viewer = make_napari_viewer()
    open_viewer(viewer=viewer, sample=False)
    docks = set(viewer.window.dock_widgets)  # names as napari shows them
    for name in manifest_widget_names():
        assert any(name in dock for dock in docks), (name, docks)
    assert "synthetic cells" not in [layer.name for layer in viewer.layers]


def test_open_viewer_with_files_uses_our_reader(make_napari_viewer, tmp_path):
    data = np.ones((3, 8, 9), np.uint16)
    write_layer(tmp_path / "vol.nrrd", LayerData.from_array(data, "image", "v", (3.0, 0.5, 0.5),
                                                             (1.0, 2.0, 3.0)))
    write_layer(tmp_path / "vol_mask.nii.gz", LayerData.from_array(data.astype(np.uint8),
                                                                    "labels", "m",
                                                                    (3.0, 0.5, 0.5)))
    viewer = open_viewer([str(tmp_path / "vol.nrrd"), str(tmp_path / "vol_mask.nii.gz")],
                         viewer=make_napari_viewer())
    names = [layer.name for layer in viewer.layers]
    assert names[:2] == ["vol", "vol_mask"] and "synthetic cells" not in names  # no sample
    assert type(viewer.layers["vol_mask"]).__name__ == "Labels"
    np.testing.assert_allclose(viewer.layers["vol"].translate, (1.0, 2.0, 3.0))


def test_bad_paths_fail_before_a_viewer_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_mod.napari, "Viewer", lambda **kw: pytest.fail("viewer created"))
    with pytest.raises(ReadError, match="missing.nrrd"):
        open_viewer([str(tmp_path / "missing.nrrd")])
    (tmp_path / "photo.png").write_bytes(b"png")
    with pytest.raises(UnsupportedFormatError, match=r"\.png"):
        open_viewer([str(tmp_path / "photo.png")])
