"""Write a tiny ``2d/dsb2018`` folder of synthetic cells, laid out like ``../shared/data``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from skimage.io import imsave

from napari_ifss.core.data.datasets import split_of
from napari_ifss.core.data.sample import make_synthetic_cells


def write_dsb2018(root: Path, ids: list[str], n_train: int, n_val: int, side: int,
                  n_cells: int, seed: int, to_png: Callable[[np.ndarray], np.ndarray]
                  ) -> list[str]:
    """``root/2d/dsb2018/{images,masks}`` with the first ``n_train`` train and ``n_val`` val
    items of ``ids`` (hash split), image ``n`` made with seed ``seed + n`` and written through
    ``to_png``; masks are uint16 instance ids. Returns the val ids, sorted."""
    ds = root / "2d" / "dsb2018"
    (ds / "images").mkdir(parents=True)
    (ds / "masks").mkdir(parents=True)
    val = [i for i in ids if split_of("dsb2018", i) == "val"][:n_val]
    train = [i for i in ids if split_of("dsb2018", i) == "train"][:n_train]
    for n, item in enumerate(train + val):
        img, lab = make_synthetic_cells((side, side), n_cells=n_cells, seed=seed + n)
        imsave(ds / "images" / f"{item}.png", to_png(img), check_contrast=False)
        tifffile.imwrite(ds / "masks" / f"{item}.tif", lab.astype(np.uint16))
    return sorted(val)
