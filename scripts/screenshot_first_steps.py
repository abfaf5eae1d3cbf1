"""Save the screenshots of docs/first-five-minutes.md: a first-time user's session on the sample.

The steps a new user takes, driven through the docks' own methods (the same ones their buttons
call) on the bundled synthetic sample stack, with the shipped models:

1. ``first_steps_1_box.png``: "Draw box" and a rectangle dragged around a cell on the middle
   slice; the preview shows its mask.
2. ``first_steps_2_click.png``: one corrective click inside the cell, then *Commit*; the
   same cell drawn on a second slice (box + commit) stays one object ("object: label 1").
3. ``first_steps_3_through.png``: *Segment object through all slices*: the Few-shot dock fills
   the other slices and scores each one (quality table, badges).
4. ``first_steps_4_next.png``: *Annotate next* jumps to the least trusted slice.

Prints each step's status lines and the Dice of the propagated slices against the sample's
ground truth, so the page's words can be checked against what the run did.

    xvfb-run -a .venv/bin/python scripts/screenshot_first_steps.py [--out-dir docs/images]
"""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from _viewer_shot import out_dir, sample_viewer, wait_idle

from napari_ifss._napari.interactive_dock import InteractiveDock


def _shot(viewer, app, path: Path) -> None:
    app.processEvents()
    viewer.screenshot(str(path), canvas_only=False)
    print(f"saved {path}")


def _drag_box(dock, image, z: int, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Draw the rectangle a user drags from (r0, c0) to (r1, c1) on slice z."""
    layer = dock.boxes.layer
    (r0, r1), (c0, c1) = rows, cols
    corners = [[z, r0, c0], [z, r0, c1], [z, r1, c1], [z, r1, c0]]
    layer.add_rectangles(np.asarray([layer.world_to_data(image.data_to_world(p))
                                     for p in corners], dtype=float))


def _bbox(mask: np.ndarray, pad: int = 3) -> tuple[tuple[int, int], tuple[int, int]]:
    rr, cc = np.nonzero(mask)
    return (int(rr.min()) - pad, int(rr.max()) + pad), (int(cc.min()) - pad, int(cc.max()) + pad)


def _worst_error_point(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, bool] | None:
    """The deepest pixel of the larger error (missed or extra), as a user would click it."""
    from scipy import ndimage as ndi

    missed, extra = truth & ~pred, pred & ~truth
    region, positive = (missed, True) if missed.sum() >= extra.sum() else (extra, False)
    if not region.any():
        return None
    dist = ndi.distance_transform_edt(region)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c), positive


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    viewer, image, truth = sample_viewer()
    dock = InteractiveDock(viewer)
    viewer.window.add_dock_widget(dock, name="Interactive segmentation", area="right")
    app = napari.qt.get_qapp()

    ids, counts = np.unique(truth[truth > 0], return_counts=True)
    cell = int(ids[np.argmax(counts)])  # the biggest cell: seen on many slices
    zs = np.nonzero((truth == cell).any(axis=(1, 2)))[0]
    z1, z2 = int(zs[len(zs) // 3]), int(zs[2 * len(zs) // 3])

    # 1. a box around the cell on the first slice
    viewer.dims.set_current_step(0, z1)
    dock.boxes.start()
    _drag_box(dock, image, z1, *_bbox(truth[z1] == cell))
    wait_idle(dock, app)
    print("1:", dock.status)
    _shot(viewer, app, out / "first_steps_1_box.png")

    # 2. one corrective click, commit; the same cell on a second slice, one object
    point = _worst_error_point(dock.preview.data[z1] > 0, truth[z1] == cell)
    if point is not None:
        r, c, positive = point
        dock._positive.value = positive
        dock.prompts.add(np.array([[z1, r, c]], float))
        wait_idle(dock, app)
        dock._positive.value = True
    print("2:", dock.status)
    dock.commit()
    viewer.dims.set_current_step(0, z2)
    dock.boxes.start()
    _drag_box(dock, image, z2, *_bbox(truth[z2] == cell))
    wait_idle(dock, app)
    dock.commit()
    print("2:", dock.status, "|", dock._object.value)
    _shot(viewer, app, out / "first_steps_2_click.png")

    # 3. through all slices from the Interactive dock (the Few-shot dock runs it and scores)
    fewshot = dock.segment_through_volume()
    wait_idle(fewshot, app, timeout=900)
    print("3:", fewshot.status, "|", fewshot.quality.status)
    labels = np.asarray(viewer.layers["ifss labels"].data)
    dice = []
    for z in range(truth.shape[0]):
        p, g = labels[z] == 1, truth[z] == cell
        if z not in (z1, z2) and (p.any() or g.any()):
            dice.append(f"{z}:{2 * (p & g).sum() / max(p.sum() + g.sum(), 1):.2f}")
    print("   Dice per propagated slice:", " ".join(dice))
    viewer.dims.set_current_step(0, (z1 + z2) // 2)
    _shot(viewer, app, out / "first_steps_3_through.png")

    # 4. annotate next: the least trusted slice
    row = fewshot.quality.annotate_next()
    print("4:", row, "|", fewshot.quality.status)
    _shot(viewer, app, out / "first_steps_4_next.png")
    viewer.close()


if __name__ == "__main__":
    main()
