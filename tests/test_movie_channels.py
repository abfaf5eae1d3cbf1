"""#20 (3 + 4): a 3D movie of several channels, followed through z or through time with
every channel seen under its own window (API, command line, Few-shot dock)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import napari_ifss as ifss
from napari_ifss.core.channels import Channels, picked_indices
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.movie import movie_window, unit_of
from napari_ifss.eval.metrics import iou
from test_movie import moving_cells


def two_channel_movie() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(channels (2, T, Z, Y, X), support labels, truth)``: the cells are seen only in
    channel 1, dimly (values 10-60 of uint16); channel 0 is bright noise."""
    movie, truth, _ = moving_cells()
    rng = np.random.default_rng(0)
    cells = (10 + 50 * (movie - movie.min()) / np.ptp(movie)).astype(np.uint16)
    noise = rng.integers(1000, 4000, movie.shape).astype(np.uint16)
    labels = np.zeros(truth.shape, np.uint8)
    labels[2, 4][truth[2, 4]] = 1
    return np.stack([noise, cells]), labels, truth


def test_channels_of_a_movie_and_their_windows():
    data, _, _ = two_channel_movie()
    movie = Channels.from_array(data, 0)
    assert movie.ndim == 4 and movie.shape == data.shape[1:]
    windows = movie_window(movie)  # one per channel, from planes of the whole movie
    assert len(windows) == 2 and windows[0].low >= 1000 and windows[1].high <= 60
    unit = unit_of(movie, 1, 4)  # z plane 4 through time: a (T, Y, X) stack per channel
    assert isinstance(unit, Channels) and unit.shape == (data.shape[1], *data.shape[3:])
    np.testing.assert_array_equal(unit.arrays[1][3], data[1, 3, 4])
    assert picked_indices(None, 3) == [0, 1, 2] and picked_indices((2, 0), 3) == [2, 0]
    with pytest.raises(InvalidInputError, match="channel 3 is out of range"):
        picked_indices([3], 3)
    with pytest.raises(InvalidInputError, match="3D movie \\(T, Z, H, W\\)"):
        Channels((np.zeros((2, 2, 2, 2, 2)),))


def test_a_movie_followed_in_the_channel_where_the_cells_are():
    data, labels, truth = two_channel_movie()
    both = ifss.propagate(data, labels, along="z", channel_axis=0)
    alone = ifss.propagate(data[1], labels, along="z")
    noise = ifss.propagate(data[0], labels, along="z")
    got = {name: iou(r[2] == 1, truth[2]) for name, r in
           (("both", both), ("alone", alone), ("noise", noise))}
    assert got["both"] > 0.6 and got["both"] > got["alone"] - 0.1 \
        and got["both"] > got["noise"] + 0.2, got
    frozen = np.zeros_like(labels)
    frozen.flags.writeable = False
    with pytest.raises(InvalidInputError, match="out is read-only"):  # before any work
        ifss.propagate(data, labels, along="z", channel_axis=0, out=frozen)
    through = ifss.propagate([data[0], data[1]], both, along="t")  # a list of channels
    np.testing.assert_array_equal(through[2], both[2])
    assert iou(through[5] == 1, truth[5]) > 0.5


def test_cli_follows_a_movie_with_all_its_channels(tmp_path, capsys):
    from napari_ifss.cli import main

    data, labels, truth = two_channel_movie()
    image = tmp_path / "movie.ome.tif"
    tifffile.imwrite(image, np.moveaxis(data, 0, 1), ome=True, metadata={"axes": "TCZYX"})
    like = ifss.LayerData(data[0], "image", "m", (1.0,) * 4, (0.0,) * 4,
                          metadata={"axes": "TZYX"})
    support = tmp_path / "support.tif"
    ifss.save(support, labels, like=like)
    out = tmp_path / "out.tif"
    assert main(["propagate", str(image), "--support", str(support), "--out", str(out),
                 "--along", "z", "--channel", "all", "--quiet"]) == 0
    back = ifss.open_image(out, time="all", as_labels=True).data
    np.testing.assert_array_equal(back, ifss.propagate(data, labels, along="z",
                                                       channel_axis=0))
    assert main(["propagate", str(image), "--support", str(support), "--out",
                 str(tmp_path / "o.tif"), "--along", "z", "--channel", "0,2"]) == 1
    assert "channel 2 is out of range" in capsys.readouterr().err


@pytest.mark.gui
def test_fewshot_dock_follows_a_movie_with_its_other_channel(make_napari_viewer, qtbot):
    from napari_ifss._napari.fewshot_dock import FewShotDock

    data, labels, truth = two_channel_movie()
    viewer = make_napari_viewer()
    noise, cells = viewer.add_image(data, channel_axis=0, name=["noise", "cells"])
    layer = viewer.add_labels(labels.copy(), name="labels")
    dock = FewShotDock(viewer, segmenter=FewShotSegmenter.default(device="cpu"))
    viewer.window.add_dock_widget(dock, name="Few-shot propagation")
    dock._image_box.value, dock._labels_box.value = noise, layer
    assert not dock.channels.select.native.isHidden()  # offered for a movie too
    dock.channels.restore([cells])
    dock.propagate()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.status.startswith("done: 1/1 time points"), dock.status
    assert iou(layer.data[2] == 1, truth[2]) > 0.6
    layer.undo()
    np.testing.assert_array_equal(layer.data, labels)
