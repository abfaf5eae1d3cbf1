"""Clicks on a 20000 x 20000 image: peak memory and time per click (issue #20, item 1).

    python benchmarks/huge_image_clicks.py [--md docs/benchmarks/huge_image_clicks.md]

A 20000 x 20000 uint16 image (0.8 GB: the synthetic cell tile of ``benchmarks/mosaic_clicks.py``,
~40 px cells, repeated) is written to a zarr store (2048 px chunks). Each row runs in a fresh
process: an :class:`InteractiveSession` is given the zarr array (or the image in memory), and
3 robot clicks go to one cell near the centre. Reported: peak RSS (``VmHWM``) after the model is
loaded, after the image is set and after the clicks; seconds to set the image and per click; the
cell's IoU. The default (self-sizing focus windows, the slice read region by region) against the
whole canvas downsampled (``focus_above=None``, which prepares the slice whole).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_ifss.eval.fewshot_resources import in_fresh_process, peak_rss_mb
from napari_ifss.eval.report import benchmark_parser, emit, script_header

SIDE = 20000
TILE = 512
CENTRE = (SIDE // 2 // TILE) * TILE  # top-left of the tile whose cell is clicked


def tile_and_cell() -> tuple[np.ndarray, np.ndarray]:
    from napari_ifss.core.data.sample import make_synthetic_cells

    image, labels = make_synthetic_cells((TILE, TILE), n_cells=30, seed=3, spacing=(0.35, 0.35))
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return image, labels == ids[np.argsort(counts)[len(ids) // 2]]


def write_store(path: Path) -> None:
    import zarr

    image, _ = tile_and_cell()
    store = zarr.open(str(path), mode="w", shape=(SIDE, SIDE), chunks=(2048, 2048),
                      dtype=image.dtype)
    band = np.tile(image, (2048 // TILE, SIDE // TILE + 1))[:, :SIDE]
    for top in range(0, SIDE, 2048):
        store[top:top + 2048] = band[:min(2048, SIDE - top)]


def robot_on_cell(act: Callable[[int, int, bool], None], tile_mask: Callable[[], np.ndarray],
                  clicks: int = 3) -> tuple[list[float], float]:
    """The benchmark robot's ``clicks`` on the cell of :func:`tile_and_cell` in the tile at
    (``CENTRE``, ``CENTRE``): ``act(row, col, positive)`` makes one click on the whole image
    (timed), ``tile_mask()`` returns the tile's mask after it (not timed). Returns the
    seconds per click and the cell's IoU after the last one."""
    from napari_ifss.eval.clicker import Clicker
    from napari_ifss.eval.metrics import iou

    _, gt = tile_and_cell()
    robot, mask, secs = Clicker(gt), np.zeros_like(gt), []
    for _ in range(clicks):
        click = robot.click(mask)
        if click is None:
            break
        t0 = time.perf_counter()
        act(click.row + CENTRE, click.col + CENTRE, click.positive)
        secs.append(time.perf_counter() - t0)
        mask = tile_mask()
    return secs, iou(mask, gt)


def _job(store: str, in_memory: bool, focus: bool, queue) -> None:
    import torch
    import zarr

    from napari_ifss.core.interactive.predictor import ClickPredictor
    from napari_ifss.core.interactive.session import InteractiveSession

    torch.set_num_threads(1)
    pred = ClickPredictor.default(device="cpu") if focus else \
        ClickPredictor.default(device="cpu", focus_above=None)
    session = InteractiveSession(pred)
    out = {"model_mb": peak_rss_mb()}
    image = zarr.open(store, mode="r")
    if in_memory:
        image = image[:]
    t0 = time.perf_counter()
    session.set_image(image)
    out["set_s"], out["set_mb"] = time.perf_counter() - t0, peak_rss_mb()
    held: dict = {}

    def act(row: int, col: int, positive: bool) -> None:
        held["full"] = session.add_click(row, col, positive)

    def tile_mask() -> np.ndarray:
        full = held.pop("full")
        mask = full[CENTRE:CENTRE + TILE, CENTRE:CENTRE + TILE].copy()
        out.setdefault("outside", int(full.sum() - mask.sum()))
        return mask

    secs, cell_iou = robot_on_cell(act, tile_mask)
    out.update(click_s=secs, iou=cell_iou, peak_mb=peak_rss_mb())
    queue.put(out)


def main() -> None:
    parser = benchmark_parser(__doc__)
    args = parser.parse_args()
    t0 = time.perf_counter()
    runs = [("zarr array (lazy)", False, True), ("numpy in memory", True, True),
            ("numpy in memory", True, False)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "huge.zarr"
        write_store(store)
        for what, in_memory, focus in runs:
            r = in_fresh_process(_job, (str(store), in_memory, focus), timeout=3600)
            rows.append((what, focus, r))
            print(what, focus, r, flush=True)
    lines = script_header("Clicks on a 20000 x 20000 image (issue #20, item 1)",
                          "python benchmarks/huge_image_clicks.py --md "
                          "docs/benchmarks/huge_image_clicks.md", time.perf_counter() - t0) + [
        "20000 x 20000 uint16 (0.8 GB) of ~40 px synthetic cells; 3 robot clicks on one cell "
        "through `InteractiveSession`, each row a fresh process with one torch thread. Peak RSS "
        "(VmHWM) in MB; the clicks' seconds include the session's full-size mask returned per "
        "click.", "",
        "| image given as | predictor | MB after model | MB after set_image | peak MB | "
        "set_image s | clicks s | IoU after 3 | pixels marked outside the cell's tile |",
        "|---|---|---|---|---|---|---|---|---|"]
    for what, focus, r in rows:
        name = "focus windows (default)" if focus else "whole canvas downsampled"
        lines.append(f"| {what} | {name} | {r['model_mb']:.0f} | {r['set_mb']:.0f} | "
                     f"{r['peak_mb']:.0f} | {r['set_s']:.1f} | "
                     f"{', '.join(f'{s:.1f}' for s in r['click_s'])} | {r['iou']:.3f} | "
                     f"{r['outside']} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
