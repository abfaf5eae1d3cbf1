"""A whole napari-ifss session from a plain Python script (no napari, no Qt).

Open a volume, segment one cell with clicks on two slices, propagate it through the stack,
score every propagated slice with JFS, and save labels, scores and the session.

Run:  python examples/scripted_session.py [OUTPUT_FOLDER]
The same calls work in a notebook and in napari's console (there they also accept layers
or layer names: ``ifss.propagate("cells", "ifss labels")``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import napari_ifss as ifss


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    # 1. An image file. Here: the bundled synthetic cells, saved as TIFF with 2 x 0.5 x 0.5 um
    #    voxels, then opened like any file (TIFF, NIfTI, MHA/MHD, NRRD, DICOM folder).
    stack, truth = ifss.make_synthetic_cells((16, 96, 96), n_cells=12, seed=1)
    like = ifss.LayerData.from_array(stack, "image", scale=(2.0, 0.5, 0.5))
    ifss.save(out / "cells.tif", stack, like=like)
    image = ifss.open_image(out / "cells.tif")
    print(f"opened {image.name}: shape {image.data.shape} (Z, Y, X), voxel {image.scale} um")

    # 2. Clicks on two slices. A real user looks at the image; this script clicks at the middle
    #    of one cell of the ground truth (coordinates are (row, col) on a slice).
    cell = int(np.bincount(truth[8].ravel())[1:].argmax() + 1)
    zs = np.flatnonzero(np.any(truth == cell, axis=(1, 2)))
    session = ifss.InteractiveSession()
    labels = np.zeros(image.data.shape, np.uint16)
    for z in (int(zs[len(zs) // 4]), int(zs[3 * len(zs) // 4])):   # two slices of that cell
        rows, cols = np.nonzero(truth[z] == cell)
        session.set_image(image.data[z], key=z)
        mask = session.add_click(float(np.median(rows)), float(np.median(cols)))
        print(f"slice {z}: one click -> {mask.sum()} px")
        labels[z][mask] = 1                                   # commit as label 1

    # 3. Propagate to every other slice (annotated slices are never changed).
    result = ifss.propagate(image, labels, progress=True)
    print(f"propagated to {int(np.any(result == 1, axis=(1, 2)).sum())} slices")

    # 4. JFS quality per propagated slice, and where to annotate next (inside the largest run of
    #    poorly trusted slices).
    scores = ifss.score(image, result, support=labels)
    label_id, z = ifss.annotate_next(scores, support=labels)
    print(f"annotate next: slice {z} (score {scores[label_id][z].score:.2f}, "
          f"{scores[label_id][z].badge})")

    # 5. Save everything: labels with the image geometry, scores as CSV, the session (clicks +
    #    committed labels) beside the image so it can be restored later.
    ifss.save(out / "cells_labels.tif", result, like=image)
    ifss.save_scores_csv(scores, out / "cells_quality.csv")
    folder = ifss.save_session(ifss.session_folder_for(out / "cells.tif"), session=session,
                               labels=labels, image_name=image.name,
                               image_shape=image.data.shape)
    restored = ifss.load_session(folder)
    print(f"session saved to {folder} ({restored.click_count} clicks)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ifss_example_output"))
