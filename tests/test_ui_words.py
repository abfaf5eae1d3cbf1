"""Issue #15 (8): plain words in the Interactive and Few-shot docks (users are biologists).

Every button and check box says what it does in a tooltip, every choice box, text field and
number box has a visible label, and no visible text uses developer words ("JFS", "support",
"other target"), the quality panel embedded in the Few-shot dock included.
"""

from __future__ import annotations

import numpy as np
import pytest
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, PushButton, SpinBox

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss._napari.interactive_dock import InteractiveDock

JARGON = ("jfs", "support", "other target", "keep clicked regions only")


def _walk(container: Container):
    for widget in container:
        yield widget
        if isinstance(widget, Container):
            yield from _walk(widget)


def _texts(widget) -> list[str]:
    texts = [str(widget.label or ""), str(getattr(widget, "tooltip", None) or "")]
    if isinstance(widget, PushButton | CheckBox):
        texts.append(str(widget.text or ""))
    value = getattr(widget, "value", None)
    if isinstance(value, str):
        texts.append(value)
    if isinstance(widget, ComboBox):  # fixed choices such as "all slices" (not layers)
        texts += [c for c in widget.choices if isinstance(c, str)]
    return texts


@pytest.fixture()
def docks(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-ifss", "synthetic_cells")
    interactive = InteractiveDock(viewer)
    fewshot = FewShotDock(viewer)
    viewer.window.add_dock_widget(interactive, name="Interactive segmentation")
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation")
    return {"interactive": interactive, "fewshot": fewshot}


def test_every_button_and_check_box_has_a_tooltip(docks):
    for name, dock in docks.items():
        buttons = [w for w in _walk(dock) if isinstance(w, PushButton | CheckBox)]
        assert buttons, name
        for widget in buttons:
            assert (widget.tooltip or "").strip(), (name, widget.text)


def test_every_choice_and_entry_has_a_visible_label(docks):
    for name, dock in docks.items():
        assert dock.labels, name  # labels are shown next to the widgets
        boxes = [w for w in _walk(dock) if isinstance(w, ComboBox | LineEdit | SpinBox)]
        assert boxes, name
        for widget in boxes:
            assert (widget.label or "").strip(), (name, type(widget).__name__)


def test_no_developer_words_in_visible_texts(docks):
    for name, dock in docks.items():
        for widget in _walk(dock):
            for text in _texts(widget):
                for word in JARGON:
                    assert word not in text.lower(), (name, text)


def test_no_timings_in_the_status_line(docks, monkeypatch):
    """The status line after a click says what happened; the milliseconds go elsewhere."""
    from types import SimpleNamespace

    dock = docks["interactive"]
    from napari_ifss._napari.slice_context import spatial_shape
    from napari_ifss.core.interactive.plane import Plane

    ctx = SimpleNamespace(layer=dock.image, key=("z", 0), description="slice 0", channels=(),
                          plane=Plane(3, (1, 2), ((0, 0),)))
    state = SimpleNamespace(probabilities=np.zeros(spatial_shape(dock.image)[1:], np.float32),
                            threshold=0.5, clicks=((1, 1, True),), box=None)
    dock._on_result(SimpleNamespace(ctx=ctx, state=state, predict_ms=12.3, encode_ms=45.6))
    assert dock.status == "slice 0: 1 click"
    assert "12 ms" in dock._status.tooltip and "46 ms" in dock._status.tooltip
