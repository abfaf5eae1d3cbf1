"""ClickPredictor: the interactive click model behind the session, the robot and the CLI.

Usage follows segment-anything: ``set_image`` encodes a 2D slice once (cached per ``key`` in an
LRU), ``predict`` runs the light click head per click. Coordinates are (row, col) pixels of the
slice as given; the network sees the slice resized so its long side is ``max_side`` and
padded to a multiple of 32 (``core.encoding``, which also holds the encoder cache);
probabilities come back at the slice's full resolution.

Large slices (long side above ``focus_above``, 1024 px by default: a mosaic, a whole-slide
scan): one downsample of the whole canvas would shrink a 40 px cell to a few network pixels, so
the model sees a *focus window* around the prompts at the object's own scale instead. The
first positive click tries windows of about 448, 832, ... px around it up to the whole slice
and keeps the one that suits the object (:mod:`core.interactive.focus`); later prompts reuse it
while the object fits, else a window grown with the object (the clicks, the box and the
previous mask, times :data:`FOCUS_EXPANSION`, edges on a :data:`FOCUS_GRID` grid). In a window
only the regions holding a positive click are kept (a window shows many similar cells). Such
slices are never prepared whole: the user's array (numpy, zarr, dask) is read region by region
(:class:`~napari_ifss.core.slice_sources.LazySource`). ``focus_above=None`` switches windows
off (the whole slice downsampled, as for small slices). Tables: ``benchmarks/mosaic_clicks.py``.

Several channels (:class:`~napari_ifss.core.channels.Channels`): each channel is encoded as a
grey slice under its own window, every prediction is made on each of them, and the answer the
model is surest of is returned (:mod:`core.interactive.channel_choice`);
:attr:`ClickPredictor.last_channel` says which. Tables: ``benchmarks/channel_clicks.py``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..channels import Channels
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
from ..spans import span_where
from .channel_choice import most_confident
from .clicked_regions import keep_clicked_regions
from .focus import (
    CONTRAST_SIDE,
    FOCUS_ABOVE,
    FOCUS_EXPANSION,
    FOCUS_GRID,
    FOCUS_MIN_SIZE,
    boundary_contrast,
    choose_window,
    first_windows,
    object_area,
    prompt_extent,
    window_around,
)
from .prompts import Box, Click

if TYPE_CHECKING:
    from ...models.click_net import ClickNet

ZOOM_AFTER_CLICKS = 3
ZOOM_EXPANSION = 1.4
ZOOM_MIN_SIZE = 64
# Long side of the zoomed crop as the network sees it: the object then spans roughly the sizes
# seen in training (256-px crops), instead of being blown up to max_side.
ZOOM_SIDE = 256
__all__ = ["FOCUS_ABOVE", "FOCUS_EXPANSION", "FOCUS_GRID", "FOCUS_MIN_SIZE", "ClickPredictor"]

# The slice -> (3, H, W) float32 rule under its earlier name (see core.encoding.prepare_slice).
normalize_slice = prepare_slice


class ClickPredictor(UsesSliceEncoder):
    """Interactive click segmentation of 2D slices (satisfies ``core.protocols.ClickSegmenter``)."""

    takes_channels = True  # set_image accepts several channels (core.channels.Channels)

    def __init__(self, net: ClickNet | None = None, *, device: str | None = None,
                 max_side: int = 512, zoom_in: bool = True, refine: bool = False,
                 cache_size: int = 16, focus_above: int | None = FOCUS_ABOVE,
                 focus_min: int = FOCUS_MIN_SIZE) -> None:
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
        if focus_min < 16:
            raise InvalidInputError(f"focus_min must be >= 16 px, got {focus_min}")
        self.focus_min = int(focus_min)  # the smallest focus window's side, slice pixels
        self.zoom_in = zoom_in
        self.refine = refine
        self.zoom_side = min(ZOOM_SIDE, self.max_side)
        self.slices = SliceEncoder(self.net, self.device, cache_size=cache_size, keep_source=True)
        self._current: EncodedSlice | None = None
        self._channels: list[EncodedSlice] = []  # every channel's encoding ([_current] for one)
        self.last_channel = 0  # the channel the last prediction came from

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

    def set_image(self, image: np.ndarray | Channels, key: Hashable | None = None,
                  window: IntensityWindow | None = None) -> None:
        """Set (and encode, unless cached under ``key`` and ``window``) the slice ``(H, W)``
        or ``(H, W, 3)`` under ``window`` (e.g. a CT window in HU; None: the slice's own
        percentiles, ``core.encoding.slice_window``), or several channels of one slice used
        together (:class:`~napari_ifss.core.channels.Channels` of ``(H, W)`` arrays: each
        under its own window, or under ``window`` when one is given)."""
        side = (self.max_side, self.max_side)
        if isinstance(image, Channels):
            if image.ndim != 2:
                raise InvalidInputError(f"the click model takes one slice; the channels have "
                                        f"shape {image.shape}")
            lazy = self.uses_focus(image.shape)
            wins = image.windows_under(window)
            self._channels = [
                self.slices.encode_slice(a, side, key=None if key is None else (key, "ch", k),
                                         window=w, lazy=lazy)
                for k, (a, w) in enumerate(zip(image.arrays, wins, strict=True))]
        else:
            self._channels = [self.slices.encode_slice(
                image, side, key=key, window=window, lazy=self.uses_focus(np.shape(image)[:2]))]
        self._current, self.last_channel = self._channels[0], 0

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
        prev, span = self._check_prev(prev_mask, (h, w))
        if not clicks and box is None:
            return np.zeros((h, w), dtype=np.float32)
        if len(self._channels) == 1:
            return self._predict_entry(entry, clicks, prev, span, box)
        probs = [self._predict_entry(e, clicks, prev, span, box) for e in self._channels]
        self.last_channel = most_confident(probs)
        return probs[self.last_channel]

    def _predict_entry(self, entry: EncodedSlice, clicks: list[Click], prev: np.ndarray | None,
                       span: tuple[int, int, int, int] | None, box: Box | None) -> np.ndarray:
        """``(H, W)`` probabilities from one encoded slice (one channel)."""
        h, w = entry.geometry.source
        if self.uses_focus((h, w)):
            return self._predict_focus(entry, clicks, prev, span, box)
        zoom = self._zoom_box(clicks, span, (h, w))
        return self._predict_window(entry, zoom, self.zoom_side, clicks, prev, box)

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
        probs = enc.geometry.from_network(self._network_probs(enc, clicks, prev, origin, box))
        return probs[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)

    def _network_probs(self, enc: EncodedSlice, clicks: list[Click], prev: np.ndarray | None,
                       origin: tuple[int, int], box: Box | None = None) -> torch.Tensor:
        """Probabilities ``(1, 1, h, w)`` at the network's resolution (padding dropped)."""
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
            prev_t = geo.map_to_network(prev, self.device, pad=0.0, antialias=False, clamp=True)
        feats = enc.feats
        cast = partial(autocast, self.device)
        if self.refine:
            from ...models.refine import refine_features

            feats = refine_features(self.net, feats, pts, prev_t, cast, boxes=boxes)
        with torch.inference_mode(), cast():
            logits = self.net.decode(feats, pts, prev_t, boxes).logits
        return geo.from_network(logits.float(), torch.sigmoid, resize=False)

    def uses_focus(self, shape: Sequence[int]) -> bool:
        """Whether a slice of ``shape`` ``(H, W)`` is predicted in focus windows."""
        return self.focus_above is not None and max(shape[:2]) > self.focus_above

    def _predict_window(self, entry: EncodedSlice, zoom: tuple[int, int, int, int] | None,
                        side: int | None, clicks: list[Click], prev: np.ndarray | None,
                        box: Box | None, clicked_only: bool = False) -> np.ndarray:
        """``(H, W)`` probabilities predicted in the window ``zoom`` (None: the whole slice)
        encoded with long side ``side`` (None: the window's own size within [zoom_side,
        max_side]); 0 outside the window. ``clicked_only``: in the window, regions without a
        positive click are dropped (:func:`~.clicked_regions.keep_clicked_regions`)."""
        if zoom is None:
            return self._predict_region(entry, clicks, prev, (0, 0), box)
        r0, r1, c0, c1 = zoom
        crop = self.slices.crop(entry, zoom, self._window_side(zoom) if side is None else side)
        crop_prev = None if prev is None else prev[r0:r1, c0:c1]
        # Negative clicks outside the box only matter outside it, where the output is 0.
        inside = [c for c in clicks if r0 <= c.pixel[0] < r1 and c0 <= c.pixel[1] < c1]
        region = self._predict_region(crop, inside, crop_prev, (r0, c0), box)
        return _in_slice(entry.geometry.source, zoom, region, inside if clicked_only else None)

    def _window_side(self, zoom: tuple[int, int, int, int]) -> int:
        """Long side at which a focus window is encoded: its own size within [zoom_side,
        max_side]."""
        r0, r1, c0, c1 = zoom
        return int(np.clip(max(r1 - r0, c1 - c0), self.zoom_side, self.max_side))

    def _predict_focus(self, entry: EncodedSlice, clicks: list[Click], prev: np.ndarray | None,
                       span: tuple[int, int, int, int] | None, box: Box | None) -> np.ndarray:
        """Probabilities on a large slice, in a focus window (see the module docstring);
        ``span``: where ``prev`` holds the object (> 0.5), from :meth:`_check_prev`."""
        shape = entry.geometry.source
        positive = [c for c in clicks if c.positive]
        first: tuple[int, int, int, int] | None = None
        if box is None and positive:
            # the window chosen for each object's first positive click (None: the whole
            # slice) is a pure function of the slice and that click: kept with the encoding
            chosen = entry.memo.setdefault("first_windows", {})
            anchor = positive[0].pixel
            if anchor not in chosen:
                window, probs = self._choose_first_window(entry, positive[0])
                chosen[anchor] = window
                if len(clicks) == 1 and prev is None:
                    return probs
            first = chosen[anchor]
        zoom = self._zoom_box(clicks, span, shape)
        if zoom is not None:  # the RITM zoom-in, as on small slices: small objects magnified
            return self._predict_window(entry, zoom, self.zoom_side, clicks, prev, box,
                                        clicked_only=True)
        if box is None and positive and first is None:  # the object is best seen whole
            return self._predict_region(entry, clicks, prev, (0, 0), None)
        rows = [c.pixel[0] for c in positive] or [c.pixel[0] for c in clicks]
        cols = [c.pixel[1] for c in positive] or [c.pixel[1] for c in clicks]
        if box is not None:
            rows += [int(box.row0), int(np.ceil(box.row1)) - 1]
            cols += [int(box.col0), int(np.ceil(box.col1)) - 1]
        if not rows:
            return np.zeros(shape, dtype=np.float32)
        span_r, span_c = prompt_extent(rows, cols, span)
        if first is not None and _fits(span_r, span_c, first):
            zoom = first  # its encoding is reused
        else:
            min_size = self.focus_min if first is None else max(first[1] - first[0],
                                                                first[3] - first[2])
            zoom = window_around(span_r, span_c, shape, FOCUS_EXPANSION, min_size,
                                 grid=FOCUS_GRID, shift=True)
        return self._predict_window(entry, zoom, None, clicks, prev, box, clicked_only=True)

    def _choose_first_window(self, entry: EncodedSlice, click: Click
                             ) -> tuple[tuple[int, int, int, int] | None, np.ndarray]:
        """The window ``(r0, r1, c0, c1)`` (None: the whole slice) for the object under the
        first positive ``click`` (:func:`~.focus.choose_window`), and its ``(H, W)``
        probabilities.
        Candidates are compared at the network's resolution; only the chosen one is brought
        to the slice's."""
        h, w = entry.geometry.source
        row, col = click.pixel
        tried = []
        for zoom in first_windows(click.pixel, (h, w), self.focus_min):
            r0, r1, c0, c1 = zoom if zoom is not None else (0, h, 0, w)
            enc = entry if zoom is None else self.slices.crop(entry, zoom, self._window_side(zoom))
            probs = self._network_probs(enc, [Click(row - r0, col - c0, True)], None, (0, 0))
            seed = enc.geometry.point_to_network(row - r0, col - c0)
            mask = probs[0, 0].cpu().numpy() > 0.5
            score = boundary_contrast(entry.source.grey((r0, r1, c0, c1), CONTRAST_SIDE), mask,
                                      (max(0, round(seed[0])), max(0, round(seed[1]))))
            sr, sc = enc.geometry.scale
            tried.append((score, object_area(mask, seed) / (sr * sc), zoom, probs, enc))
        _, _, zoom, probs, enc = tried[choose_window([t[0] for t in tried],
                                                     [t[1] for t in tried])]
        region = enc.geometry.from_network(probs)[0, 0].clamp_(0, 1).cpu().numpy()
        region = region.astype(np.float32, copy=False)
        if zoom is None:
            return None, region
        return zoom, _in_slice((h, w), zoom, region, [click])

    def _zoom_box(self, clicks: list[Click], span: tuple[int, int, int, int] | None,
                  shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """RITM zoom-in box ``(r0, r1, c0, c1)`` around the object spanning ``span`` (the
        previous mask's) and the positive clicks, or None (use the full slice)."""
        if not self.zoom_in or len(clicks) < ZOOM_AFTER_CLICKS or span is None:
            return None
        pos = [c.pixel for c in clicks if c.positive]
        rows, cols = prompt_extent([p[0] for p in pos], [p[1] for p in pos], span)
        return window_around(rows, cols, shape, ZOOM_EXPANSION, ZOOM_MIN_SIZE)

    @staticmethod
    def _check_prev(prev_mask: np.ndarray | None, shape: tuple[int, int]
                    ) -> tuple[np.ndarray | None, tuple[int, int, int, int] | None]:
        """``(prev, span)``: ``prev_mask`` as an array of ``shape`` with finite values, not
        copied (a large slice's map is read where it is used; values are clipped to [0, 1]
        before resizing), and where it holds the object (> 0.5; None: nowhere), both from one
        pass over it in bands (:func:`~napari_ifss.core.spans.span_where`)."""
        if prev_mask is None:
            return None, None
        prev = np.asarray(prev_mask)
        if prev.shape != shape:
            raise InvalidInputError(
                f"prev_mask has shape {prev.shape}, expected the image's shape {shape}")

        def checked_object(band: np.ndarray) -> np.ndarray:
            if band.dtype.kind == "f" and not np.isfinite(band).all():
                raise InvalidInputError("prev_mask contains NaN or infinite values")
            return band > 0.5

        return prev, span_where(prev, checked_object)


def _fits(rows: tuple[int, int], cols: tuple[int, int], window: tuple[int, int, int, int]
          ) -> bool:
    """Whether ``window`` still suits an object spanning the inclusive pixel ranges ``rows`` and
    ``cols``: at least :data:`FOCUS_EXPANSION` times its extent, with a margin of a quarter of
    the extent on every side."""
    r0, r1, c0, c1 = window
    hr, hc = rows[1] - rows[0] + 1, cols[1] - cols[0] + 1
    return (r1 - r0 >= FOCUS_EXPANSION * hr and c1 - c0 >= FOCUS_EXPANSION * hc
            and r0 <= rows[0] - hr // 4 and rows[1] + hr // 4 < r1
            and c0 <= cols[0] - hc // 4 and cols[1] + hc // 4 < c1)


def _in_slice(shape: tuple[int, int], zoom: tuple[int, int, int, int], region: np.ndarray,
              clicks: list[Click] | None) -> np.ndarray:
    """``region``, the probabilities of window ``zoom`` = ``(r0, r1, c0, c1)``, placed in a
    zero map of the slice's ``shape``; with ``clicks`` (slice pixels), regions of the window
    without a positive click are dropped first (:func:`keep_clicked_regions`)."""
    r0, r1, c0, c1 = zoom
    if clicks is not None:
        region = keep_clicked_regions(
            region, [Click(c.row - r0, c.col - c0, c.positive) for c in clicks])
    out = np.zeros(shape, dtype=np.float32)
    out[r0:r1, c0:c1] = region
    return out
