"""`ifss bench interactive` on a user's folder: layouts, `--split all`, ignore values, binary
masks (synthetic data written to tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.draw import disk
from skimage.io import imsave

from napari_ifss.cli import main
from napari_ifss.core.data.data_layout import detect_layout
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.eval.clicker import Clicker, next_click
from napari_ifss.eval.interactive_protocol import run_object
from napari_ifss.eval.label_maps import NOTE_BINARY, NOTE_INSTANCE_ID
from napari_ifss.eval.metrics import boundary_iou, iou
from napari_ifss.eval.objects import Tally, collect_objects
from test_eval_objects import make_fake_data

SHAPE = (64, 64)


def _disk(centre=(32, 32), radius=12) -> np.ndarray:
    m = np.zeros(SHAPE, bool)
    m[disk(centre, radius, shape=SHAPE)] = True
    return m


def _banded(radius=12, band=3) -> tuple[np.ndarray, np.ndarray]:
    """An object disk and the ring of width ``band`` around it (the ignore band)."""
    obj = _disk(radius=radius)
    return obj, _disk(radius=radius + band) & ~obj


def _image(fg: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (40 + 150 * fg + rng.integers(0, 20, fg.shape)).astype(np.uint8)


def _write_folder(root: Path, masks: dict[str, np.ndarray], image_suffixes=(".png",),
                  mask_suffix=".png") -> Path:
    """``root/images/<id><suffix>`` + ``root/masks/<id><mask_suffix>`` for each mask."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k, (item, mask) in enumerate(masks.items()):
        suffix = image_suffixes[k % len(image_suffixes)]
        img = _image(mask > 0)
        if suffix == ".tif":
            tifffile.imwrite(root / "images" / f"{item}{suffix}", img)
        else:
            imsave(root / "images" / f"{item}{suffix}", img, check_contrast=False)
        if mask_suffix == ".tif":
            tifffile.imwrite(root / "masks" / f"{item}{mask_suffix}", mask)
        else:
            imsave(root / "masks" / f"{item}{mask_suffix}", mask, check_contrast=False)
    return root


def _uids(objects: dict) -> list[str]:
    return [o.uid for objs in objects.values() for o in objs]


# --- layouts ---------------------------------------------------------------------------------


def test_layouts_are_detected(tmp_path: Path):
    folder = _write_folder(tmp_path / "mine", {"a": _disk().astype(np.uint8)})
    shared = make_fake_data(tmp_path / "data")
    assert (detect_layout(folder).kind, detect_layout(folder).shared) == ("dataset", False)
    assert (detect_layout(shared).kind, detect_layout(shared).shared) == ("collection", True)
    inside = detect_layout(shared / "2d" / "dsb2018")  # a dataset folder of the 2d/3d layout
    assert (inside.kind, inside.shared) == ("dataset", True)
    assert detect_layout(shared / "3d" / "totalseg_ct").kind == "volume"
    assert (detect_layout(shared / "2d").kind, detect_layout(shared / "2d").shared) == (
        "datasets", True)
    assert (detect_layout(tmp_path).kind, detect_layout(tmp_path).shared) == ("datasets", False)
    # a dataset folder keeps its collection's item split and dataset name
    alone = collect_objects(shared / "2d" / "dsb2018", max_objects=None, per_image=None)
    within = collect_objects(shared, splits=["nuclei"], max_objects=None, per_image=None)
    assert _uids(alone) == _uids(within) and len(_uids(alone)) == 6


def test_unknown_layout_gets_a_clear_error(tmp_path: Path, capsys):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "pictures").mkdir()
    with pytest.raises(InvalidInputError) as err:
        detect_layout(odd)
    msg = str(err.value)
    assert "none of the data layouts" in msg and "DIR/images/<id>" in msg and "DIR/2d/" in msg
    assert "DIR/image.(tif" in msg
    only_images = tmp_path / "only_images"
    (only_images / "images").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="no masks/"):
        detect_layout(only_images)
    assert main(["bench", "interactive", "--data", str(odd), "--methods", "random_walker"]) == 1
    assert "Expected one of" in capsys.readouterr().err


