"""The documented example runs, and the copy in docs/scripting.md is the file that runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from napari_ifss.core.interactive.session_store import load_session
from napari_ifss.core.io import read_layer
from napari_ifss.core.quality.quality_volume import read_scores_csv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "scripted_session.py"


def test_docs_show_the_example_verbatim():
    doc = (ROOT / "docs" / "scripting.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks


def test_scripted_session_example_runs_without_qt(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "none-such"}
    code = (f"import runpy, sys; sys.argv = ['x', {str(tmp_path)!r}]; "
            f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__'); "
            "print('napari' in sys.modules, 'qtpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "False False"
    assert re.search(r"propagated to (\d+) slices", out.stdout)
    labels = read_layer(tmp_path / "cells_labels.tif", as_labels=True)
    assert labels.scale == (2.0, 0.5, 0.5)
    rows = read_scores_csv(tmp_path / "cells_quality.csv")
    propagated = int(re.search(r"propagated to (\d+) slices", out.stdout).group(1))
    assert len(rows) == propagated - 2  # every filled slice but the two clicked ones
    saved = load_session(tmp_path / "cells.tif.ifss")
    assert saved.click_count == 2 and saved.labels is not None
