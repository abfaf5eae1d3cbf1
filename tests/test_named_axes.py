"""#20 (2): named axes. A file's time points and channels are never read as z slices; one
is opened by choice, an unstated page stack is read as z with a warning."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import napari_ifss as ifss
from napari_ifss._napari.readers import read_paths
from napari_ifss.cli import main
from napari_ifss.core.errors import UnsupportedFormatError
from napari_ifss.core.io import read_layers


def _planes(shape: tuple[int, ...]) -> np.ndarray:
    """uint16 data whose every plane holds its own index (plane k is all k)."""
    n = int(np.prod(shape[:-2]))
    return (np.arange(n, dtype=np.uint16)[:, None, None]
            * np.ones(shape[-2:], np.uint16)).reshape(shape)


def test_two_channel_ome_tiff_is_not_a_z_stack(tmp_path):
    path = tmp_path / "cells.ome.tif"
    data = _planes((2, 24, 32))
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CYX", "PhysicalSizeX": 0.5,
                                                     "PhysicalSizeY": 0.5})
    with pytest.raises(UnsupportedFormatError, match=r"2 channels \(axes CYX.*channel=0\.\.\.1"):
        ifss.open_image(path)
    one = ifss.open_image(path, channel=1)
    assert one.axes == "YX" and one.data.shape == (24, 32) and np.all(one.data == 1)
    assert one.metadata["file_axes"] == "CYX" and one.metadata["channel"] == 1
    assert one.scale == (0.5, 0.5)
    with pytest.raises(UnsupportedFormatError, match="out of range; the file has 2 channels"):
        ifss.open_image(path, channel=2)
    with pytest.raises(UnsupportedFormatError, match="has no time points"):
        ifss.open_image(path, time=0)
    # napari's reader opens each channel as its own layer
    layers = read_paths(str(path))
    assert [meta["name"] for _, meta, _ in layers] == ["cells [channel 0]", "cells [channel 1]"]
    assert [int(d[0, 0]) for d, _, _ in layers] == [0, 1]


def test_imagej_hyperstack_time_and_channel(tmp_path):
    path = tmp_path / "movie.tif"
    data = _planes((3, 4, 2, 16, 16))  # T, Z, C, Y, X
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX", "spacing": 2.0})
    with pytest.raises(UnsupportedFormatError, match="3 time points"):
        ifss.open_image(path, channel=0)
    layers = read_layers(path)  # the napari reader: each channel a whole 3D movie
    assert [ly.data.shape for ly in layers] == [(3, 4, 16, 16)] * 2
    assert layers[1].axes == "TZYX"
    np.testing.assert_array_equal(layers[1].data, data[:, :, 1])
    stack = ifss.open_image(path, time=2, channel=1)
    assert stack.axes == "ZYX" and stack.data.shape == (4, 16, 16)
    np.testing.assert_array_equal(stack.data, data[2, :, 1])
    assert stack.scale[0] == 2.0
    assert stack.metadata["file_axes"] == "TZCYX"
    assert (stack.metadata["time"], stack.metadata["channel"]) == (2, 1)


def test_channels_last_fluorescence_is_channels_and_rgb_stays_colour(tmp_path):
    fluo = tmp_path / "fluo.ome.tif"
    data = np.moveaxis(_planes((3, 16, 16)), 0, -1)  # (Y, X, 3) uint16, not a colour
    tifffile.imwrite(fluo, data, ome=True, photometric="minisblack", planarconfig="contig",
                     metadata={"axes": "YXC"})
    with pytest.raises(UnsupportedFormatError, match="3 channels"):
        ifss.open_image(fluo)
    assert np.all(ifss.open_image(fluo, channel=2).data == 2)
    rgb = tmp_path / "photo.tif"
    tifffile.imwrite(rgb, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    photo = ifss.open_image(rgb)
    assert photo.rgb and photo.axes == "YXS"


def test_unstated_page_stack_is_read_as_z_and_says_so(tmp_path):
    path = tmp_path / "pages.tif"
    tifffile.imwrite(path, _planes((5, 16, 16)))  # no axes stored
    with pytest.warns(UserWarning, match="does not say what its stack of 5 pages is"):
        layer = ifss.open_image(path)
    assert layer.axes == "ZYX" and "read as z slices" in layer.metadata["note"]


def test_channel_choice_on_a_format_without_channels_is_refused(tmp_path):
    path = tmp_path / "vol.nii.gz"
    ifss.save(path, np.zeros((3, 8, 8), np.int16))
    with pytest.raises(UnsupportedFormatError, match="apply to TIFF and OME-Zarr files"):
        ifss.open_image(path, channel=0)


def test_cli_names_the_axes_and_takes_a_channel(tmp_path, capsys):
    image = tmp_path / "stack.ome.tif"
    data = _planes((2, 6, 16, 16))  # C, Z, Y, X
    tifffile.imwrite(image, data, ome=True, metadata={"axes": "CZYX"})
    support = tmp_path / "support.tif"
    labels = np.zeros((6, 16, 16), np.uint8)
    ifss.save(support, labels)
    out = tmp_path / "scores.csv"
    args = ["score", str(image), "--labels", str(support), "--support", str(support),
            "--csv", str(out)]
    assert main(args) == 1
    assert "2 channels (axes CZYX" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--channel", "5"]) == 1
    assert "out of range" in capsys.readouterr().err


def test_time_points_of_a_2d_movie_open_as_the_stack(tmp_path):
    """#20 (4): follow an object through time: (T, Y, X) opened with time="all"."""
    from napari_ifss.core.data.sample import make_synthetic_cells

    movie, truth = make_synthetic_cells((10, 48, 48), n_cells=4, seed=4)
    path = tmp_path / "movie.ome.tif"
    tifffile.imwrite(path, movie, ome=True, metadata={"axes": "TYX", "PhysicalSizeX": 0.5,
                                                      "PhysicalSizeY": 0.5})
    with pytest.raises(UnsupportedFormatError, match="time='all' to open every time point"):
        ifss.open_image(path)
    layer = ifss.open_image(path, time="all")
    assert layer.axes == "TYX" and layer.data.shape == (10, 48, 48)
    assert layer.scale == (0.5, 0.5, 0.5) and layer.metadata["time"] == "all"
    cell = int(np.bincount(truth[4].ravel())[1:].argmax() + 1)
    support = np.zeros(truth.shape, np.int32)
    support[4] = np.where(truth[4] == cell, cell, 0)
    out = ifss.propagate(layer, support, cell)  # through the time points
    assert out[3].any() and out[5].any()
    # a 3D movie opens whole with time="all": (T, Z, Y, X), axes TZYX
    zstack = tmp_path / "zstack.ome.tif"
    tifffile.imwrite(zstack, _planes((2, 3, 8, 8)), ome=True, metadata={"axes": "TZYX"})
    movie = ifss.open_image(zstack, time="all")
    assert movie.axes == "TZYX" and movie.data.shape == (2, 3, 8, 8)
    assert len(movie.scale) == 4 and movie.napari_meta()["axis_labels"] == ("t", "z", "y", "x")
    with pytest.raises(UnsupportedFormatError, match="2 time points"):
        ifss.open_image(zstack)  # without a choice: refused, naming it


def test_napari_opens_a_2d_movie_with_a_time_slider(tmp_path):
    path = tmp_path / "movie.ome.tif"
    tifffile.imwrite(path, _planes((2, 5, 16, 16)), ome=True, metadata={"axes": "CTYX"})
    layers = read_paths(str(path))
    assert [meta["name"] for _, meta, _ in layers] == ["movie [channel 0]", "movie [channel 1]"]
    data, meta, _ = layers[1]
    assert data.shape == (5, 16, 16) and meta["axis_labels"] == ("t", "y", "x")
    movie = tmp_path / "movie3d.ome.tif"  # a 3D movie opens as one 4D layer, sliders t and z
    tifffile.imwrite(movie, _planes((4, 3, 16, 16)), ome=True, metadata={"axes": "TZYX"})
    (data, meta, _), = read_paths(str(movie))
    assert data.shape == (4, 3, 16, 16) and meta["axis_labels"] == ("t", "z", "y", "x")
