"""#20 (3): the Interactive dock uses the image's other channels (napari's ``channel_axis``
layers) together with the one clicked on, and lets the user change them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss._napari.channel_layers import channel_stem, default_channels
from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.eval.metrics import iou
from test_channels import centre_click, two_channels

pytestmark = pytest.mark.gui


def test_channel_names():
    assert channel_stem("cells [channel 2]") == channel_stem("cells [1]") == "cells"
    assert channel_stem("cells") == "cells" and channel_stem("a [b]") == "a [b]"
    assert default_channels(None, []) == []


def test_dock_clicks_on_both_channels(make_napari_viewer, qtbot):
    bright, dim, lab = two_channels()
    gt = lab == int(np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    click = centre_click(gt)
    viewer = make_napari_viewer()
    layers = viewer.add_image(np.stack([bright, dim]), channel_axis=0, name="pair")
    other = viewer.add_image(np.zeros((160, 160), np.uint8), name="unrelated")
    viewer.add_image(np.zeros((80, 80), np.uint8), name="pair [2]")  # another grid
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    dock._image_box.value = layers[0]
    offered = [v for _, v in dock.channels._choices()]
    assert layers[1] in offered and other in offered and len(offered) == 2
    assert dock.channels.layers == (layers[1],)  # the same image's channel, by default
    assert not dock.channels.select.native.isHidden()

    dock.prompts.add(np.array([[click.row, click.col]], float))
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    both = iou(dock.preview.data > 0, gt)
    assert both > 0.5, both

    dock.channels.select.value = []  # the bright channel alone: the dim cell is not in it
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert "image alone" in dock.status or "1 click" in dock.status
    alone = iou(dock.preview.data > 0, gt)
    assert alone < both - 0.2, (alone, both)
    assert len(dock._states) == 1  # the slice's state moved to the new view, not doubled

    dock.channels.select.value = [layers[1]]
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert iou(dock.preview.data > 0, gt) == pytest.approx(both)
    dock.commit()
    assert "committed label 1" in dock.status
    assert iou(viewer.layers["ifss labels"].data > 0, gt) == pytest.approx(both)

    # "as displayed": each channel through its own contrast limits
    from napari_ifss._napari.intensity_choice import DISPLAYED

    layers[1].contrast_limits = (40.0, 300.0)
    dock.intensity.combo.value = DISPLAYED
    windows = dock._window(dock._current())
    assert [(w.low, w.high) for w in windows] == [
        tuple(float(v) for v in layers[0].contrast_limits), (40.0, 300.0)]
    dock._image_box.value = other  # no channel of the same image: none chosen
    assert dock.channels.layers == () and not dock.channels.select.native.isHidden()


def test_reordering_layers_keeps_the_channels_and_one_channel_models_get_none(
        make_napari_viewer, qtbot):
    from napari_ifss.eval.random_walker import RandomWalkerSegmenter

    viewer = make_napari_viewer()
    layers = viewer.add_image(np.random.default_rng(0).random((3, 32, 32)), channel_axis=0,
                              name="cells")
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    dock._image_box.value = layers[0]
    chosen, key = dock.channels.layers, dock._current().key
    assert set(chosen) == {layers[1], layers[2]}
    viewer.layers.move(viewer.layers.index(layers[2]), 0)
    assert dock.channels.layers == chosen and dock._current().key == key
    classical = InteractiveDock(viewer, segmenter=RandomWalkerSegmenter(max_side=64))
    viewer.window.add_dock_widget(classical, name="classical")
    classical._image_box.value = layers[0]
    assert classical.channels.layers == () and classical.channels.select.native.isHidden()


def test_fewshot_dock_propagates_and_scores_on_the_channels(make_napari_viewer, qtbot):
    """The Few-shot dock offers the image's other channels; the learner uses them together
    (as ifss.propagate with both), the quality scores the object's channel (as ifss.score)."""
    import napari_ifss as ifss
    from napari_ifss._napari.fewshot_dock import FewShotDock
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
    from test_channels_fewshot import noise_and_dim_cells

    noise, dim, support = noise_and_dim_cells()
    viewer = make_napari_viewer()
    layers = viewer.add_image(np.stack([noise, dim]), channel_axis=0, name="pair")
    labels = viewer.add_labels(support.copy(), name="ifss labels")
    seg = FewShotSegmenter.default(device="cpu")
    dock = FewShotDock(viewer, segmenter=seg)
    viewer.window.add_dock_widget(dock, name="Few-shot propagation")
    dock._image_box.value = layers[0]
    assert dock.channels.layers == (layers[1],)  # the same image's other channel
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("done: "), dock.status
    expected = ifss.propagate([noise, dim], support)
    np.testing.assert_array_equal(labels.data, expected)
    scores = ifss.score([noise, dim], expected, support=support, segmenter=seg)
    rows = {(r.z, r.label_id): r.score for r in dock.quality.rows}
    assert rows and rows == pytest.approx({(z, 1): s.score for z, s in scores[1].items()})

    dock._target_box.value = layers[1]  # another image: one channel only
    dock.propagate()
    assert "uses one channel" in dock.status
    dock._target_box.value = None
    dock.channels.select.value = []  # the noise channel alone
    labels.data = support.copy()
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    np.testing.assert_array_equal(labels.data, ifss.propagate(noise, support))


def test_closing_the_viewer_starts_no_prediction(make_napari_viewer, qtbot, capsys):
    """Closing the viewer removes its layers one by one, the chosen channel among them: the
    dock predicts nothing on its way out (it used to start a job whose end found its
    widgets deleted)."""
    bright, dim, lab = two_channels()
    click = centre_click(lab == int(np.argmax(np.bincount(lab.ravel())[1:]) + 1))
    viewer = make_napari_viewer()
    layers = viewer.add_image(np.stack([bright, dim]), channel_axis=0, name="pair")
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation")
    dock._image_box.value = layers[0]
    dock.prompts.add(np.array([[click.row, click.col]], float))
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    jobs = dock.runner.jobs_started
    viewer.close()
    qtbot.wait(100)
    assert dock.runner.jobs_started == jobs
    assert "already deleted" not in capsys.readouterr().err
