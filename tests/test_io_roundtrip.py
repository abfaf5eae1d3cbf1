"""Write -> read round trips for every format: voxels, dtype and geometry survive."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_ifss.core.io import LayerData, read_layer, write_layer

SCALE = (2.5, 0.35, 0.4)  # anisotropic, non-unit (z, y, x)
ORIGIN = (-3.2, 12.3, 0.7)
EXTS = [".tif", ".tiff", ".ome.tif", ".nii", ".nii.gz", ".mha", ".mhd", ".nrrd"]
FLIP = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))


def _volume(dtype) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 300, size=(5, 7, 9)).astype(dtype)


def _assert_geometry(layer: LayerData, scale, translate) -> None:
    np.testing.assert_allclose(layer.scale, scale, rtol=0, atol=1e-6)
    np.testing.assert_allclose(layer.translate, translate, rtol=0, atol=1e-6)


@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize(("kind", "dtype"), [("image", np.uint16), ("image", np.float32),
                                             ("labels", np.int32), ("labels", np.uint8)])
def test_round_trip_3d(tmp_path, ext, kind, dtype):
    data = _volume(dtype)
    name = ("cells_labels" if kind == "labels" else "cells") + ext
    written = write_layer(tmp_path / name, LayerData.from_array(data, kind, "x", SCALE, ORIGIN))
    assert all(p.is_file() for p in written)
    back = read_layer(tmp_path / name)
    assert back.kind == kind  # labels come back as labels through the name
    assert back.data.dtype == dtype
    np.testing.assert_array_equal(back.data, data)
    _assert_geometry(back, SCALE, ORIGIN)
    assert back.name == "cells_labels" if kind == "labels" else "cells"


@pytest.mark.parametrize("ext", EXTS)
def test_round_trip_2d(tmp_path, ext):
    data = _volume(np.uint16)[0]
    write_layer(tmp_path / f"a{ext}", LayerData.from_array(data, "image", "a", (0.3, 0.6),
                                                           (5.0, -1.5)))
    back = read_layer(tmp_path / f"a{ext}")
    assert back.data.shape == (7, 9)
    np.testing.assert_array_equal(back.data, data)
    _assert_geometry(back, (0.3, 0.6), (5.0, -1.5))


@pytest.mark.parametrize("ext", [".tif", ".nii.gz", ".mha", ".nrrd"])
def test_round_trip_rgb(tmp_path, ext):
    rgb = np.random.default_rng(2).integers(0, 255, size=(6, 8, 3)).astype(np.uint8)
    layer = LayerData.from_array(rgb, "image", "rgb", (0.5, 0.25), (1.0, 2.0), rgb=True)
    write_layer(tmp_path / f"rgb{ext}", layer)
    back = read_layer(tmp_path / f"rgb{ext}")
    assert back.rgb and back.data.shape == (6, 8, 3)
    np.testing.assert_array_equal(back.data, rgb)
    _assert_geometry(back, (0.5, 0.25), (1.0, 2.0))


@pytest.mark.parametrize("ext", [".nii.gz", ".mha", ".nrrd"])
def test_direction_round_trip_and_napari_affine(tmp_path, ext):
    data = _volume(np.int16)
    layer = LayerData.from_array(data, "image", "ct", SCALE, ORIGIN, direction=FLIP)
    write_layer(tmp_path / f"ct{ext}", layer)
    back = read_layer(tmp_path / f"ct{ext}")
    np.testing.assert_allclose(back.direction, FLIP, atol=1e-6)
    _assert_geometry(back, SCALE, ORIGIN)
    # napari's world position of voxel (1, 2, 3) must equal ITK's: origin + D (scale * i)
    meta = back.napari_meta()
    idx = np.array([1.0, 2.0, 3.0])
    physical = idx * np.asarray(meta["scale"]) + np.asarray(meta["translate"])
    world = meta["affine"][:3, :3] @ physical + meta["affine"][:3, 3]
    expected = np.asarray(ORIGIN) + np.asarray(FLIP) @ (idx * np.asarray(SCALE))
    np.testing.assert_allclose(world, expected, atol=1e-6)


def test_tiff_warns_that_direction_is_dropped(tmp_path):
    layer = LayerData.from_array(_volume(np.uint8), "image", "x", SCALE, ORIGIN, direction=FLIP)
    with pytest.warns(UserWarning, match="direction"):
        write_layer(tmp_path / "x.tif", layer)


def test_mhd_returns_header_and_pixel_file(tmp_path):
    written = write_layer(tmp_path / "v.mhd", LayerData.from_array(_volume(np.uint8)))
    assert [p.suffix for p in written] == [".mhd", ".zraw"]


def test_tiff_is_compressed_and_64bit_labels_narrowed(tmp_path):
    labels = np.zeros((20, 64, 64), np.int64)
    labels[5:10, 10:30, 10:30] = 70000
    write_layer(tmp_path / "l_labels.tif", LayerData.from_array(labels, "labels"))
    assert (tmp_path / "l_labels.tif").stat().st_size < labels.nbytes // 20
    back = read_layer(tmp_path / "l_labels.tif")
    assert back.data.dtype == np.int32 and back.kind == "labels"
    np.testing.assert_array_equal(back.data, labels)


def test_read_third_party_ome_tiff_with_units(tmp_path):
    """OME sizes in nm / mm are converted to micrometres; Plane positions give translate."""
    data = _volume(np.uint16)
    tifffile.imwrite(tmp_path / "ext.ome.tif", data, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 400.0, "PhysicalSizeXUnit": "nm",
        "PhysicalSizeY": 350.0, "PhysicalSizeYUnit": "nm",
        "PhysicalSizeZ": 0.0025, "PhysicalSizeZUnit": "mm",
        "Plane": {"PositionZ": [-3.2] * 5, "PositionY": [12.3] * 5, "PositionX": [0.7] * 5}})
    back = read_layer(tmp_path / "ext.ome.tif")
    np.testing.assert_array_equal(back.data, data)
    _assert_geometry(back, SCALE, ORIGIN)
    assert back.metadata["unit"] == "µm"


def test_read_imagej_tiff_spacing(tmp_path):
    data = _volume(np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(1 / 0.4, 1 / 0.35),
                     metadata={"spacing": 2.5, "unit": "um", "axes": "ZYX"})
    back = read_layer(tmp_path / "ij.tif")
    np.testing.assert_allclose(back.scale, SCALE, rtol=1e-6)
    assert back.metadata["unit"] == "um"


def test_plain_tiff_singleton_channel_is_squeezed(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", _volume(np.uint8)[:, None], metadata={"axes": "ZCYX"})
    back = read_layer(tmp_path / "c.tif")
    assert back.data.shape == (5, 7, 9) and back.scale == (1.0, 1.0, 1.0)


def test_as_labels_for_integer_content_with_a_plain_name(tmp_path):
    write_layer(tmp_path / "plain.nrrd", LayerData.from_array(_volume(np.uint16)))
    assert read_layer(tmp_path / "plain.nrrd").kind == "image"
    assert read_layer(tmp_path / "plain.nrrd", as_labels=True).kind == "labels"


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ext=st.sampled_from([".tif", ".nii.gz", ".mha", ".nrrd"]),
    shape=st.tuples(st.integers(1, 4), st.integers(2, 9), st.integers(2, 9)),
    spacing=st.tuples(*[st.floats(0.01, 50.0)] * 3),
    origin=st.tuples(*[st.floats(-500.0, 500.0)] * 3),
    dtype=st.sampled_from([np.uint8, np.int16, np.uint16, np.int32, np.float32]),
)
def test_round_trip_property(tmp_path, ext, shape, spacing, origin, dtype):
    data = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    path = tmp_path / f"p{ext}"
    write_layer(path, LayerData.from_array(data, "image", "p", spacing, origin))
    back = read_layer(path)
    keep = [a for a in range(3) if shape[a] > 1 or a > 0]  # a single slice reads back as 2D
    np.testing.assert_array_equal(back.data, data.reshape(back.data.shape))
    assert back.data.dtype == dtype
    np.testing.assert_allclose(back.scale, [spacing[a] for a in keep], rtol=1e-6)
    np.testing.assert_allclose(back.translate, [origin[a] for a in keep], rtol=1e-6, atol=1e-4)
