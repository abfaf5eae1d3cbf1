"""Shared pytest configuration."""

from __future__ import annotations

import ctypes
import gc

import pytest
import tifffile
import torch

# Work-around for a reference-count leak on ``None`` in the Qt bindings' signal machinery
# (PySide6 6.12 with napari 0.9.2 thread workers): every viewer test lowers ``None``'s
# reference count by roughly 8-11 thousand. On Python 3.11 ``None`` is not yet immortal, so
# after a dozen or so viewer tests its count reaches zero and the interpreter aborts with
# "Fatal Python error: none_dealloc" (exit code 134), although every test passed. Holding
# extra references keeps it far from zero for any realistic suite (about 40 MB).
# The list is itself given one reference nobody owns, so it is never freed, not even while
# the interpreter shuts down (freeing it there let the leaked decrefs that Qt objects still
# make at exit reach zero).
_NONE_REFERENCES = [None] * 5_000_000
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_NONE_REFERENCES))


def pytest_configure(config):
    """One torch thread for the whole suite.

    On a small shared CPU (2 cores here and in CI) two torch threads spin against the other
    process and run several times slower than one.
    """
    torch.set_num_threads(1)


def pytest_unconfigure(config):
    """Keep the interpreter's final garbage collection away from dead Qt/napari objects.

    After several napari viewers (PySide6 6.12, napari 0.9.2) the last collection at
    interpreter shutdown can abort with "none_dealloc: deallocating None" (exit code 134)
    although every test passed. Collecting now, while Qt is still alive, and freezing what
    remains avoids it (reproduced with nine plain ``make_napari_viewer`` tests).
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _private_session_dir(tmp_path, monkeypatch):
    """Autosaved sessions of images that do not come from a file go to the test's own folder,
    never to the user's home, and never leak from one test into another."""
    monkeypatch.setenv("IFSS_SESSION_DIR", str(tmp_path / "ifss_sessions"))


@pytest.fixture()
def tiny_volume_root(tmp_path):
    """A data folder laid out like ``../shared/data`` holding one small synthetic volume
    (``3d/cells3d_tiny``, 10 x 48 x 48 with 8 cells)."""
    from napari_ifss.core.data.sample import make_synthetic_cells

    root = tmp_path / "data"
    vol = root / "3d" / "cells3d_tiny"
    vol.mkdir(parents=True)
    image, labels = make_synthetic_cells((10, 48, 48), n_cells=8, seed=5)
    tifffile.imwrite(vol / "image.tif", image)
    tifffile.imwrite(vol / "labels.tif", labels)
    return root


@pytest.fixture()
def tiny_fewshot_weights(tmp_path):
    """``(click checkpoint, few-shot head checkpoint)``: untrained, seeded, fast to run."""
    from napari_ifss.models.fewshot_head import FewShotHead
    from napari_ifss.models.fewshot_weights import save_fewshot_head
    from napari_ifss.models.registry import build_click_net, save_click_net

    torch.manual_seed(0)
    click = save_click_net(build_click_net("nofeedback"), tmp_path / "click.safetensors")
    head = save_fewshot_head(FewShotHead(), tmp_path / "fewshot.safetensors", click)
    return click, head


@pytest.fixture()
def fewshot_docked(make_napari_viewer):
    """``make(image, labels, segmenter) -> (viewer, labels layer, FewShotDock)``: a viewer with
    the image "cells", the labels "ifss labels" and the few-shot dock in its window."""
    from napari_ifss._napari.fewshot_dock import FewShotDock

    def make(image, labels, segmenter):
        viewer = make_napari_viewer()
        viewer.add_image(image, name="cells")
        layer = viewer.add_labels(labels, name="ifss labels")
        dock = FewShotDock(viewer, segmenter=segmenter)
        viewer.window.add_dock_widget(dock, name="Few-shot propagation")
        return viewer, layer, dock

    return make
