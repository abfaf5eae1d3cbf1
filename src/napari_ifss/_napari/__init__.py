"""napari adapters: readers/writers, sample data, dock widgets. The only place importing napari/Qt."""
