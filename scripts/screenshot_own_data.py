"""Save the screenshots of docs/your-own-data.md: a multichannel file and a CT stack.

1. ``own_data_channels.png``: a 2-channel z-stack saved as OME-TIFF (axes CZYX; the object is
   seen only in the dim channel 1) opened with napari's File > Open through the plugin's
   reader: one layer per channel; the Interactive dock, on channel 0 with channel 1 as its
   other channel (chosen by default), segments a cell only channel 1 shows with one click.
2. ``own_data_ct.png``: a synthetic int16 CT stack (an organ 35 HU above soft tissue, air and
   bone around it) in the Few-shot dock with *intensity* set to *CT soft tissue*, propagated
   from one drawn slice and scored.

Prints the status lines and Dice so that the page's words can be checked against the run.

    xvfb-run -a .venv/bin/python scripts/screenshot_own_data.py [--out-dir docs/images]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import napari
import numpy as np
import tifffile
import torch
from _viewer_shot import PLUGIN, out_dir, wait_idle

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.core.data.sample import make_synthetic_cells


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def two_channel_file(folder: Path) -> tuple[Path, np.ndarray]:
    """A CZYX OME-TIFF: channel 0 bright nuclei-like blobs, channel 1 a dim cell; the truth."""
    image, truth = make_synthetic_cells((16, 160, 160), n_cells=12, seed=5)
    cell = int(np.bincount(truth[8].ravel())[1:].argmax() + 1)
    rng = np.random.default_rng(0)
    dim = (100 + 60 * (truth == cell) + rng.normal(0, 8, truth.shape)).clip(0).astype(np.uint16)
    path = folder / "two_channels.ome.tif"
    tifffile.imwrite(path, np.stack([image, dim]), ome=True,
                     metadata={"axes": "CZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                               "PhysicalSizeZ": 2.0})
    return path, truth == cell


def ct_stack() -> tuple[np.ndarray, np.ndarray]:
    """(20, 192, 192) int16 HU with an organ (65 HU in 30 HU tissue), air and a bone."""
    rng = np.random.default_rng(1)
    rr, cc = np.mgrid[:192, :192]
    body = (rr - 96) ** 2 / 85 ** 2 + (cc - 96) ** 2 / 75 ** 2 < 1
    image, truth = [], []
    for z in range(20):
        img = -1000 + rng.normal(0, 10, (192, 192))
        img[body] = 30 + rng.normal(0, 8, int(body.sum()))
        radius = 26 * np.sqrt(max(1 - ((z - 10) / 11) ** 2, 0))
        organ = (rr - 80) ** 2 + (cc - 110) ** 2 < radius ** 2
        img[organ] += 35
        img[(rr - 140) ** 2 + (cc - 96) ** 2 < 15 ** 2] = 900
        image.append(img.astype(np.int16))
        truth.append(organ)
    return np.stack(image), np.stack(truth)


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    app = napari.qt.get_qapp()

    # 1. a two-channel file: one layer per channel, both used; a click on the dim channel's cell
    with tempfile.TemporaryDirectory() as tmp:
        path, cell = two_channel_file(Path(tmp))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1270, 880)
        viewer.open(str(path), plugin=PLUGIN)
        print("1: layers", [ly.name for ly in viewer.layers])
        dim = viewer.layers["two_channels [channel 1]"]
        bright = viewer.layers["two_channels [channel 0]"]
        dim.colormap, bright.colormap = "magenta", "green"
        dim.blending = bright.blending = "additive"
        dock = InteractiveDock(viewer)
        viewer.window.add_dock_widget(dock, name="Interactive segmentation", area="right")
        dock._image_box.value = bright  # its other channel (the dim one) is used by default
        print("1: other channels", [ly.name for ly in dock.channels.layers])
        viewer.dims.set_current_step(0, 8)
        rows, cols = np.nonzero(cell[8])
        point = np.array([8, np.median(rows), np.median(cols)])
        dock.prompts.add(np.asarray(dock.prompts.world_to_data(dim.data_to_world(point)))[None])
        wait_idle(dock, app)
        print("1:", dock.status, "| Dice", round(_dice(dock.preview.data[8] > 0, cell[8]), 3))
        viewer.reset_view()
        app.processEvents()
        viewer.screenshot(str(out / "own_data_channels.png"), canvas_only=False)
        print(f"saved {out / 'own_data_channels.png'}")
        viewer.close()

    # 2. a CT stack through the Few-shot dock with a soft-tissue window
    image, organ = ct_stack()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1270, 880)
    viewer.add_image(image, name="CT", scale=(3.0, 0.8, 0.8), contrast_limits=(-160, 240))
    user = np.zeros(organ.shape, np.int32)
    user[10] = organ[10]
    labels = viewer.add_labels(user, name="organ", scale=(3.0, 0.8, 0.8))
    fewshot = FewShotDock(viewer)
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation", area="right")
    fewshot.intensity.combo.value = "CT soft tissue"
    fewshot.propagate()
    wait_idle(fewshot, app, timeout=600)
    while fewshot.quality.scorer.busy:
        app.processEvents()
    app.processEvents()
    filled = [z for z in range(20) if z != 10 and organ[z].any()]
    print("2:", fewshot.status, "|", fewshot.quality.status, "| mean Dice",
          round(float(np.mean([_dice(labels.data[z] == 1, organ[z]) for z in filled])), 3))
    viewer.dims.set_current_step(0, 6)
    viewer.reset_view()
    app.processEvents()
    viewer.screenshot(str(out / "own_data_ct.png"), canvas_only=False)
    print(f"saved {out / 'own_data_ct.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
