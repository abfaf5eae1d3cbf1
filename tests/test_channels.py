"""#20 (3): several channels of one image used together by the click model (core, session,
API) and by propagation (the head and scores: tests/test_channels_fewshot.py)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch

import napari_ifss as ifss
from napari_ifss.core.channels import Channels
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.interactive.channel_choice import confidence, most_confident
from napari_ifss.core.interactive.predictor import ClickPredictor
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.core.normalize import IntensityWindow
from napari_ifss.eval.metrics import iou
from napari_ifss.eval.random_walker import RandomWalkerSegmenter


def two_channels(side: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bright, dim, dim cells' labels)``: channel 1 shows other cells at ~8 % brightness."""
    a, _ = make_synthetic_cells((side, side), n_cells=14, seed=300)
    b, lb = make_synthetic_cells((side, side), n_cells=8, seed=401)
    return a, (b.astype(np.float32) * 0.08 + 50).astype(np.uint16), lb


def centre_click(mask: np.ndarray) -> Click:
    """A positive click on the mask pixel nearest its centroid."""
    pts = np.argwhere(mask)
    r, c = pts[np.argmin(((pts - pts.mean(0)) ** 2).sum(1))]
    return Click(int(r), int(c), True)


@pytest.fixture(scope="module")
def predictor() -> ClickPredictor:
    torch.set_num_threads(1)
    return ClickPredictor.default(device="cpu")


def test_channels_checks_and_views():
    a = np.zeros((5, 6), np.uint16)
    with pytest.raises(InvalidInputError, match="one shape"):
        Channels((a, np.zeros((5, 7))))
    with pytest.raises(InvalidInputError, match="at least one"):
        Channels(())
    with pytest.raises(InvalidInputError, match=r"\(H, W\), a stack"):
        Channels((np.zeros((2, 4, 5, 6, 3)),))
    assert Channels((np.zeros((4, 5, 6, 3)),)).ndim == 4  # a 3D movie (propagation only)
    with pytest.raises(InvalidInputError, match="windows and names"):
        Channels((a, a), windows=(None,))
    stack = da.zeros((3, 4, 5, 6), chunks=(1, 1, 5, 6), dtype=np.uint16)  # (C, Z, Y, X)
    ch = Channels.from_array(stack, channel_axis=0)
    assert ch.count == 3 and ch.shape == (4, 5, 6) and isinstance(ch.arrays[0], da.Array)
    assert ch[2].shape == (5, 6) and ch[2].names == ("channel 0", "channel 1", "channel 2")
    assert Channels.from_array(np.zeros((5, 6, 2)), -1).shape == (5, 6)
    import zarr

    store = zarr.zeros((2, 3, 5, 6), chunks=(1, 1, 5, 6), dtype=np.uint16)
    lazy = Channels.from_array(store, channel_axis=0)
    assert all(isinstance(a, da.Array) for a in lazy.arrays)  # nothing read
    with pytest.raises(InvalidInputError, match="not an axis"):
        Channels.from_array(a, channel_axis=2)
    picked = ch.picked([2, 0])
    assert picked.names == ("channel 2", "channel 0") and picked.count == 2
    for bad, msg in (([3], "out of range"), ([0, 0], "repeat"), ([], "picks nothing")):
        with pytest.raises(InvalidInputError, match=msg):
            ch.picked(bad)
    w = IntensityWindow(0, 10)
    assert ch.with_windows(w).windows == (w, w, w)


def test_confidence_prefers_a_crisp_answer():
    crisp = np.zeros((20, 20), np.float32)
    crisp[5:10, 5:10] = 0.98
    faint = np.full((20, 20), 0.3, np.float32)
    faint[4:12, 4:12] = 0.6
    assert confidence(crisp) > 0.9 > 0.3 > confidence(faint)
    assert confidence(np.zeros((4, 4))) == 0.0
    assert most_confident([faint, crisp]) == 1 and most_confident([crisp, crisp]) == 0


def test_an_object_seen_only_in_the_dim_channel(predictor):
    bright, dim, lab = two_channels()
    sizes = np.bincount(lab.ravel())[1:]
    gt = lab == int(np.argmax(sizes) + 1)
    click = centre_click(gt)
    predictor.set_image(dim)
    alone = iou(predictor.predict([click]) > 0.5, gt)
    predictor.set_image(Channels((bright, dim)), key="pair")
    both = iou(predictor.predict([click]) > 0.5, gt)
    assert predictor.last_channel == 1
    predictor.set_image(np.stack([bright, dim, np.zeros_like(dim)], -1))  # one window: RGB
    rgb = iou(predictor.predict([click]) > 0.5, gt)
    assert alone > 0.6 and both >= alone - 0.05 and both > rgb + 0.1, (alone, both, rgb)
    calls = predictor.encoder_calls
    predictor.set_image(Channels((bright, dim)), key="pair")  # both channels cached
    assert predictor.encoder_calls == calls


