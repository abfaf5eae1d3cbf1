"""Evaluation objects from a tiny fake data folder (written to tmp_path by the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage.draw import disk
from skimage.io import imsave

from napari_ifss.core.data.datasets import split_of
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.objects import collect_objects, object_masks, split_of_dataset


def _ids(dataset: str, split: str, n: int) -> list[str]:
    """The first ``n`` item ids ``img<i>`` that the fixed hash puts into ``split``."""
    return [i for i in (f"img{k}" for k in range(200)) if split_of(dataset, i) == split][:n]


def _blobs(shape=(64, 64), centres=((16, 16), (16, 46), (46, 30)), radius=8) -> np.ndarray:
    labels = np.zeros(shape, np.uint16)
    for i, c in enumerate(centres, start=1):
        labels[disk(c, radius, shape=shape)] = i
    return labels


def _image(labels: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = 30 + 170 * (labels > 0) + rng.integers(0, 20, labels.shape)
    return img.astype(np.uint8)


def make_fake_data(root: Path) -> Path:
    """A data folder with: 2d/dsb2018 (instance maps; val and train items), 2d/epfl_em (class
    folders: mitochondrion and membranes), 2d/mystuff (unknown name), 3d/totalseg_ct (10 slices,
    one organ on every slice) and 3d/isbi2012_em (membrane grid, label 1)."""
    for ds in ("dsb2018", "mystuff"):
        (root / "2d" / ds / "images").mkdir(parents=True)
        (root / "2d" / ds / "masks").mkdir(parents=True)
    for item in _ids("dsb2018", "val", 2) + _ids("dsb2018", "train", 1):
        labels = _blobs()
        labels[2:6, 2:6] = 9  # 16 px: below the minimum area
        imsave(root / "2d/dsb2018/images" / f"{item}.png", _image(labels), check_contrast=False)
        tifffile.imwrite(root / "2d/dsb2018/masks" / f"{item}.tif", labels)
    for item in _ids("mystuff", "val", 1):
        labels = (_blobs() > 0).astype(np.uint8)  # one label value, three components
        imsave(root / "2d/mystuff/images" / f"{item}.png", _image(labels), check_contrast=False)
        imsave(root / "2d/mystuff/masks" / f"{item}.png", labels, check_contrast=False)
    epfl = root / "2d" / "epfl_em"
    for sub in ("images", "masks/mitochondrion", "masks/membranes"):
        (epfl / sub).mkdir(parents=True)
    for item in _ids("epfl_em", "val", 1):
        mito = (_blobs(centres=((20, 20), (44, 44))) > 0).astype(np.uint8) * 255
        imsave(epfl / "images" / f"{item}.png", _image(mito), check_contrast=False)
        imsave(epfl / "masks/mitochondrion" / f"{item}.png", mito, check_contrast=False)
        imsave(epfl / "masks/membranes" / f"{item}.png", 255 - mito, check_contrast=False)
    for ds in ("totalseg_ct", "isbi2012_em"):
        (root / "3d" / ds).mkdir(parents=True)
    organ = np.stack([_blobs(centres=((32, 32),), radius=12)] * 10).astype(np.int16)
    tifffile.imwrite(root / "3d/totalseg_ct/image.tif", (organ * 100 - 50).astype(np.int16))
    tifffile.imwrite(root / "3d/totalseg_ct/labels.tif", organ * 5)
    membranes = np.zeros((5, 64, 64), np.uint8)
    membranes[:, 31:33, :] = 1
    membranes[:, :, 31:33] = 1  # four cells of 31x31 per slice
    tifffile.imwrite(root / "3d/isbi2012_em/image.tif", (200 - 150 * membranes).astype(np.uint8))
    tifffile.imwrite(root / "3d/isbi2012_em/labels.tif", membranes)
    return root


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    return make_fake_data(tmp_path / "data")


def test_split_names():
    assert split_of_dataset("dsb2018") == "nuclei"
    assert split_of_dataset("cells3d_nuclei") == "nuclei"
    assert split_of_dataset("coco_mval") == "natural"
    assert split_of_dataset("isbi2012_em") == "em"
    assert split_of_dataset("radiomics_brain1") == "mri_ct"
    assert split_of_dataset("totalseg_ct") == "mri_ct"
    assert split_of_dataset("other") == "other"


def test_object_mask_rules():
    labels = np.zeros((20, 20), np.uint8)
    labels[1:5, 1:5] = 3
    labels[10:15, 10:15] = 3
    assert [n for n, _ in object_masks(labels, "instances")] == ["3"]
    assert [n for n, _ in object_masks(labels, "components")] == ["3#1", "3#2"]
    whole = list(object_masks(labels, "whole"))
    assert len(whole) == 1 and whole[0][1].sum() == 16 + 25
    cells = list(object_masks(labels, "cells"))
    assert len(cells) == 1 and cells[0][1].sum() == 400 - 41


def test_collect_splits_and_rules(fake_data: Path):
    objs = collect_objects(fake_data, max_objects=100, per_image=10)
    assert sorted(objs) == ["em", "mri_ct", "mystuff", "nuclei"]
    # dsb2018: 3 instances on each of the 2 val items; the 16-px one and the train item are out
    nuclei = objs["nuclei"]
    assert len(nuclei) == 6
    assert {o.item_id for o in nuclei} == set(_ids("dsb2018", "val", 2))
    assert {o.label for o in nuclei} == {"1", "2", "3"}
    # epfl_em: only the mitochondrion class (membranes are not objects); isbi: cells (label 0)
    em = objs["em"]
    epfl = [o for o in em if o.dataset == "epfl_em"]
    assert sorted(o.label for o in epfl) == ["mitochondrion:255#1", "mitochondrion:255#2"]
    isbi = [o for o in em if o.dataset == "isbi2012_em"]
    assert {o.item_id for o in isbi} == {"z4"}  # last fifth of 5 slices
    assert len(isbi) == 4 and all(o.area == 31 * 31 and o.label.startswith("cell#") for o in isbi)
    # totalseg: val slices are z 8 and 9 of 10
    assert sorted(o.item_id for o in objs["mri_ct"]) == ["z8", "z9"]
    # unknown dataset: its own split; a binary mask is one object (its three blobs together)
    assert [(o.label, o.area) for o in objs["mystuff"]] == [("object", 3 * objs["nuclei"][0].area)]
    obj = nuclei[0]
    assert obj.mask.shape == obj.shape == (64, 64) and obj.mask.sum() == obj.area > 100


def test_caps_are_reproducible_and_round_robin(fake_data: Path):
    a = collect_objects(fake_data, max_objects=3, per_image=2)
    b = collect_objects(fake_data, max_objects=3, per_image=2)
    assert [o.uid for s in a for o in a[s]] == [o.uid for s in b for o in b[s]]
    assert len(a["nuclei"]) == 3
    assert max(sum(o.item_id == i for o in a["nuclei"]) for i in _ids("dsb2018", "val", 2)) <= 2
    # em: datasets taken in turn -> both datasets present among the first two objects
    assert {o.dataset for o in a["em"][:2]} == {"epfl_em", "isbi2012_em"}


def test_split_filter_and_empty_folder(fake_data: Path, tmp_path: Path):
    only = collect_objects(fake_data, splits=["mri_ct"])
    assert list(only) == ["mri_ct"]
    with pytest.raises(InvalidInputError, match="does not exist"):
        collect_objects(tmp_path / "nothing_here")
