"""Helpers shared by the headless screenshot scripts (run them with ``xvfb-run -a``)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

# Screenshots show a fresh start: autosaved sessions go to a throw-away folder, so no earlier
# run's "Restore session" button appears and the user's own sessions are left alone.
os.environ.setdefault("IFSS_SESSION_DIR", tempfile.mkdtemp(prefix="ifss_shot_sessions_"))


PLUGIN = "napari-ifss"


def out_dir(description: str) -> Path:
    """The ``--out-dir`` of a screenshot script (default ``docs/images``), made if missing."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out-dir", default=str(Path(__file__).parents[1] / "docs/images"))
    out = Path(parser.parse_args().out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def sample_viewer(width: int = 1270, height: int = 880):
    """A shown napari viewer of ``width`` x ``height`` (the default fits xvfb-run's 1280 x 1024
    screen) with the plugin's synthetic sample opened, one torch thread; returns ``(viewer,
    image layer, ground truth (Z, Y, X) array)``."""
    import napari
    import numpy as np
    import torch

    torch.set_num_threads(1)
    viewer = napari.Viewer(show=True)
    viewer.window.resize(width, height)
    viewer.open_sample(PLUGIN, "synthetic_cells")
    truth = np.asarray(viewer.layers["synthetic cells ground truth"].data)
    return viewer, viewer.layers["synthetic cells"], truth


def wait_idle(dock, app, timeout: float = 300.0) -> None:
    """Process Qt events until ``dock.busy`` is False (or ``timeout`` seconds pass)."""
    t0 = time.perf_counter()
    while dock.busy and time.perf_counter() - t0 < timeout:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def save_window(viewer, app, out: str | Path, fit: bool = True) -> Path:
    """Fit the view (unless ``fit`` is False: the camera as set), screenshot the whole window
    to ``out`` (folders made), close the viewer."""
    if fit:
        viewer.reset_view()
    for _ in range(5):  # the layers drawn (a pyramid's tiles too)
        app.processEvents()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(path), canvas_only=False)
    viewer.close()
    return path
