"""#20 (1): the per-volume learner on large slices works in a focus box around the object."""

from __future__ import annotations

import numpy as np
import torch

import napari_ifss as ifss
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.fewshot.learner_segmenter import LearnerSegmenter, focus_box
from napari_ifss.eval.metrics import iou


def test_focus_box_rules():
    mask = np.zeros((2000, 3000), bool)
    mask[1000:1040, 100:160] = True
    assert focus_box([mask], 1024) == (744, 1296, 0, 416)  # grown by >= 256 px, clipped
    assert focus_box([mask], None) is None and focus_box([mask[:1000, :1000]], 1024) is None
    big = np.zeros((2000, 2000), bool)
    big[200:1800, 300:1700] = True
    assert focus_box([big], 1024) is None  # the box would be the whole slice
    cells = np.zeros((2000, 2000), bool)
    for r in range(100, 1900, 150):
        for c in range(100, 1900, 150):
            cells[r:r + 60, c:c + 60] = True
    assert focus_box([cells], 1024) is None  # a class of many instances: whole slices


def test_learner_on_large_slices_sees_the_box_only():
    torch.set_num_threads(1)
    vol, truth = make_synthetic_cells((8, 512, 512), n_cells=30, seed=3)
    big, gt_big = np.tile(vol, (1, 3, 3)), np.zeros((8, 1536, 1536), bool)
    cell = int(np.bincount(truth[3].ravel())[1:].argmax() + 1)
    gt_big[:, 512:1024, 512:1024] = truth == cell
    labels = np.zeros(big.shape, np.uint8)
    labels[3][gt_big[3]] = 1
    seg = LearnerSegmenter()
    seg.set_support([big[3]], [gt_big[3]], positions=[3])
    r0, r1, c0, c1 = seg.box
    assert r1 - r0 < 1536 and c1 - c0 < 1536
    prob = seg.predict(big[4], position=4, neighbour=gt_big[3])
    assert prob.shape == (1536, 1536) and not prob[:r0].any() and not prob[:, c1:].any()
    out = ifss.propagate(big, labels)
    assert iou(out == 1, gt_big) > 0.85
