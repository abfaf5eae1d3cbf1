"""Shared pytest configuration."""

from __future__ import annotations

import gc

import torch

# Work-around for a reference-count leak on ``None`` in the Qt bindings' signal machinery
# (PySide6 6.12 with napari 0.9.2 thread workers): every viewer test lowers ``None``'s
# reference count by roughly 8-11 thousand. On Python 3.11 ``None`` is not yet immortal, so
# after a dozen or so viewer tests its count reaches zero and the interpreter aborts with
# "Fatal Python error: none_dealloc" (exit code 134), although every test passed. Holding
# extra references keeps it far from zero for any realistic suite (about 40 MB).
_NONE_REFERENCES = [None] * 5_000_000


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