def test_session_with_channels(predictor):
    bright, dim, lab = two_channels()
    gt = lab == int(np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    click = centre_click(gt)
    session = InteractiveSession(predictor)
    session.set_image(Channels((bright, dim)), key=1)
    mask = session.add_click(click.row, click.col)
    assert iou(mask, gt) > 0.5 and session.window is None
    # one window per channel: the slice's clicks are predicted again under them
    wins = (IntensityWindow(0, 5000), IntensityWindow(40, 200))
    session.set_image(Channels((bright, dim)), key=1, window=wins)
    assert session.window == wins and len(session.clicks) == 1
    with pytest.raises(InvalidInputError, match="2 windows for 3 channels"):
        session.set_image(Channels((bright, dim, dim)), window=wins)
    with pytest.raises(InvalidInputError, match="needs several channels"):
        session.set_image(dim, window=wins)
    # one channel is a plain slice, for any model; several only for one that takes them
    rw = InteractiveSession(RandomWalkerSegmenter(max_side=64))
    rw.set_image(Channels((dim,)))
    with pytest.raises(InvalidInputError, match="uses one channel"):
        rw.set_image(Channels((bright, dim)))
    with pytest.raises(InvalidInputError, match="one 2D slice"):
        session.set_image(Channels((np.stack([dim, dim]),) * 2))


def test_api_takes_channels_as_a_list_or_an_axis(predictor, tmp_path):
    bright, dim, lab = two_channels()
    gt = lab == int(np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    click = centre_click(gt)
    session = InteractiveSession(predictor)
    as_list = ifss.segment_clicks([bright, dim], [(click.row, click.col)], session=session)
    stacked = np.stack([bright, dim])
    as_axis = ifss.segment_clicks(stacked, [(click.row, click.col)], session=session,
                                  channel_axis=0)
    np.testing.assert_array_equal(as_list, as_axis)
    assert iou(as_axis, gt) > 0.5
    only_dim = ifss.segment_clicks(stacked, [(click.row, click.col)], session=session,
                                   channel_axis=0, channels=[1])
    assert iou(only_dim, gt) > 0.5
    with pytest.raises(InvalidInputError, match="channels= picks"):
        ifss.segment_clicks(dim, [(1, 1)], channels=[0])
    with pytest.raises(InvalidInputError, match="out of range"):
        ifss.segment_clicks(stacked, [(1, 1)], channel_axis=0, channels=[2])
    # a two-channel OME-TIFF: open_channels gives one LayerData per channel, used together
    import tifffile

    path = tmp_path / "pair.ome.tif"
    tifffile.imwrite(path, stacked, ome=True, metadata={"axes": "CYX"})
    layers = ifss.open_channels(path)
    assert [ly.name for ly in layers] == ["pair [channel 0]", "pair [channel 1]"]
    from_file = ifss.segment_clicks(layers, [(click.row, click.col)], session=session)
    np.testing.assert_array_equal(from_file, as_list)


def test_propagation_with_channels():
    vol, truth = make_synthetic_cells((8, 48, 48), n_cells=4, seed=3)
    labels = np.zeros_like(truth)
    cell = int(np.bincount(truth[2].ravel())[1:].argmax() + 1)
    labels[2][truth[2] == cell] = 1
    noise = np.random.default_rng(0).integers(0, 50, vol.shape).astype(vol.dtype)
    two = np.stack([noise, vol])  # (C, Z, Y, X)
    picked = ifss.propagate(two, labels, channel_axis=0, channels=1)
    np.testing.assert_array_equal(picked, ifss.propagate(vol, labels))
    both = ifss.propagate([noise, da.from_array(vol, chunks=(1, 48, 48))], labels)
    assert iou(both == 1, truth == cell) > 0.5
    np.testing.assert_array_equal(both, ifss.propagate(two, labels, channel_axis=0))
    with pytest.raises(InvalidInputError, match="one shape"):
        ifss.propagate([noise[:4], vol], labels)


def test_learner_checks_channels_of_queries():
    from napari_ifss.core.fewshot.learner_segmenter import LearnerSegmenter

    vol, truth = make_synthetic_cells((8, 48, 48), n_cells=4, seed=3)
    seg = LearnerSegmenter()
    seg.set_support([Channels((vol[2], vol[2] // 2))], [truth[2] == 1], positions=[2])
    assert len(seg.window) == 2
    prob = seg.predict(Channels((vol[3], vol[3] // 2)), position=3)
    assert prob.shape == (48, 48)
    with pytest.raises(InvalidInputError, match="the query has no channels"):
        seg.predict(vol[3], position=3)
    with pytest.raises(InvalidInputError, match="mix plain slices and channels"):
        seg.set_support([Channels((vol[2], vol[2])), vol[4]], [truth[2] == 1, truth[4] == 1])
    with pytest.raises(InvalidInputError, match="needs several channels"):
        seg.set_support([vol[2]], [truth[2] == 1], window=(None, None))


def test_cli_propagates_on_several_channels(tmp_path, capsys):
    import tifffile

    from napari_ifss.cli import main

    vol, truth = make_synthetic_cells((8, 48, 48), n_cells=4, seed=3)
    noise = np.random.default_rng(0).integers(0, 50, vol.shape).astype(vol.dtype)
    image = tmp_path / "two.ome.tif"
    tifffile.imwrite(image, np.stack([noise, vol]), ome=True, metadata={"axes": "CZYX"})
    cell = int(np.bincount(truth[2].ravel())[1:].argmax() + 1)
    labels = np.zeros(truth.shape, np.uint8)
    labels[2][truth[2] == cell] = 1
    support = tmp_path / "support.tif"
    ifss.save(support, labels)
    expected = ifss.propagate([noise, vol], labels)
    for choice in ("all", "0,1"):
        out = tmp_path / f"out_{choice.replace(',', '_')}.tif"
        assert main(["propagate", str(image), "--support", str(support), "--out", str(out),
                     "--channel", choice, "--quiet"]) == 0
        np.testing.assert_array_equal(ifss.open_image(out).data, expected)
    with pytest.raises(SystemExit) as exit_:
        main(["propagate", str(image), "--support", str(support), "--out",
              str(tmp_path / "x.tif"), "--channel", "0,x"])
    assert exit_.value.code == 2
    assert "a channel number, a list" in capsys.readouterr().err
    assert main(["propagate", str(image), "--support", str(support), "--out",
                 str(tmp_path / "m.tif"), "--channel", "all", "--along", "t"]) == 1
    assert "--along needs a 3D movie" in capsys.readouterr().err  # channels, no time points
