"""ClickPredictor: the interactive click model behind the session, the robot and the CLI.

Usage follows segment-anything: ``set_image`` encodes a 2D slice once (cached per ``key`` in an
LRU), ``predict`` runs the light click head per click. Coordinates are (row, col) pixels of the
slice as given; the network sees the slice resized so its long side is ``max_side`` and
padded to a multiple of 32 (``core.encoding``, which also holds the encoder cache);
probabilities come back at the slice's full resolution.

Large slices (long side above ``focus_above``, e.g. a mosaic of small cells): one downsample
of the whole canvas would shrink a 40 px cell to a few network pixels, so the model instead
sees a *focus window* around the prompts at the slice's own resolution, from the first click
on: the clicks, the box and the previous mask, grown by :data:`FOCUS_EXPANSION` and at least
:data:`FOCUS_MIN_SIZE` pixels a side, its edges snapped to a :data:`FOCUS_GRID` pixel grid so
that the next clicks on the same object reuse its encoding (cached with the slice); it grows
with the object, and once it would cover most of the slice the whole slice is used.
Focus windows are **off by default** (``focus_above=None``); ``focus_above=1024`` turns them on
for slices longer than 1024 px. Measured: on a mosaic of ~27 px synthetic cells tiled to
4096 x 4096 the 1-click IoU is 0.67 with windows against 0.01 without (0.69 on the 512 x 512
tile; ``benchmarks/mosaic_clicks.py``), but the first click on an object *larger* than the
first window (the large-volume benchmark's tube, ~540 px across on 1448 px slices) sees no
border and gives a blob (IoU 0.01 against 0.86 without windows; its propagated Dice fell from
0.99 to 0.00). A rule that sizes the first window reliably is still to be found (trying
windows twice as large while they find much larger objects: tube 0.46-0.95, mosaic 0.50);
with windows on every slice above 512 px the 100 standard objects of ``ifss bench
interactive`` also needed more clicks (NoC@90 8.74 vs 8.31).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..encoding import (
    PAD_MULTIPLE,
    EncodedSlice,
    SliceEncoder,
    UsesSliceEncoder,
    autocast,
    prepare_slice,
)
from ..errors import InvalidInputError, NotReadyError
from ..normalize import IntensityWindow
from .prompts import Box, Click

if TYPE_CHECKING:
    from ...models.click_net import ClickNet

ZOOM_AFTER_CLICKS = 3
ZOOM_EXPANSION = 1.4
ZOOM_MIN_SIZE = 64
# Long side of the zoomed crop as the network sees it: the object then spans roughly the sizes
# seen in training (256-px crops), instead of being blown up to max_side.
ZOOM_SIDE = 256
# Focus windows on large slices (see the module docstring): pixels of the slice itself.
FOCUS_MIN_SIZE = 384
FOCUS_EXPANSION = 2.0
FOCUS_GRID = 64

# The slice -> (3, H, W) float32 rule under its earlier name (see core.encoding.prepare_slice).
normalize_slice = prepare_slice


class ClickPredictor(UsesSliceEncoder):
    """Interactive click segmentation of 2D slices (satisfies ``core.protocols.ClickSegmenter``)."""

    def __init__(self, net: ClickNet | None = None, *, device: str | None = None,
                 max_side: int = 512, zoom_in: bool = True, refine: bool = False,
                 cache_size: int = 16, focus_above: int | None = None) -> None:
        if net is None:
            from ...models.registry import default_click_weights, load_click_net

            path = default_click_weights()
            if not path.is_file():
                raise FileNotFoundError(
                    f"the shipped click-model weights are missing ({path}); train them with "
                    "`ifss train interactive` or pass a network / checkpoint")
            net = load_click_net(path)
        if max_side < PAD_MULTIPLE:
            raise InvalidInputError(f"max_side must be >= {PAD_MULTIPLE}, got {max_side}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = net.to(self.device).eval()
        if self.device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.max_side = int(max_side)
        # slices with a longer side get focus windows (None: never)
        self.focus_above = None if focus_above is None else int(focus_above)
        self.zoom_in = zoom_in
        self.refine = refine
        self.zoom_side = min(ZOOM_SIDE, self.max_side)
        self.slices = SliceEncoder(self.net, self.device, cache_size=cache_size, keep_source=True)
        self._current: EncodedSlice | None = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, **kwargs) -> ClickPredictor:
        """A predictor for the network saved at ``path`` (see ``models.registry``)."""
        from ...models.registry import load_click_net

        return cls(load_click_net(path), **kwargs)

    @classmethod
    def default(cls, **kwargs) -> ClickPredictor:
        """The default click weights shipped in the package; FileNotFoundError if they are missing."""
        return cls(None, **kwargs)

    @property
    def is_image_set(self) -> bool:
        return self._current is not None

    @property
    def variant(self) -> str:
        return self.net.variant

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the current slice."""
        if self._current is None:
            raise NotReadyError("no image set: call set_image(image) first")
        return self._current.geometry.source

    def set_image(self, image: np.ndarray, key: Hashable | None = None,
                  window: IntensityWindow | None = None) -> None:
        """Set (and encode, unless cached under ``key`` and ``window``) the slice ``(H, W)``
        or ``(H, W, 3)`` under ``window`` (e.g. a CT window in HU; None: the slice's own
        percentiles, ``core.encoding.slice_window``)."""
        side = (self.max_side, self.max_side)
        self._current = self.slices.encode_slice(image, side, key=key, window=window)

    def clear_cache(self) -> None:
        """Forget all cached slices (the current slice stays set)."""
        self.slices.clear()

    @property
    def takes_boxes(self) -> bool:
        """True when the network was trained with box prompts (``predict(..., box=...)``)."""
        return bool(getattr(self.net, "box_prompt", False))

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None = None,
                box: Box | None = None) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] for ``clicks`` (newest last) and an
        optional ``box`` drawn as the object's first prompt (networks with
        :attr:`takes_boxes` only)."""
        if self._current is None:
            raise NotReadyError("no image set: call set_image(image) before predict()")
        entry = self._current
        h, w = entry.geometry.source
        clicks = list(clicks)
        for click in clicks:
            if not click.inside((h, w)):
                raise InvalidInputError(
                    f"click {click} at pixel {click.pixel} lies outside the image of shape {(h, w)}")
        box = self._check_box(box, (h, w))
        prev = self._check_prev(prev_mask, (h, w))
        if not clicks and box is None:
            return np.zeros((h, w), dtype=np.float32)
        if self.uses_focus((h, w)):
            zoom, side = self._focus_box(clicks, prev, box, (h, w)), None
        else:
            zoom, side = self._zoom_box(clicks, prev, (h, w)), self.zoom_side
        if zoom is None:
            return self._predict_region(entry, clicks, prev, (0, 0), box)
        r0, r1, c0, c1 = zoom
        if side is None:  # focus window: its own resolution, within [zoom_side, max_side]
            side = int(np.clip(max(r1 - r0, c1 - c0), self.zoom_side, self.max_side))
        crop = self.slices.crop(entry, zoom, side)
        crop_prev = None if prev is None else prev[r0:r1, c0:c1]
        # Negative clicks outside the box only matter outside it, where the output is 0.
        inside = [c for c in clicks if r0 <= c.pixel[0] < r1 and c0 <= c.pixel[1] < c1]
        out = np.zeros((h, w), dtype=np.float32)
        out[r0:r1, c0:c1] = self._predict_region(crop, inside, crop_prev, (r0, c0), box)
        return out

    def _check_box(self, box: Box | None, shape: tuple[int, int]) -> Box | None:
        if box is None:
            return None
        if not self.takes_boxes:
            raise InvalidInputError(
                "this click model was not trained for box prompts; start with a click instead")
        clipped = box.clipped(shape)
        if clipped is None:
            raise InvalidInputError(f"box {box} does not cover a pixel of the image of shape "
                                    f"{shape}")
        return clipped

    # ----------------------------------------------------------------- internals
    def _predict_region(self, enc: EncodedSlice, clicks: list[Click], prev: np.ndarray | None,
                        origin: tuple[int, int], box: Box | None = None) -> np.ndarray:
        """Run the head on ``enc``, the region at ``origin`` (row, col); ``(h, w)`` probs."""
        geo = enc.geometry
        rows = [[*geo.point_to_network(c.row - origin[0], c.col - origin[1]),
                 float(c.positive)] for c in clicks] or [[-1.0, -1.0, -1.0]]
        pts = torch.tensor(rows, dtype=torch.float32, device=self.device)[None]
        boxes = None
        if box is not None:  # pixel-edge corners -> network pixel edges
            sr, sc = geo.scale
            boxes = torch.tensor([[(box.row0 - origin[0]) * sr, (box.col0 - origin[1]) * sc,
                                   (box.row1 - origin[0]) * sr, (box.col1 - origin[1]) * sc]],
                                 dtype=torch.float32, device=self.device)
        prev_t = None
        if prev is not None and self.net.uses_feedback:
            prev_t = geo.map_to_network(prev, self.device, pad=0.0, antialias=False)
        feats = enc.feats
        cast = partial(autocast, self.device)
        if self.refine:
            from ...models.refine import refine_features

            feats = refine_features(self.net, feats, pts, prev_t, cast, boxes=boxes)
        with torch.inference_mode(), cast():
            logits = self.net.decode(feats, pts, prev_t, boxes).logits
        probs = geo.from_network(logits.float(), torch.sigmoid)
        return probs[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)

    def uses_focus(self, shape: tuple[int, int]) -> bool:
        """Whether a slice of ``shape`` ``(H, W)`` is predicted in focus windows."""
        return self.focus_above is not None and max(shape) > self.focus_above

    @staticmethod
    def _focus_box(clicks: list[Click], prev: np.ndarray | None, box: Box | None,
                   shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The focus window ``(r0, r1, c0, c1)`` around the prompts of a large slice, or None
        (the whole slice) once it would cover most of it."""
        rows = [c.pixel[0] for c in clicks if c.positive]
        cols = [c.pixel[1] for c in clicks if c.positive]
        if box is not None:
            rows += [int(box.row0), int(np.ceil(box.row1)) - 1]
            cols += [int(box.col0), int(np.ceil(box.col1)) - 1]
        if prev is not None and (fg := prev > 0.5).any():
            r, c = np.nonzero(fg)
            rows += [int(r.min()), int(r.max())]
            cols += [int(c.min()), int(c.max())]
        if not rows:  # negative clicks only: around them
            rows, cols = [c.pixel[0] for c in clicks], [c.pixel[1] for c in clicks]
        return _window((min(rows), max(rows)), (min(cols), max(cols)), shape,
                       FOCUS_EXPANSION, FOCUS_MIN_SIZE, grid=FOCUS_GRID, shift=True)

    def _zoom_box(self, clicks: list[Click], prev: np.ndarray | None,
                  shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """RITM zoom-in box ``(r0, r1, c0, c1)`` around the object, or None (use the full slice)."""
        if not self.zoom_in or len(clicks) < ZOOM_AFTER_CLICKS or prev is None:
            return None
        fg = prev > 0.5
        if not fg.any():
            return None
        rows, cols = np.nonzero(fg)
        pos = [c.pixel for c in clicks if c.positive]
        r_lo = min([rows.min()] + [p[0] for p in pos])
        r_hi = max([rows.max()] + [p[0] for p in pos])
        c_lo = min([cols.min()] + [p[1] for p in pos])
        c_hi = max([cols.max()] + [p[1] for p in pos])
        return _window((r_lo, r_hi), (c_lo, c_hi), shape, ZOOM_EXPANSION, ZOOM_MIN_SIZE)

    @staticmethod
    def _check_prev(prev_mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
        if prev_mask is None:
            return None
        prev = np.asarray(prev_mask)
        if prev.shape != shape:
            raise InvalidInputError(
                f"prev_mask has shape {prev.shape}, expected the image's shape {shape}")
        prev = prev.astype(np.float32)
        if not np.all(np.isfinite(prev)):
            raise InvalidInputError("prev_mask contains NaN or infinite values")
        return np.clip(prev, 0.0, 1.0)


def _window(rows: tuple[int, int], cols: tuple[int, int], shape: tuple[int, int],
            expansion: float, min_size: int, *, grid: int = 1, shift: bool = False
            ) -> tuple[int, int, int, int] | None:
    """The crop ``(r0, r1, c0, c1)`` around the pixel ranges ``rows`` and ``cols`` (inclusive)
    of a slice of ``shape``: each side grown by ``expansion``, at least ``min_size`` (or the
    slice), its edges on a ``grid``; at the slice's border it is cut (``shift`` False: the
    zoom-in) or moved inside (True: focus windows keep their size). None when it would cover
    most of the slice (then the whole slice is used)."""
    window = []
    for (lo, hi), n in ((rows, shape[0]), (cols, shape[1])):
        centre = (lo + hi + 1) / 2.0
        half = max((hi - lo + 1) * expansion, min(min_size, n)) / 2.0
        a = int(np.floor((centre - half) / grid)) * grid
        b = int(np.ceil((centre + half) / grid)) * grid
        if not shift:
            a, b = max(0, a), min(n, b)
        if a < 0:
            a, b = 0, min(n, b - a)
        if b > n:
            a, b = max(0, a - (b - n)), n
        window += [a, b]
    r0, r1, c0, c1 = window
    if (r1 - r0) * (c1 - c0) >= 0.8 * shape[0] * shape[1]:
        return None
    return r0, r1, c0, c1
