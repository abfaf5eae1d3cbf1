"""Save docs/images/fewshot.png: the Few-shot propagation dock after a run on the sample.

Opens the synthetic sample stack, copies two big ground-truth cells on the same two slices into
an "ifss labels" layer (standing in for objects drawn with the Interactive dock), docks "Few-shot
propagation", runs it with the shipped model over all slices, and saves a screenshot of the
whole window on a propagated slice. Prints the dock's status line and the Dice of every
propagated slice against the ground truth.

    xvfb-run -a .venv/bin/python scripts/screenshot_fewshot.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import napari
import numpy as np
from _viewer_shot import sample_viewer, save_window, wait_idle

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss.core.fewshot.support import evenly_spaced_slices, object_slices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "docs/images/fewshot.png"))
    args = parser.parse_args()
    viewer, image, truth = sample_viewer()
    depth = truth.shape[0]
    ids, counts = np.unique(truth[truth > 0], return_counts=True)
    first = int(ids[np.argmax(counts)])  # the biggest cell, drawn on two slices of its extent
    zs = evenly_spaced_slices(object_slices(truth == first), 2)
    # a slice holding any label is never written: draw the second cell on the same slices
    both = (set(np.unique(truth[zs[0]])) & set(np.unique(truth[zs[1]]))) - {0, first}
    second = max(both, key=lambda i: int((truth == i).sum()))
    ids, support = [first, int(second)], {first: zs, int(second): zs}
    labels = np.zeros(truth.shape, np.int32)
    for i in ids:
        for z in zs:
            labels[z][truth[z] == i] = i
    viewer.add_labels(labels, name="ifss labels", scale=image.scale, translate=image.translate)
    dock = FewShotDock(viewer)
    viewer.window.add_dock_widget(dock, name="Few-shot propagation", area="right")
    app = napari.qt.get_qapp()
    dock.propagate()
    wait_idle(dock, app)
    print(dock.status)
    out_labels = viewer.layers["ifss labels"].data
    for i in ids:
        dice = []
        for z in range(depth):
            p, g = out_labels[z] == i, truth[z] == i
            if z not in support[i] and (p.any() or g.any()):
                dice.append(f"{z}:{2 * (p & g).sum() / (p.sum() + g.sum()):.2f}")
        print(f"label {i} Dice per slice: {' '.join(dice)}")
    viewer.dims.set_current_step(0, sum(support[ids[0]]) // 2)
    viewer.layers.selection.active = viewer.layers["ifss labels"]
    print(f"saved {save_window(viewer, app, args.out)}")


if __name__ == "__main__":
    main()
