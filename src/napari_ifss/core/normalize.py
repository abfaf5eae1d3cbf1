"""Robust intensity normalisation for 8/16-bit microscopy, float data and CT in HU.

Models see images as float32 in [0, 1]. Percentile clipping makes 16-bit microscopy with hot
pixels and CT with air/metal extremes usable; computing the percentiles once per volume keeps
neighbouring slices consistent, which matters for propagation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidInputError

# Above this many values, percentiles are estimated on a regular subsample (exact enough, fast).
_MAX_SAMPLES = 2_000_000


@dataclass(frozen=True)
class IntensityWindow:
    """The intensity range ``[low, high]`` that maps to ``[0, 1]``."""

    low: float
    high: float

    @classmethod
    def from_data(
        cls, data: np.ndarray, lower_percentile: float = 0.5, upper_percentile: float = 99.5
    ) -> IntensityWindow:
        """Estimate the window from (a subsample of) ``data``, any shape.

        Raises:
            InvalidInputError: if ``data`` is empty or holds NaN or infinite values.
        """
        arr = np.asarray(data)
        if arr.size == 0:
            raise InvalidInputError("cannot normalise an empty image")
        flat = arr.reshape(-1)
        if flat.size > _MAX_SAMPLES:
            flat = flat[:: int(np.ceil(flat.size / _MAX_SAMPLES))]
        if np.issubdtype(flat.dtype, np.floating) and not np.all(np.isfinite(flat)):
            raise InvalidInputError(
                "image contains NaN or infinite values; replace them (e.g. np.nan_to_num) first"
            )
        low, high = np.percentile(flat.astype(np.float64), [lower_percentile, upper_percentile])
        if high <= low:  # (nearly) constant image: fall back to the full range
            low, high = float(flat.min()), float(flat.max())
        return cls(float(low), float(high))

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Map ``data`` to float32 in [0, 1]; a constant window maps everything to 0."""
        arr = np.asarray(data, dtype=np.float32)
        span = self.high - self.low
        if span <= 0:
            return np.zeros_like(arr, dtype=np.float32)
        out = (arr - np.float32(self.low)) / np.float32(span)
        return np.clip(out, 0.0, 1.0, out=out)


# CT display windows in Hounsfield units, (low, high) = level -/+ width / 2: the usual
# radiology presets (soft tissue W400 L40, bone W1800 L400, lung W1500 L-600, brain W80 L40).
CT_PRESETS: dict[str, tuple[float, float]] = {
    "soft tissue": (-160.0, 240.0),
    "bone": (-500.0, 1300.0),
    "lung": (-1350.0, 150.0),
    "brain": (0.0, 80.0),
}

WindowLike = IntensityWindow | tuple[float, float] | str | None


def as_window(window: WindowLike) -> IntensityWindow | None:
    """A user's intensity window: None (each image's own percentiles), an
    :class:`IntensityWindow`, ``(low, high)`` in the image's units (e.g. HU), or the name of a
    CT preset (:data:`CT_PRESETS`).

    Raises:
        InvalidInputError: an unknown preset, a pair that is not two finite numbers with
            ``low < high``, or another type.
    """
    if window is None or isinstance(window, IntensityWindow):
        return window
    if isinstance(window, str):
        key = window.strip().lower()
        if key not in CT_PRESETS:
            raise InvalidInputError(f"unknown window preset {window!r}; choose one of "
                                    f"{', '.join(CT_PRESETS)} or give (low, high)")
        return IntensityWindow(*CT_PRESETS[key])
    try:
        low, high = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InvalidInputError(f"window must be (low, high), a preset name or None; got "
                                f"{window!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidInputError(f"window needs finite low < high; got ({low}, {high})")
    return IntensityWindow(low, high)


def check_slice(image: np.ndarray, what: str = "image", min_side: int = 2) -> np.ndarray:
    """``image`` as an array of shape ``(H, W)`` or ``(H, W, 3|4)`` with finite numeric values.

    Raises:
        InvalidInputError: other shapes, sides below ``min_side``, non-numeric dtype, NaN/inf.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise InvalidInputError(
            f"{what} must be a 2D slice (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}")
    if arr.shape[0] < min_side or arr.shape[1] < min_side:
        raise InvalidInputError(
            f"{what} of shape {arr.shape} is too small (need {min_side}x{min_side} or more)")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InvalidInputError(f"{what} has non-numeric dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{what} contains NaN or infinite values")
    return arr


def normalize_intensity(
    image: np.ndarray, window: IntensityWindow | None = None
) -> np.ndarray:
    """Return ``image`` as float32 in [0, 1], using ``window`` or one estimated from ``image``."""
    window = window if window is not None else IntensityWindow.from_data(image)
    return window.apply(image)


def as_channels_first_rgb(image: np.ndarray) -> np.ndarray:
    """A 2D slice as a ``(3, H, W)`` array for the networks.

    Accepts ``(H, W)`` grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (alpha dropped). Grey is
    repeated over the three channels. The dtype is kept.

    Raises:
        InvalidInputError: for any other shape.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        return np.broadcast_to(arr, (3, *arr.shape))
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return np.moveaxis(arr[..., :3], -1, 0)
    raise InvalidInputError(
        f"expected a 2D slice of shape (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}"
    )
