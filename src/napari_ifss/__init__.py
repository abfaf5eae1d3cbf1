"""napari-ifss: interactive few-shot segmentation for napari and plain Python.

The public API (see :mod:`napari_ifss.api` and ``docs/scripting.md``) is available at the top
level and loaded on first use, so ``import napari_ifss`` stays fast::

    import napari_ifss as ifss
    image = ifss.open_image("stack.tif")
    labels = ifss.propagate(image, user_labels)

The package is organised by layer (dependencies point downward only)::

    _napari/   dock widgets, layer adapters, thread workers (the only place importing napari/Qt)
    api.py     the public scripting API, re-exported here
    cli.py     the ``ifss`` command line
    core/      prompts, sessions, normalisation, io, sample data
    models/    networks, one component per file; registry and weight loading
    eval/      robot clicker, metrics, benchmark protocols, classical baselines
    train/     data sets, click simulation, training loops
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.2.0.dev0"  # single source of the version (pyproject reads it)

# public name -> module that defines it (imported lazily by __getattr__)
_PUBLIC = {
    "Channels": "napari_ifss.api",
    "Click": "napari_ifss.api",
    "InteractiveSession": "napari_ifss.api",
    "LayerData": "napari_ifss.api",
    "annotate_next": "napari_ifss.api",
    "batch": "napari_ifss.api",
    "open_channels": "napari_ifss.api",
    "open_image": "napari_ifss.api",
    "propagate": "napari_ifss.api",
    "save": "napari_ifss.api",
    "save_scores_csv": "napari_ifss.api",
    "score": "napari_ifss.api",
    "segment_clicks": "napari_ifss.api",
    "make_synthetic_cells": "napari_ifss.core.data.sample",
    "load_session": "napari_ifss.core.interactive.session_store",
    "restore_clicks": "napari_ifss.core.interactive.session_store",
    "save_session": "napari_ifss.core.interactive.session_store",
    "session_folder_for": "napari_ifss.core.interactive.session_store",
}

__all__ = ["__version__", *sorted(_PUBLIC)]

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())
