"""Open napari with napari-ifss: data (files or the synthetic sample) plus every dock widget
the plugin's manifest contributes. ``ifss view`` and ``scripts/launch.sh`` end up here."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import napari
from npe2 import PluginManifest

from ..core.errors import NotReadyError, ReadError
from ..core.io import read_format

PLUGIN = "napari-ifss"
SAMPLE_KEY = "synthetic_cells"


def manifest_widget_names() -> list[str]:
    """Display names of the dock widgets in napari-ifss's manifest (in manifest order).

    Read from the installed distribution, so it works before napari has discovered plugins
    and does not touch napari's global plugin registry.
    """
    manifest = PluginManifest.from_distribution(PLUGIN)
    return [w.display_name for w in (manifest.contributions.widgets or [])]


def open_viewer(
    files: Sequence[str] = (), sample: bool = True, viewer: napari.Viewer | None = None,
    show: bool = True,
) -> napari.Viewer:
    """Create (or fill) a viewer: open ``files`` with our reader, else the sample when
    ``sample``; dock all of the plugin's widgets. Does not start the event loop.

    Raises:
        ReadError, UnsupportedFormatError: a missing file or unknown extension (checked before
            the viewer is created) or a file that cannot be read (message names the file).
    """
    check_paths(files)
    own = viewer is None
    viewer = viewer if viewer is not None else napari.Viewer(show=show)
    try:
        for path in files:
            viewer.open(path, plugin=PLUGIN)
    except Exception:
        if own:  # the command fails: no window is left behind
            viewer.close()
        raise
    if sample and not files:
        viewer.open_sample(PLUGIN, SAMPLE_KEY)
    for name in manifest_widget_names():
        viewer.window.add_plugin_dock_widget(PLUGIN, name)
    return viewer


def check_paths(files: Sequence[str]) -> None:
    """Fail before any window opens when a path is missing or not a format we read.

    Raises:
        ReadError: a path that does not exist.
        UnsupportedFormatError: an extension napari-ifss does not read.
    """
    for path in files:
        read_format(path)
        if not Path(path).exists():
            raise ReadError(f"{path}: no such file or folder")


NO_DISPLAY = (
    "no display to open napari's window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
    "On a remote machine connect with `ssh -X` (or use a remote desktop); on a headless "
    "machine use the Python API or the command line instead (`ifss --help`), or run napari "
    "inside a virtual display for screenshots: `xvfb-run -a ifss view`")


def display_problem(env: Mapping[str, str] | None = None,
                    platform: str = sys.platform) -> str | None:
    """Why napari cannot open a window here (Linux without an X or Wayland display), or None.

    Qt's ``offscreen`` platform counts as no display: napari's canvas needs OpenGL there.
    """
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return None
    if env.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return ("QT_QPA_PLATFORM=offscreen cannot show napari's canvas; unset it and use a "
                "display or `xvfb-run -a ifss view`")
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def launch(files: Sequence[str] = (), sample: bool = True) -> None:
    """Open the viewer (see :func:`open_viewer`) and run napari until the window closes.

    Raises:
        NotReadyError: no display to show the window on (checked before anything is read).
    """
    problem = display_problem()
    if problem is not None:
        raise NotReadyError(problem)
    open_viewer(files=files, sample=sample)
    napari.run()
