"""DICOM series folders: read one series with its geometry; refuse ambiguous folders."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_ifss.core.errors import ReadError
from napari_ifss.core.io import list_dicom_series, read_layer

SPACING_XYZ = (0.7, 0.6, 2.5)
ORIGIN_XYZ = (-10.0, 20.0, 35.0)


def write_dicom_series(folder: Path, volume: np.ndarray, series_uid: str, description: str,
                       prefix: str = "slice") -> None:
    """Write ``volume`` (Z, Y, X) int16 as one CT series, one file per slice, with the tags a
    reader needs to sort and place the slices (SimpleITK's 'DICOM series from array' recipe)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    now = time.strftime("%Y%m%d"), time.strftime("%H%M%S")
    for z in range(volume.shape[0]):
        img = sitk.GetImageFromArray(volume[z])
        img.SetSpacing(SPACING_XYZ[:2])
        position = (ORIGIN_XYZ[0], ORIGIN_XYZ[1], ORIGIN_XYZ[2] + z * SPACING_XYZ[2])
        tags = {
            "0008|0060": "CT", "0008|0008": "DERIVED\\SECONDARY", "0008|0012": now[0],
            "0008|0013": now[1], "0020|000d": "1.2.826.0.1.3680043.2.1125.1",
            "0020|000e": series_uid, "0008|103e": description,
            "0020|0037": "1\\0\\0\\0\\1\\0", "0020|0032": "\\".join(map(str, position)),
            "0020|0013": str(z + 1), "0018|0050": str(SPACING_XYZ[2]),
            "0028|0030": f"{SPACING_XYZ[1]}\\{SPACING_XYZ[0]}",
            "0008|0018": f"{series_uid}.{z + 1}",
        }
        for key, value in tags.items():
            img.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"{prefix}{z:03d}.dcm"))
        writer.Execute(img)


@pytest.fixture
def volume() -> np.ndarray:
    return np.random.default_rng(0).integers(-1000, 1000, size=(4, 10, 12)).astype(np.int16)


def test_reads_series_folder_with_geometry(tmp_path, volume):
    write_dicom_series(tmp_path / "ct", volume, "1.2.826.0.1.3680043.2.1125.2", "axial")
    layer = read_layer(tmp_path / "ct")
    assert layer.kind == "image" and layer.name == "ct"
    np.testing.assert_array_equal(layer.data, volume)
    np.testing.assert_allclose(layer.scale, SPACING_XYZ[::-1], atol=1e-6)
    np.testing.assert_allclose(layer.translate, ORIGIN_XYZ[::-1], atol=1e-6)
    assert layer.metadata["series_id"] == "1.2.826.0.1.3680043.2.1125.2"


def test_single_dcm_file_reads_its_whole_series(tmp_path, volume):
    write_dicom_series(tmp_path / "ct", volume, "1.2.826.0.1.3680043.2.1125.2", "axial")
    layer = read_layer(tmp_path / "ct" / "slice002.dcm")
    np.testing.assert_array_equal(layer.data, volume)


def test_folder_with_two_series_lists_them(tmp_path, volume):
    a, b = "1.2.826.0.1.3680043.2.1125.3", "1.2.826.0.1.3680043.2.1125.4"
    write_dicom_series(tmp_path / "mixed", volume, a, "first", prefix="a")
    write_dicom_series(tmp_path / "mixed", volume[:2] + 5, b, "second", prefix="b")
    assert set(list_dicom_series(tmp_path / "mixed")) == {a, b}
    with pytest.raises(ReadError, match="2 DICOM series") as info:
        read_layer(tmp_path / "mixed")
    assert a in str(info.value) and b in str(info.value) and "second" in str(info.value)
    picked = read_layer(tmp_path / "mixed", series_id=b)
    np.testing.assert_array_equal(picked.data, volume[:2] + 5)
    with pytest.raises(ReadError, match="no DICOM series"):
        read_layer(tmp_path / "mixed", series_id="1.2.3")


def test_folder_without_dicom_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReadError, match="no DICOM series"):
        read_layer(tmp_path / "empty")


@pytest.mark.gui
def test_napari_opens_a_dicom_folder_through_the_plugin(make_napari_viewer, tmp_path, volume):
    write_dicom_series(tmp_path / "ct", volume, "1.2.826.0.1.3680043.2.1125.5", "axial")
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "ct"), plugin="napari-ifss")
    assert layer.data.shape == volume.shape
    np.testing.assert_allclose(layer.scale, SPACING_XYZ[::-1], atol=1e-6)
