"""Issue #15 (7): with the sample and both docks, napari's window fits a 1366x768 laptop screen.

The docks scroll (and the rarely used controls fold away), so their minimum height is small:
the window is not forced taller than the screen and the slider and buttons stay visible.
"""

from __future__ import annotations

import pytest

from napari_ifss._napari.launch import PLUGIN, manifest_widget_names, open_viewer

LAPTOP = (1366, 768)


@pytest.mark.filterwarnings("ignore")
def test_window_with_both_docks_fits_a_laptop_screen(make_napari_viewer):
    from napari.qt import get_qapp

    viewer = make_napari_viewer(show=True)
    open_viewer(viewer=viewer)
    app = get_qapp()
    window = viewer.window._qt_window
    window.resize(*LAPTOP)
    for _ in range(5):
        app.processEvents()
    docks = [viewer.window.add_plugin_dock_widget(PLUGIN, name)[1]
             for name in manifest_widget_names()]
    assert len(docks) == 2
    for dock in docks:
        hint = dock.native.minimumSizeHint().height()
        assert hint < 600, (type(dock).__name__, hint)
        frame = dock.native.parentWidget()  # napari's QDockWidget around the dock
        assert frame.minimumSizeHint().height() < 600, (type(dock).__name__,
                                                         frame.minimumSizeHint().height())
        assert frame.height() >= 150, (type(dock).__name__, frame.height())  # not squeezed
    assert window.height() <= LAPTOP[1], window.height()
    assert window.minimumSizeHint().height() <= LAPTOP[1], window.minimumSizeHint().height()
