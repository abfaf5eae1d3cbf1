"""napari-ifss: interactive few-shot segmentation for napari and plain Python.

The package is organised by layer (dependencies point downward only)::

    _napari/   dock widgets, layer adapters, thread workers (the only place importing napari/Qt)
    cli.py     the ``ifss`` command line
    core/      prompts, sessions, normalisation, io, sample data
    models/    networks, one component per file; registry and weight loading
    eval/      robot clicker, metrics, benchmark protocols, classical baselines
    train/     data sets, click simulation, training loops
"""

__version__ = "0.1.0"
