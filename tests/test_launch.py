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


def test_display_problem_names_what_to_do():
    from napari_ifss._napari.launch import display_problem

    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None
    missing = display_problem({}, "linux")
    assert "ssh -X" in missing and "xvfb-run" in missing and "ifss --help" in missing
    assert "offscreen" in display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
                                          "linux")


def test_ifss_view_without_display_is_a_clear_error(monkeypatch, capsys):
    from napari_ifss.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["view"]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "Traceback" not in err


def test_launch_script_without_display_says_what_to_do(tmp_path):
    """The README's first command on a machine without a screen: a plain message, exit 2, no
    Qt abort (the installed .venv is reused, nothing is reinstalled)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is for Linux")
    root = Path(__file__).resolve().parents[1]
    if not (root / ".venv" / ".ifss-stamp").is_file():
        pytest.skip("needs the project's .venv (made by scripts/setup_env.sh)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["IFSS_SKIP_SYSTEM_PACKAGES"] = "1"
    done = subprocess.run(["bash", str(root / "scripts" / "launch.sh")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "no display" in done.stderr and "ssh -X" in done.stderr
