"""Tuning check of exemplar mode's ``ridge_rounds`` on dsb2018 *training* images (not the
benchmark, which scores the held-apart val images: ``ifss bench exemplar``).

    python benchmarks/exemplar_ridge_rounds.py [DATA_DIR] [N_IMAGES]

Prints recall and precision (matches at IoU 0.5) of every nucleus but the exemplar for one
and two ridge fits, with the shipped few-shot head, 1 torch thread.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_ifss.core.data.datasets import default_data_dir, iter_2d
from napari_ifss.core.exemplar.exemplar import EXEMPLAR_MAX_SIDE, ExemplarSettings, segment_all_like
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.eval.exemplar_protocol import choose_exemplar, match_instances


def main() -> None:
    torch.set_num_threads(1)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default_data_dir()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    items = [it for it in iter_2d(root, ["dsb2018"]) if it.split == "train"][:n]
    segmenter = FewShotSegmenter.default(max_side=EXEMPLAR_MAX_SIDE)
    for rounds in (1, 2):
        settings = ExemplarSettings(ridge_rounds=rounds)
        matched = others = found = 0
        t0 = time.perf_counter()
        for item in items:
            gt = item.load_mask().astype(np.int32)
            ex = choose_exemplar(gt)
            labels = np.where(gt == ex, ex, 0).astype(np.int32)
            result = segment_all_like(item.load_image(), labels, ex, segmenter=segmenter,
                                      settings=settings)
            hidden = np.where(labels != 0, 0, gt)
            matched += len(match_instances(hidden, result.labels))
            others += len(np.unique(hidden)) - 1
            found += result.count
        print(f"ridge_rounds={rounds}: recall {matched / others:.3f} ({matched}/{others}), "
              f"precision {matched / max(found, 1):.3f} ({matched}/{found}), "
              f"{len(items)} training images, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
