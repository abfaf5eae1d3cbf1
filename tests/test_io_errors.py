"""Bad input gets a clear error naming the file or shape, and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import tifffile

from napari_ifss.core.errors import (
    InvalidInputError,
    ReadError,
    UnsupportedFormatError,
)
from napari_ifss.core.io import (
    LayerData,
    as_label_array,
    check_labels_match,
    looks_like_labels,
    read_layer,
    write_layer,
)


def _write_truncated(tmp_path, ext: str, keep: float = 0.6):
    data = np.random.default_rng(0).integers(0, 1000, size=(6, 40, 40)).astype(np.uint16)
    full = tmp_path / f"full{ext}"
    write_layer(full, LayerData.from_array(data, "image", "x", (2.0, 0.5, 0.5), (1.0, 2.0, 3.0)))
    raw = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    return cut


@pytest.mark.parametrize("ext", [".tif", ".nii", ".nii.gz", ".mha", ".nrrd"])
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_file_is_a_read_error_naming_it(tmp_path, ext, keep):
    cut = _write_truncated(tmp_path, ext, keep)
    before = cut.read_bytes()
    with pytest.raises(ReadError, match=str(cut.name)):
        read_layer(cut)
    assert cut.read_bytes() == before


@pytest.mark.parametrize("name", ["garbage.tif", "garbage.nii", "garbage.nii.gz", "junk.nrrd",
                                  "junk.mha"])
def test_garbage_bytes_are_a_read_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ReadError, match=name):
        read_layer(path)


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        read_layer(tmp_path / "nothere.tif")


def test_unsupported_extension_on_read(tmp_path):
    (tmp_path / "a.xyz").write_bytes(b"123")
    with pytest.raises(UnsupportedFormatError, match=r"\.xyz"):
        read_layer(tmp_path / "a.xyz")


@pytest.mark.parametrize("name", ["out.png", "out.zarr", "out"])
def test_unsupported_extension_on_write_writes_nothing(tmp_path, name):
    with pytest.raises(UnsupportedFormatError, match="cannot write"):
        write_layer(tmp_path / name, LayerData.from_array(np.zeros((4, 4), np.uint8)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [(2, 3, 5, 6), (2, 2, 3, 5, 6)])
def test_4d_and_5d_tiff_refused_naming_the_shape(tmp_path, shape):
    """Without time="all" (a movie opened whole) or a time point, refused."""
    axes = "TZYX" if len(shape) == 4 else "TCZYX"
    tifffile.imwrite(tmp_path / "t.tif", np.zeros(shape, np.uint8), metadata={"axes": axes})
    with pytest.raises(UnsupportedFormatError, match=str(shape).replace("(", r"\(")
                       .replace(")", r"\)")):
        read_layer(tmp_path / "t.tif")


def test_4d_nifti_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5, 6), np.int16), isVector=False),
                    str(tmp_path / "t.nii.gz"))
    with pytest.raises(UnsupportedFormatError, match="not supported"):
        read_layer(tmp_path / "t.nii.gz")


def test_4d_nifti_with_singleton_time_is_squeezed(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((1, 4, 5, 6), np.int16), isVector=False),
                    str(tmp_path / "t.nii.gz"))
    assert read_layer(tmp_path / "t.nii.gz").data.shape == (4, 5, 6)


def test_layerdata_refuses_4d_and_bad_geometry():
    with pytest.raises(InvalidInputError, match="not 2D, 3D"):
        LayerData.from_array(np.zeros((2, 3, 4, 5)))
    with pytest.raises(InvalidInputError, match="scale"):
        LayerData.from_array(np.zeros((3, 4)), scale=(1.0, 0.0))
    with pytest.raises(InvalidInputError, match="entries"):
        LayerData.from_array(np.zeros((3, 4)), translate=(1.0, 0.0, 2.0))
    with pytest.raises(InvalidInputError, match="integer"):
        LayerData.from_array(np.zeros((3, 4), np.float32), kind="labels")


def test_check_labels_match():
    check_labels_match((4, 5, 6), (4, 5, 6))
    check_labels_match((5, 6), (5, 6, 3), rgb=True)
    with pytest.raises(InvalidInputError, match=r"\(4, 5, 7\).*\(4, 5, 6\)"):
        check_labels_match((4, 5, 7), (4, 5, 6))


@pytest.mark.parametrize(("name", "expected"), [
    ("labels.tif", True), ("cells_seg.nii.gz", True), ("mask.nrrd", True), ("Mask-01.mha", True),
    ("nuclei_segmentation.tif", True), ("brain.label.nii", True), ("stack.tif", False),
    ("segment.tif", False), ("labelled.tif", False), ("masking.nii.gz", False),
    ("labels_dir/image.tif", False),
])
def test_label_names(name, expected):
    assert looks_like_labels(name) is expected


def test_label_dtype_cast():
    assert as_label_array(np.array([[True, False]])).dtype == np.uint8
    assert as_label_array(np.array([[1.0, 2.0]])).dtype == np.int32
    assert as_label_array(np.array([[0, 5]], np.uint16)).dtype == np.uint16
    with pytest.raises(InvalidInputError, match="whole numbers"):
        as_label_array(np.array([[0.5, 1.0]]))


def test_as_labels_with_fractional_content_is_refused(tmp_path):
    write_layer(tmp_path / "p.nrrd", LayerData.from_array(np.full((4, 4), 0.5, np.float32)))
    with pytest.raises(InvalidInputError, match="whole numbers"):
        read_layer(tmp_path / "p.nrrd", as_labels=True)


def test_label_name_with_fractional_content_opens_as_image_with_warning(tmp_path):
    write_layer(tmp_path / "prob_mask.nrrd", LayerData.from_array(np.full((4, 4), 0.5,
                                                                         np.float32)))
    with pytest.warns(UserWarning, match="not integral"):
        layer = read_layer(tmp_path / "prob_mask.nrrd")
    assert layer.kind == "image"


def test_write_refuses_fractional_labels_and_huge_ids_in_tiff(tmp_path):
    bad = LayerData(np.array([[0, 2**40]], np.int64), "labels", "l", (1.0, 1.0), (0.0, 0.0))
    with pytest.raises(InvalidInputError, match="32-bit"):
        write_layer(tmp_path / "l.tif", bad)
    assert not (tmp_path / "l.tif").exists()
    write_layer(tmp_path / "l.nrrd", bad)  # 64-bit ids are fine where the format has them
    np.testing.assert_array_equal(read_layer(tmp_path / "l.nrrd", as_labels=True).data, bad.data)
