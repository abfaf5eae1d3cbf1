"""Save docs/images/interactive.png: the Interactive segmentation dock at work on the sample.

Opens the synthetic sample stack, docks "Interactive segmentation", clicks on cells of the
middle slice (at the deepest point of ground-truth cells, as a user would click near a cell's
centre), commits one object and leaves a second one as a live preview, then saves a screenshot
of the whole window and prints the dock's status lines (with the timings from the status
tooltip).

    xvfb-run -a .venv/bin/python scripts/screenshot_interactive.py [--segmenter random-walker]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import napari
import numpy as np
from _viewer_shot import save_window, wait_idle
from scipy import ndimage as ndi

from napari_ifss._napari.interactive_dock import InteractiveDock

PLUGIN = "napari-ifss"



def _centre(truth2d: np.ndarray, label: int) -> tuple[int, int]:
    dist = ndi.distance_transform_edt(truth2d == label)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "docs/images/interactive.png"))
    parser.add_argument("--segmenter", choices=["default", "random-walker"], default="default")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    segmenter = None
    if args.segmenter == "random-walker":
        from napari_ifss.eval.random_walker import RandomWalkerSegmenter

        segmenter = RandomWalkerSegmenter()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open_sample(PLUGIN, "synthetic_cells")
    image = viewer.layers["synthetic cells"]
    truth = viewer.layers["synthetic cells ground truth"].data
    dock = InteractiveDock(viewer, segmenter=segmenter)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation", area="right")
    app = napari.qt.get_qapp()
    z = image.data.shape[0] // 2
    viewer.dims.set_current_step(0, z)
    ids, sizes = np.unique(truth[z][truth[z] > 0], return_counts=True)
    first, second = ids[np.argsort(sizes)[::-1][:2]]
    for label, commit in ((first, True), (second, False)):
        r, c = _centre(truth[z], label)
        dock.prompts.add(np.array([[z, r, c]], float))
        wait_idle(dock, app)
        print(dock.status, "|", dock._status.tooltip)
        if commit:
            dock.commit()
            print(dock.status)
    viewer.layers.selection.active = dock.prompts
    mode = dock.prompts.mode
    print(f"saved {save_window(viewer, app, args.out)}; prompts mode: {mode}")


if __name__ == "__main__":
    main()
