"""#20 (1): exemplar mode on a large slice works tile by tile at the objects' own scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.exemplar.exemplar import ExemplarSettings, segment_all_like_steps
from napari_ifss.core.exemplar.exemplar_tiles import TileProgress, tiled_scale
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.tiles import box_around, tile_boxes
from napari_ifss.eval.exemplar_protocol import choose_exemplar, match_instances


def test_tile_boxes_cover_once_with_a_halo():
    boxes = tile_boxes((70, 45), 32, 4)
    cover = np.zeros((70, 45), int)
    for (a0, a1, b0, b1), (k0, k1, l0, l1) in boxes:
        cover[k0:k1, l0:l1] += 1
        assert 0 <= a0 <= k0 < k1 <= a1 <= 70 and 0 <= b0 <= l0 < l1 <= b1 <= 45
        assert a1 - a0 == 32 and b1 - b0 == 32  # full tiles, moved inside at the edges
        assert (k0 - a0 >= 4 or a0 == 0) and (a1 - k1 >= 4 or a1 == 70)
    assert (cover == 1).all()
    assert tile_boxes((20, 20), 32, 4) == [((0, 20, 0, 20), (0, 20, 0, 20))]  # image < tile
    with pytest.raises(ValueError, match="halo"):
        tile_boxes((10, 10), 8, 4)
    assert box_around((2, 40), 16, (30, 45)) == (0, 16, 29, 45)
    assert box_around((5, 5), 64, (30, 45)) == (0, 30, 0, 45)


def test_tiled_scale_only_when_the_slice_would_shrink_the_objects_a_lot():
    assert tiled_scale((512, 512), 20.0, 32.0, 64, 1024) is None
    assert tiled_scale((2048, 2048), 20.0, 32.0, 64, 1024) is None  # 0.5: kept whole
    assert tiled_scale((4096, 4096), 20.0, 32.0, 64, 1024) == pytest.approx(1.0)
    assert tiled_scale((20000, 20000), 20.0, 32.0, 64, 1024) == pytest.approx(8192 / 20000)
    assert tiled_scale((4096, 4096), 100.0, 32.0, 64, 1024) is None  # 50 px when shrunk
    assert tiled_scale((20000, 20000), 1000.0, 32.0, 64, 1024) is None


def test_a_large_mosaic_is_segmented_at_the_cells_scale():
    torch.set_num_threads(1)
    image, labels = make_synthetic_cells((512, 512), n_cells=30, seed=11,
                                         spacing=(0.35, 0.35))
    reps = 3  # a 1536 px canvas for a network of 512 px: the whole slice shrinks 3x
    big = np.tile(image, (reps, reps))
    truth = np.zeros(big.shape, np.int32)
    for k in range(reps * reps):
        r, c = divmod(k, reps)
        truth[r * 512:(r + 1) * 512, c * 512:(c + 1) * 512] = np.where(
            labels > 0, labels + 100 * k, 0)
    ex_id = choose_exemplar(truth[512:1024, 512:1024])
    drawn = np.where(truth == ex_id, ex_id, 0).astype(np.int32)
    others = np.where(truth == ex_id, 0, truth)
    seg = FewShotSegmenter.default(device="cpu", max_side=512)
    recall = {}
    for tiles in (True, False):
        steps = segment_all_like_steps(big, drawn, ex_id, segmenter=seg,
                                       settings=ExemplarSettings(tiles=tiles))
        events = []
        while True:  # the progress generator: one event per tile, then the result
            try:
                events.append(next(steps))
            except StopIteration as end:
                res = end.value
                break
        if tiles:
            n = len(events)
            assert n > 1 and events == [TileProgress(k, n) for k in range(1, n + 1)]
        else:
            assert events == []  # the whole slice at once
        assert res.labels.shape == big.shape and not res.labels[truth == ex_id].any()
        recall[tiles] = len(match_instances(others, res.labels)) / len(np.unique(others)[1:])
        assert (res.scale == 1.0) == tiles
    # measured: 0.85 in tiles, 0.66 with the canvas shrunk (0.76 on the 512 px image alone)
    assert recall[True] > 0.75 and recall[True] > recall[False] + 0.1, recall
