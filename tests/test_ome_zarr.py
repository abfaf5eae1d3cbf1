"""#20 (5): OME-Zarr images open lazily (level 0 as a dask array) with their axes and scale."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

import napari_ifss as ifss
from napari_ifss._napari.readers import get_reader
from napari_ifss.core.data.ngff_sample import write_ngff_image
from napari_ifss.core.errors import InvalidInputError, ReadError, UnsupportedFormatError
from napari_ifss.core.io import read_format


def _write_ngff(path, data: np.ndarray, axes: list[dict], scale: list[float],
                version: str = "0.4", translation: list[float] | None = None) -> None:
    """A two-level OME-Zarr image: level 0 ``data``, level 1 every 2nd pixel in y and x."""
    write_ngff_image(path, data, axes, scale, version=version, translation=translation)


CZYX = [{"name": "c", "type": "channel"}, {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_opens_level_0_lazily_with_axes_and_scale(tmp_path, version):
    path = tmp_path / "cells.ome.zarr"
    data = np.arange(2 * 4 * 16 * 16, dtype=np.uint16).reshape(2, 4, 16, 16)
    _write_ngff(path, data, CZYX, [1.0, 2.0, 0.5, 0.5], version, [0.0, 10.0, 0.0, 0.0])
    assert read_format(path) == "ngff"
    with pytest.raises(UnsupportedFormatError, match=r"2 channels \(axes CZYX"):
        ifss.open_image(path)
    layer = ifss.open_image(path, channel=1)
    assert isinstance(layer.data, da.Array)  # nothing read yet
    assert layer.axes == "ZYX" and layer.data.shape == (4, 16, 16)
    assert layer.scale == (2.0, 0.5, 0.5) and layer.translate == (10.0, 0.0, 0.0)
    assert layer.metadata["file_axes"] == "CZYX" and layer.metadata["levels"] == 2
    np.testing.assert_array_equal(np.asarray(layer.data[3]), data[1, 3])
    # napari opens one lazy layer per channel
    layers = get_reader(str(path))(str(path))
    assert [meta["name"] for _, meta, _ in layers] == ["cells [channel 0]", "cells [channel 1]"]
    # ... each with the image's pyramid for display (level 0's geometry), lazy
    for c, (levels, meta, _) in enumerate(layers):
        assert meta["multiscale"] and meta["scale"] == (2.0, 0.5, 0.5)
        assert [lv.shape for lv in levels] == [(4, 16, 16), (4, 8, 8)]
        assert all(isinstance(lv, da.Array) for lv in levels)
        np.testing.assert_array_equal(np.asarray(levels[1][2]), data[c, 2, ::2, ::2])


def test_ome_zarr_nanometres_become_micrometres_and_propagation_runs(tmp_path):
    from napari_ifss.core.data.sample import make_synthetic_cells

    image, truth = make_synthetic_cells((10, 48, 48), n_cells=4, seed=2)
    axes = [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
    path = tmp_path / "stack.zarr"
    _write_ngff(path, image, axes, [500.0, 100.0, 100.0])
    layer = ifss.open_image(path)
    assert layer.scale == pytest.approx((0.5, 0.1, 0.1)) and layer.metadata["unit"] == "µm"
    cell = int(np.bincount(truth[5].ravel())[1:].argmax() + 1)
    support = np.zeros(truth.shape, np.int32)
    support[5] = np.where(truth[5] == cell, cell, 0)
    out = ifss.propagate(layer, support, cell)  # reads the lazy volume slice by slice
    assert out[4].any() and out[6].any()


def test_a_zarr_folder_without_ome_metadata_is_refused(tmp_path):
    path = tmp_path / "plain.zarr"
    zarr.open_group(str(path), mode="w").create_array("0", data=np.zeros((4, 4), np.uint8))
    with pytest.raises(ReadError):
        ifss.open_image(path)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_labels_are_saved_as_an_ngff_labels_group_beside_the_image(tmp_path, version):
    path = tmp_path / "cells.ome.zarr"
    data = np.zeros((2, 4, 16, 16), np.uint16)
    _write_ngff(path, data, CZYX, [1.0, 2.0, 0.5, 0.5], version, [0.0, 10.0, 0.0, 0.0])
    labels = np.zeros((4, 16, 16), np.uint32)
    labels[1:3, 4:9, 5:10] = 7
    ifss.save(path / "labels" / "nuclei", labels)
    back = ifss.open_image(path / "labels" / "nuclei", as_labels=True)
    np.testing.assert_array_equal(np.asarray(back.data), labels)
    assert back.kind == "labels" and back.scale == (2.0, 0.5, 0.5)
    assert back.translate == (10.0, 0.0, 0.0)  # on the image's grid
    group = zarr.open_group(str(path / "labels"), mode="r")
    attrs = dict(group.attrs)
    listed = attrs["labels"] if version == "0.4" else attrs["ome"]["labels"]
    assert listed == ["nuclei"]
    label_attrs = dict(zarr.open_group(str(path / "labels" / "nuclei"), mode="r").attrs)
    meta = label_attrs if version == "0.4" else label_attrs["ome"]
    assert meta["image-label"]["source"]["image"] == "../../"
    assert [a["name"] for a in meta["multiscales"][0]["axes"]] == ["z", "y", "x"]
    with pytest.raises(InvalidInputError, match="do not fit image"):
        ifss.save(path / "labels" / "wrong", np.zeros((3, 16, 16), np.uint8))


def test_ifss_propagate_saves_into_the_ome_zarr_image(tmp_path, capsys):
    from napari_ifss.cli import main
    from napari_ifss.core.data.sample import make_synthetic_cells

    image, truth = make_synthetic_cells((10, 48, 48), n_cells=4, seed=2)
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    path = tmp_path / "stack.ome.zarr"
    _write_ngff(path, image, axes, [2.0, 0.5, 0.5])
    cell = int(np.bincount(truth[5].ravel())[1:].argmax() + 1)
    support = np.zeros(truth.shape, np.uint16)
    support[5] = np.where(truth[5] == cell, cell, 0)
    ifss.save(tmp_path / "support.tif", support)
    out = path / "labels" / "cells"
    assert main(["propagate", str(path), "--support", str(tmp_path / "support.tif"),
                 "--out", str(out), "-q"]) == 0
    result = ifss.open_image(out, as_labels=True)
    assert result.scale == (2.0, 0.5, 0.5) and np.asarray(result.data)[4].any()
    assert main(["propagate", str(path), "--support", str(tmp_path / "support.tif"),
                 "--out", str(out), "-q"]) == 1  # exists: refused without --overwrite
    assert "exists" in capsys.readouterr().err


def test_units_per_axis_unknown_axes_and_bioformats2raw(tmp_path):
    data = np.zeros((4, 8, 8), np.uint16)
    mixed = [{"name": "z", "type": "space", "unit": "micrometer"},
             {"name": "y", "type": "space", "unit": "nanometer"},
             {"name": "x", "type": "space", "unit": "nanometer"}]
    _write_ngff(tmp_path / "mixed.zarr", data, mixed, [0.5, 100.0, 100.0])
    assert ifss.open_image(tmp_path / "mixed.zarr").scale == pytest.approx((0.5, 0.1, 0.1))
    odd = [{"name": "angle", "type": "angle"}] + mixed[1:]
    _write_ngff(tmp_path / "odd.zarr", data, odd, [1.0, 1.0, 1.0])
    for read in (ifss.open_image, lambda p: get_reader(str(p))(str(p))):
        with pytest.raises(UnsupportedFormatError, match="axis 'angle'"):
            read(tmp_path / "odd.zarr")
    root = tmp_path / "converted.zarr"  # bioformats2raw: the image is the group "0"
    zarr.open_group(str(root), mode="w").attrs["bioformats2raw.layout"] = 3
    _write_ngff(root / "0", data, mixed, [0.5, 100.0, 100.0])
    assert ifss.open_image(root).data.shape == (4, 8, 8)


def test_ifss_propagate_refuses_labels_that_do_not_fit_before_working(tmp_path, capsys):
    from napari_ifss.cli import main

    axes = [{"name": a, "type": "space"} for a in "zyx"]
    other = tmp_path / "other.ome.zarr"
    _write_ngff(other, np.zeros((3, 8, 8), np.uint16), axes, [1.0, 1.0, 1.0])
    image = tmp_path / "image.tif"
    ifss.save(image, np.zeros((5, 16, 16), np.uint16), labels=False)
    support = tmp_path / "support.tif"
    ifss.save(support, np.zeros((5, 16, 16), np.uint16))
    assert main(["propagate", str(image), "--support", str(support),
                 "--out", str(other / "labels" / "x"), "-q"]) == 1
    assert "do not fit image" in capsys.readouterr().err
    assert not (other / "labels").exists()


@pytest.mark.gui
def test_napari_save_dialog_puts_labels_into_the_ome_zarr_image(tmp_path, make_napari_viewer):
    """#20 (5): File > Save Selected Layers on the image's .zarr folder writes an NGFF
    labels group named after the layer; a new .zarr path is refused with what to do."""
    path = tmp_path / "cells.ome.zarr"
    _write_ngff(path, np.zeros((2, 4, 16, 16), np.uint16), CZYX, [1.0, 2.0, 0.5, 0.5])
    viewer = make_napari_viewer()
    labels = np.zeros((4, 16, 16), np.uint16)
    labels[1:3, 4:9, 5:10] = 3
    layer = viewer.add_labels(labels, name="nuclei/v2", scale=(2.0, 0.5, 0.5))
    viewer.layers.selection = {layer}
    written = viewer.layers.save(str(path), selected=True, plugin="napari-ifss")
    assert [str(w) for w in written] == [str(path / "labels" / "nuclei_v2")]
    back = ifss.open_image(path / "labels" / "nuclei_v2", as_labels=True)
    np.testing.assert_array_equal(np.asarray(back.data), labels)
    layer.data[0, 0, 0] = 5  # saving the edited layer again replaces that label
    viewer.layers.save(str(path), selected=True, plugin="napari-ifss")
    assert ifss.open_image(path / "labels" / "nuclei_v2", as_labels=True).data[0, 0, 0] == 5
    # a name typed inside the image's folder in the dialog: <image>/<name>.zarr
    viewer.layers.save(str(path / "cells.zarr"), selected=True, plugin="napari-ifss")
    assert ifss.open_image(path / "labels" / "cells", as_labels=True).data.shape == (4, 16, 16)
    with pytest.raises(UnsupportedFormatError, match="into an existing OME-Zarr image"):
        ifss.save(tmp_path / "new.zarr", ifss.LayerData.from_array(labels, "labels"))
