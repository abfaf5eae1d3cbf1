"""Save the screenshots of docs/your-own-data.md: a multichannel file, a CT stack, a 3D movie
of two channels and a large mosaic from an OME-Zarr pyramid.

1. ``own_data_channels.png``: a 2-channel z-stack saved as OME-TIFF (axes CZYX; the object is
   seen only in the dim channel 1) opened with napari's File > Open through the plugin's
   reader: one layer per channel; the Interactive dock, on channel 0 with channel 1 as its
   other channel (chosen by default), segments a cell only channel 1 shows with one click.
2. ``own_data_ct.png``: a synthetic int16 CT stack (an organ 35 HU above soft tissue, air and
   bone around it) in the Few-shot dock with *intensity* set to *CT soft tissue*, propagated
   from one drawn slice and scored.
3. ``own_data_movie.png``: a two-channel 3D movie (cells drifting through time, seen only in
   the dim channel) in the Few-shot dock: one cell drawn on one slice of one time point,
   followed through the slices of that time point, then through time, with the other
   channel chosen, and the badges of the run through time; shown at a later time point.
4. ``own_data_mosaic.png``: an 8192 x 8192 mosaic of ~40 px cells written as a 5-level
   OME-Zarr, opened with File > Open (a pyramid layer), one click in the Interactive dock and
   *Commit* (the labels layer is a pyramid too), zoomed in on the cell.

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
from _viewer_shot import PLUGIN, out_dir, save_window, wait_idle

from napari_ifss._napari.fewshot_dock import FewShotDock
from napari_ifss._napari.interactive_dock import InteractiveDock
from napari_ifss.core.data.ngff_sample import ngff_axes, write_ngff_image
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
        print("saved", save_window(viewer, app, out / "own_data_channels.png"))

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
    print("saved", save_window(viewer, app, out / "own_data_ct.png"))

    movie_shot(out, app)
    with tempfile.TemporaryDirectory() as tmp:
        mosaic_shot(out, app, Path(tmp))


def two_channel_movie() -> tuple[np.ndarray, np.ndarray]:
    """``(2, T, Z, Y, X)`` uint16: bright noise, then cells drifting 3 px per time point seen
    dimly; the cells' ground truth ``(T, Z, Y, X)``."""
    vol, truth = make_synthetic_cells((10, 128, 128), n_cells=10, seed=4)
    movie = np.stack([np.roll(vol, 3 * t, axis=2) for t in range(8)])
    labels = np.stack([np.roll(truth, 3 * t, axis=2) for t in range(8)])
    dim = (100 + 80 * (movie - movie.min()) / np.ptp(movie)).astype(np.uint16)
    noise = np.random.default_rng(0).integers(1000, 3000, movie.shape).astype(np.uint16)
    return np.stack([noise, dim]), labels


def movie_shot(out: Path, app) -> None:
    """3. a two-channel movie followed through z, then through time."""
    data, truth = two_channel_movie()
    cell = int(np.bincount(truth[2, 5].ravel())[1:].argmax() + 1)
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1270, 880)
    noise, dim = viewer.add_image(data, channel_axis=0, name=["noise", "cells"],
                                  colormap=["gray", "magenta"], blending="additive",
                                  axis_labels=("t", "z", "y", "x"))
    noise.visible = False
    user = np.zeros(truth.shape, np.int32)
    user[2, 5] = np.where(truth[2, 5] == cell, 1, 0)
    labels = viewer.add_labels(user, name="cell", axis_labels=("t", "z", "y", "x"))
    fewshot = FewShotDock(viewer)
    viewer.window.add_dock_widget(fewshot, name="Few-shot propagation", area="right")
    fewshot._image_box.value, fewshot._labels_box.value = dim, labels
    fewshot.channels.restore([noise])
    for along in ("z", "t"):
        fewshot._along.value = along
        fewshot.propagate()
        wait_idle(fewshot, app, timeout=600)  # the run and its quality badges
        print(f"3: along {along}:", fewshot.status, "|", fewshot.quality.status)
    gt = truth == cell
    print("3: mean Dice over time points",
          round(float(np.mean([_dice(labels.data[t] == 1, gt[t]) for t in range(8)])), 3))
    viewer.dims.set_current_step(0, 6)
    viewer.dims.set_current_step(1, 5)
    print("saved", save_window(viewer, app, out / "own_data_movie.png"))


def mosaic_shot(out: Path, app, folder: Path) -> None:
    """4. an 8192 px mosaic from an OME-Zarr pyramid: one click, Commit, zoomed in."""
    tile, truth = make_synthetic_cells((512, 512), n_cells=30, seed=11, spacing=(0.35, 0.35))
    path = write_ngff_image(folder / "mosaic.ome.zarr", np.tile(tile, (16, 16)),
                            ngff_axes("YX"), [0.35, 0.35], levels=5, name="mosaic")
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1270, 880)
    viewer.open(str(path), plugin=PLUGIN)
    image = viewer.layers[0]
    print("4: layer", image.name, "multiscale", image.multiscale,
          [tuple(lv.shape) for lv in image.data])
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation", area="right")
    off = 8 * 512  # a cell of the tile near the mosaic's centre
    cell = int(np.bincount(truth[200:320, 200:320].ravel())[1:].argmax() + 1)
    rows, cols = np.nonzero(truth == cell)
    point = np.array([off + np.median(rows), off + np.median(cols)])
    dock.prompts.add(np.asarray(dock.prompts.world_to_data(image.data_to_world(point)))[None])
    wait_idle(dock, app)
    print("4:", dock.status)
    dock.commit()
    labels = dock._labels_box.value
    mask = np.asarray(labels.data[0][off:off + 512, off:off + 512]) > 0
    print("4:", dock.status, "| pyramid labels", labels.multiscale, "| Dice",
          round(_dice(mask, truth == cell), 3))
    camera = viewer.scene.camera
    camera.center = tuple(image.data_to_world(point))
    camera.zoom = 2.0
    print("saved", save_window(viewer, app, out / "own_data_mosaic.png", fit=False))


if __name__ == "__main__":
    main()
