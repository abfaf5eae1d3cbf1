"""Where the pixels of an encoded slice come from when a region of it is encoded again.

The click model encodes a slice once and later encodes crops of it (the zoom-in, focus windows).
:class:`PreparedSource` keeps the prepared slice ``(3, H, W)`` in float16 for that: right for
ordinary slices. A large slice (a mosaic, a whole-slide scan, a 20000 x 20000 plane of an
OME-Zarr) must never be prepared whole (``(3, H, W)`` float32 is 12 bytes a pixel), so
:class:`LazySource` keeps the user's array as given (numpy, memmap, zarr, dask) and reads only
the region asked for, block-averaged to the size the network will see.

Regions are ``(r0, r1, c0, c1)`` half-open pixel ranges of the slice, (row, col) order; both
sources return ``(3, h, w)`` float32 tensors in [0, 1].
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from .errors import InvalidInputError
from .normalize import IntensityWindow, as_channels_first_rgb

WINDOW_SAMPLE_PIXELS = 4_000_000  # pixels read to estimate a large slice's intensity window
BAND_PIXELS = 8_000_000  # source pixels read at a time when averaging a large region


class SliceSource(Protocol):
    """Pixels of one slice for re-encoding regions of it."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the slice."""

    def region(self, box: tuple[int, int, int, int], side: int | None = None) -> torch.Tensor:
        """``(3, h, w)`` float32 of ``box``; a source may average blocks of pixels as long as
        the long side stays at least ``side`` (None: full resolution)."""

    def grey(self, box: tuple[int, int, int, int], side: int) -> np.ndarray:
        """``(h', w')`` float32 channel mean of ``box``, subsampled or averaged to a long side
        of about ``side`` or more (for measurements, not for the network)."""


class PreparedSource:
    """A prepared slice ``(3, H, W)`` kept in float16 (ordinary slices)."""

    def __init__(self, prepared: torch.Tensor) -> None:
        self.data = prepared.half()

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[1]), int(self.data.shape[2])

    def region(self, box: tuple[int, int, int, int], side: int | None = None) -> torch.Tensor:
        r0, r1, c0, c1 = box
        return self.data[:, r0:r1, c0:c1].float()

    def grey(self, box: tuple[int, int, int, int], side: int) -> np.ndarray:
        r0, r1, c0, c1 = box
        step = max(1, max(r1 - r0, c1 - c0) // max(1, int(side)))
        return self.data[:, r0:r1:step, c0:c1:step].float().mean(dim=0).numpy()


class LazySource:
    """The user's 2D slice ``(H, W)`` / ``(H, W, 3|4)`` as given (any array with ``shape``,
    ``dtype`` and numpy slicing), read one region at a time under ``window``.

    Raises:
        InvalidInputError: a shape that is not a 2D slice.
    """

    def __init__(self, array: object, window: IntensityWindow) -> None:
        shape = tuple(int(s) for s in array.shape)  # type: ignore[attr-defined]
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (3, 4)):
            raise InvalidInputError(
                f"image must be a 2D slice (H, W), (H, W, 3) or (H, W, 4); got shape {shape}")
        self.array, self.window = array, window
        self._shape = (shape[0], shape[1])
        self._whole: torch.Tensor | None = None  # the first read of the whole slice

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    def region(self, box: tuple[int, int, int, int], side: int | None = None) -> torch.Tensor:
        """See :class:`SliceSource`; the whole slice is read once (then kept, reduced). Every
        pixel read must be finite (NaN / inf: InvalidInputError; the first whole read, when the
        slice is set, checks them all)."""
        r0, r1, c0, c1 = box
        whole = (r0, r1, c0, c1) == (0, self._shape[0], 0, self._shape[1])
        if whole and self._whole is not None and side is not None \
                and max(self._whole.shape[1:]) >= min(side, max(self._shape)):
            return self._whole
        factor = 1 if side is None else max(1, max(r1 - r0, c1 - c0) // max(1, int(side)))
        # whole blocks of `factor` rows per band, so that bands average like the whole region
        rows_per_band = max(factor, BAND_PIXELS // max(1, c1 - c0) // factor * factor)
        bands = []
        for top in range(r0, r1, rows_per_band):
            raw = np.asarray(self.array[top:min(r1, top + rows_per_band), c0:c1])
            if raw.dtype.kind == "f" and not np.isfinite(raw).all():
                raise InvalidInputError("image contains NaN or infinite values")
            bands.append(_block_mean(self.window.apply(raw), factor))
        grey_or_rgb = np.concatenate(bands, axis=0)
        out = torch.from_numpy(np.ascontiguousarray(as_channels_first_rgb(grey_or_rgb),
                                                    dtype=np.float32))
        if whole and factor > 1:
            self._whole = out
        return out

    def grey(self, box: tuple[int, int, int, int], side: int) -> np.ndarray:
        return self.region(box, side).mean(dim=0).numpy()


def sampled_window(array: object) -> IntensityWindow:
    """The intensity window (:func:`core.encoding.slices_window` rule) of a large slice from
    about :data:`WINDOW_SAMPLE_PIXELS` evenly strided pixels, never the whole slice."""
    from .encoding import slices_window

    h, w = (int(s) for s in array.shape[:2])  # type: ignore[attr-defined]
    step = max(1, int(np.ceil(np.sqrt(h * w / WINDOW_SAMPLE_PIXELS))))
    sample = np.asarray(array[::step, ::step])  # type: ignore[index]
    if np.issubdtype(sample.dtype, np.floating) and not np.all(np.isfinite(sample)):
        raise InvalidInputError("image contains NaN or infinite values")
    return slices_window([sample])


def _block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """``values`` ``(h, w[, C])`` averaged over ``factor`` x ``factor`` blocks; a partial block
    at the bottom/right edge is completed by repeating the edge pixels."""
    if factor == 1:
        return values
    h, w = values.shape[:2]
    pad = [(0, -h % factor), (0, -w % factor)] + [(0, 0)] * (values.ndim - 2)
    values = np.pad(values, pad, mode="edge")
    blocks = (values.shape[0] // factor, factor, values.shape[1] // factor, factor)
    return values.reshape(blocks + values.shape[2:]).mean(axis=(1, 3), dtype=np.float32)