def test_folder_scores_every_item_with_split_all(tmp_path: Path):
    masks = {f"img{k}": _disk((20 + 3 * k, 30), 9).astype(np.uint8) for k in range(7)}
    folder = _write_folder(tmp_path / "my_images", masks, image_suffixes=(".png", ".jpg", ".tif"))
    tifffile.imwrite(folder / "masks" / "img0.tif", masks["img0"])  # a tif mask wins over png
    (folder / "masks" / "img0.png").unlink()
    out = tmp_path / "out" / "bench.json"
    code = main(["bench", "interactive", "--data", str(folder), "--methods", "random_walker",
                 "--split", "all", "--max-clicks", "2", "--threads", "1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["split"] == "all"
    assert report["settings"]["layout"].startswith("one 2D dataset folder")
    assert report["scored"] == {"my_images": {"items": 7, "items_with_objects": 7,
                                              "candidates": 7, "objects": 7}}
    assert sorted(o["uid"] for o in report["objects"]) == [
        f"my_images/img{k}/object" for k in range(7)]
    assert "--split all" in report["command"] and "--ignore-value 255" in report["command"]
    md = out.with_suffix(".md").read_text()
    assert "Split scored: **all**" in md and "7 objects on 7 of 7 items" in md


def test_split_auto_val_train_all(tmp_path: Path):
    shared = make_fake_data(tmp_path / "data")  # dsb2018: 2 val items and 1 train item
    def items(**kw):
        objs = collect_objects(shared, splits=["nuclei"], max_objects=None, per_image=None, **kw)
        return {o.item_id for o in objs.get("nuclei", [])}
    val, train, every = items(), items(subset="train"), items(subset="all")
    assert len(val) == 2 and len(train) == 1 and every == val | train
    folder = _write_folder(tmp_path / "mine", {f"i{k}": _disk().astype(np.uint8)
                                              for k in range(6)})
    # auto on a folder outside the 2d/3d layout: every item (a hash split would keep ~1 in 5)
    from napari_ifss.eval.bench_data import resolve_subset

    assert resolve_subset("auto", detect_layout(folder))[0] == "all"
    assert resolve_subset("auto", detect_layout(shared))[0] == "val"
    assert resolve_subset("train", detect_layout(folder))[0] == "train"


# --- ignore band -----------------------------------------------------------------------------


def test_ignore_band_left_out_of_iou_and_boundary_iou():
    obj, band = _banded()
    pred = obj | band  # matches the object and fills the ignore band
    assert iou(pred, obj) < 0.8 and boundary_iou(pred, obj) < 0.9
    assert iou(pred, obj, band) == 1.0
    assert boundary_iou(pred, obj, ignore=band) == 1.0
    # pixels in the band count in neither the intersection nor the union
    half = obj.copy()
    half[:32] = False
    assert iou(half | band, obj, band) == pytest.approx(half.sum() / obj.sum())


def test_robot_never_clicks_the_ignore_band():
    obj, band = _banded(radius=10, band=8)  # a wide band: without ignore, the largest error
    pred = band | obj
    pred[30:35, 30:35] = False  # a small hole in the object
    assert not next_click(obj, pred).positive  # the band as FP wins without ignore
    click = next_click(obj, pred, ignore=band)
    assert click.positive and 30 <= click.row < 35 and 30 <= click.col < 35
    assert next_click(obj, obj | band, ignore=band) is None  # nothing left outside the band
    clicker = Clicker(obj, ignore=band)
    assert clicker.click() is not None and clicker.click(obj | band) is None


class _FillsTheBand:
    """A segmenter that always predicts the object plus its ignore band (plus its FN holes
    filled only after two clicks)."""

    def __init__(self, obj: np.ndarray, band: np.ndarray) -> None:
        self.obj, self.band = obj, band

    def set_image(self, image: np.ndarray) -> None:
        pass

    def predict(self, clicks, prev=None) -> np.ndarray:
        out = self.obj | self.band
        if len(clicks) < 2:
            out = out & ~_disk((32, 32), 4)
        return out.astype(np.float32)


def test_band_from_a_folder_is_ignore_not_objects(tmp_path: Path):
    obj, band = _banded()
    mask = np.where(band, 255, obj).astype(np.uint8)  # {0, 1, 255}: object 1 + ignore band
    folder = _write_folder(tmp_path / "banded", {"a": mask})
    objs = collect_objects(folder, subset="all")["banded"]
    assert [o.label for o in objs] == ["object"]
    assert np.array_equal(objs[0].mask, obj) and np.array_equal(objs[0].ignore, band)
    result = run_object(_FillsTheBand(obj, band), objs[0], "fills", max_clicks=6)
    assert result.ious[-1] == 1.0 and result.boundary_ious[1] == 1.0
    assert result.ignored == band.sum() and result.to_dict()["ignored_px"] == band.sum()
    assert all(not band[int(r), int(c)] for r, c, _ in result.clicks)
    # switched off: the band is a label of its own (one more instance)
    off = collect_objects(folder, subset="all", ignore_value=None)["banded"]
    assert sorted(o.label for o in off) == ["1", "255"] and off[0].ignore is None


def test_grabcut_style_ignore_value(tmp_path: Path):
    obj, band = _banded()
    mask = np.where(band, 128, np.where(obj, 255, 0)).astype(np.uint8)  # {0, 128, 255}
    folder = _write_folder(tmp_path / "grabcut", {"a": mask})
    objs = collect_objects(folder, subset="all", ignore_value=128)["grabcut"]
    assert [o.label for o in objs] == ["object"] and np.array_equal(objs[0].ignore, band)


# --- binary and instance masks ---------------------------------------------------------------


def test_binary_masks_are_one_object_each(tmp_path: Path):
    two_blobs = _disk((16, 16), 8) | _disk((46, 46), 8)
    folder = _write_folder(tmp_path / "binary", {
        "ones": two_blobs.astype(np.uint8),  # {0, 1}
        "twofivefive": two_blobs.astype(np.uint8) * 255,  # {0, 255} with ignore value 255
    })
    tally = Tally()
    objs = collect_objects(folder, subset="all", tally=tally)["binary"]
    assert sorted((o.item_id, o.label, o.area) for o in objs) == [
        ("ones", "object", two_blobs.sum()), ("twofivefive", "object", two_blobs.sum())]
    assert all(o.ignore is None for o in objs)
    assert tally.notes == {("binary", NOTE_BINARY.format(v=255)): 1}


def test_instance_maps_keep_one_object_per_id(tmp_path: Path):
    labels = np.zeros(SHAPE, np.uint16)
    for c, v in ((16, 16), 1), ((16, 46), 255), ((46, 30), 300):
        labels[_disk(c, 8)] = v
    folder = _write_folder(tmp_path / "inst", {"a": labels}, mask_suffix=".tif")
    tally = Tally()
    objs = collect_objects(folder, subset="all", tally=tally)["inst"]
    assert sorted(o.label for o in objs) == ["1", "255", "300"]  # 255 is an id here
    assert list(tally.notes) == [("inst", NOTE_INSTANCE_ID.format(v=255))]


def test_palette_png_masks_give_indices_and_shape_is_checked(tmp_path: Path):
    folder = _write_folder(tmp_path / "davis", {"a": np.zeros(SHAPE, np.uint8)})
    idx = np.zeros(SHAPE, np.uint8)
    idx[_disk((20, 20), 9)] = 1
    idx[_disk((44, 44), 9)] = 2
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
    pal.save(folder / "masks" / "a.png")
    assert sorted(o.label for o in collect_objects(folder, subset="all")["davis"]) == ["1", "2"]
    imsave(folder / "masks" / "a.png", np.zeros((32, 32), np.uint8), check_contrast=False)
    with pytest.raises(InvalidInputError, match="height and width"):
        collect_objects(folder, subset="all")


def test_cli_options_parse_and_empty_split_is_explained(tmp_path: Path, capsys):
    folder = _write_folder(tmp_path / "mine", {"img1": _disk().astype(np.uint8)})
    from napari_ifss.core.data.datasets import split_of

    assert split_of("mine", "img1") == "train"  # so --split val finds nothing
    assert main(["bench", "interactive", "--data", str(folder), "--methods", "random_walker",
                 "--split", "val", "--ignore-value", "none", "--max-objects", "all",
                 "--per-image", "all"]) == 1
    err = capsys.readouterr().err
    assert "no evaluation objects" in err and "split val" in err and "--split all" in err
    with pytest.raises(SystemExit):
        main(["bench", "interactive", "--data", str(folder), "--max-objects", "0"])
    with pytest.raises(SystemExit):
        main(["bench", "interactive", "--data", str(folder), "--ignore-value", "white"])


def test_focus_above_option_reaches_the_click_model(tmp_path: Path, monkeypatch):
    """``--focus-above PX|none`` sets the click models' focus windows for the run."""
    from napari_ifss.eval import interactive_bench

    folder = _write_folder(tmp_path / "mine", {"img1": _disk().astype(np.uint8)})
    seen = []
    original = interactive_bench.run_benchmark

    def spy(objects, segmenters, *args, **kwargs):
        seen.extend(getattr(getattr(s, "segmenter", s), "focus_above", "n/a")  # the model
                    for s in segmenters.values())
        return original(objects, segmenters, *args, **kwargs)

    monkeypatch.setattr(interactive_bench, "run_benchmark", spy)
    for value, expected in (("none", None), ("48", 48)):
        seen.clear()
        assert main(["bench", "interactive", "--data", str(folder), "--split", "all",
                     "--methods", "concat,concat+clicked,random_walker", "--max-clicks", "1",
                     "--focus-above", value, "--threads", "1"]) == 0
        assert seen == [expected, expected, "n/a"]  # the '+clicked' wrapper's model too
    for bad in ("0", "big"):
        with pytest.raises(SystemExit):
            main(["bench", "interactive", "--data", str(folder), "--focus-above", bad])
