"""Helpers shared by the headless screenshot scripts (run them with ``xvfb-run -a``)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

# Screenshots show a fresh start: autosaved sessions go to a throw-away folder, so no earlier
# run's "Restore session" button appears and the user's own sessions are left alone.
os.environ.setdefault("IFSS_SESSION_DIR", tempfile.mkdtemp(prefix="ifss_shot_sessions_"))


def wait_idle(dock, app, timeout: float = 300.0) -> None:
    """Process Qt events until ``dock.busy`` is False (or ``timeout`` seconds pass)."""
    t0 = time.perf_counter()
    while dock.busy and time.perf_counter() - t0 < timeout:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def save_window(viewer, app, out: str | Path) -> Path:
    """Fit the view, screenshot the whole window to ``out`` (folders made), close the viewer."""
    viewer.reset_view()
    app.processEvents()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(path), canvas_only=False)
    viewer.close()
    return path
