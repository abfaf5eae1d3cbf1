"""Several channels of one image, used together (fluorescence stains, two modalities).

A :class:`Channels` holds one array per channel, all of one spatial shape: a slice ``(H, W)``,
a stack ``(Z, H, W)`` or a 3D movie ``(T, Z, H, W)`` (propagation only,
:mod:`~napari_ifss.core.fewshot.movie`), each array numpy, zarr or dask (indexing one keeps
it lazy). Every
channel has its own intensity window (None: its own percentiles), so that a dim channel counts
as much as a bright one: one window over all channels, as for an RGB photo, would leave an
object seen only in the dim channel nearly black. The click model encodes each channel as a
grey image and answers from the one where it is surest of the object
(:mod:`core.interactive.channel_choice`).
Coordinates are (row, col); channel indices count from 0 in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .normalize import IntensityWindow


def picked_indices(channels: Sequence[int] | int | None, count: int) -> list[int]:
    """The channel indices ``channels`` picks among ``count`` (None: all), in the order given.

    Raises:
        InvalidInputError: an index out of range, a repeated one, or none.
    """
    if channels is None:
        return list(range(count))
    picks = [int(channels)] if isinstance(channels, int | np.integer) else \
        [int(c) for c in channels]
    if not picks:
        raise InvalidInputError("channels=[] picks nothing; leave it None to use all")
    bad = [c for c in picks if not 0 <= c < count]
    if bad:
        raise InvalidInputError(f"channel {bad[0]} is out of range: this image has "
                                f"{count} channels (0 .. {count - 1})")
    if len(set(picks)) != len(picks):
        raise InvalidInputError(f"channels repeat: {picks}")
    return picks


@dataclass(frozen=True, eq=False)
class Channels:
    """Channels of one image: ``arrays[k]`` is channel ``k``, ``(H, W)``, ``(Z, H, W)`` or a
    3D movie's ``(T, Z, H, W)``.

    Attributes:
        arrays: one array per channel, all of ``shape``.
        windows: one intensity window per channel (None: that channel's own percentiles).
        names: one name per channel (for messages and the docks), default ``channel k``.
    """

    arrays: tuple[Any, ...]
    windows: tuple[IntensityWindow | None, ...] = ()
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arrays = tuple(self.arrays)
        if not arrays:
            raise InvalidInputError("no channels given: pass at least one image")
        shapes = {tuple(int(s) for s in np.shape(a)) for a in arrays}
        if len(shapes) != 1:
            raise InvalidInputError(f"channels used together need one shape; got "
                                    f"{sorted(shapes)}")
        shape = shapes.pop()
        if len(shape) not in (2, 3, 4):
            raise InvalidInputError(
                f"each channel must be a slice (H, W), a stack (Z, H, W) or a 3D movie (T, Z, "
                f"H, W); got shape {shape} (a colour image is one channel set of its own: "
                "split its colours first)")
        for a in arrays:
            dtype = np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype
            if dtype.kind not in "biuf":
                raise InvalidInputError(f"a channel has dtype {dtype}; channels must be "
                                        "integer, float or boolean images")
        windows = tuple(self.windows) or (None,) * len(arrays)
        names = tuple(self.names) or tuple(f"channel {k}" for k in range(len(arrays)))
        if len(windows) != len(arrays) or len(names) != len(arrays):
            raise InvalidInputError(f"{len(arrays)} channels need as many windows and names; "
                                    f"got {len(windows)} windows and {len(names)} names")
        object.__setattr__(self, "arrays", arrays)
        object.__setattr__(self, "windows", windows)
        object.__setattr__(self, "names", names)

    @classmethod
    def from_array(cls, data: Any, channel_axis: int,
                   names: Sequence[str] | None = None) -> Channels:
        """The channels of ``data`` along ``channel_axis`` (as napari's ``add_image``): each a
        view (numpy) or a lazy slice (zarr, dask), nothing read.

        Raises:
            InvalidInputError: an axis ``data`` does not have.
        """
        ndim = len(np.shape(data))
        if not -ndim <= int(channel_axis) < ndim:
            raise InvalidInputError(f"channel_axis {channel_axis} is not an axis of data of "
                                    f"shape {tuple(np.shape(data))}")
        axis = int(channel_axis) % ndim
        if not isinstance(data, np.ndarray) and hasattr(data, "chunks") and \
                not hasattr(data, "dask"):  # zarr: index lazily through dask
            import dask.array as da

            data = da.from_array(data, chunks=data.chunks)
        lead = (slice(None),) * axis
        n = int(np.shape(data)[axis])
        return cls(tuple(data[(*lead, k)] for k in range(n)), names=tuple(names or ()))

    @property
    def count(self) -> int:
        """Number of channels."""
        return len(self.arrays)

    @property
    def shape(self) -> tuple[int, ...]:
        """The spatial shape shared by all channels: ``(H, W)``, ``(Z, H, W)`` or
        ``(T, Z, H, W)``."""
        return tuple(int(s) for s in np.shape(self.arrays[0]))

    @property
    def ndim(self) -> int:
        """2 for a slice, 3 for a stack, 4 for a 3D movie."""
        return len(self.shape)

    def picked(self, channels: Sequence[int] | int | None) -> Channels:
        """Only the channels ``channels`` (indices, in the order given; None: all).

        Raises:
            InvalidInputError: an index out of range, a repeated one, or none.
        """
        if channels is None:
            return self
        picks = picked_indices(channels, self.count)
        return Channels(tuple(self.arrays[c] for c in picks),
                        tuple(self.windows[c] for c in picks), tuple(self.names[c] for c in picks))

    def with_windows(self, windows: Sequence[IntensityWindow | None] | IntensityWindow | None
                     ) -> Channels:
        """The same channels seen through ``windows``: one per channel, one for all, or None
        (each channel's own percentiles)."""
        wins = (None,) * self.count if windows is None else self.windows_under(windows)
        return Channels(self.arrays, wins, self.names)

    def windows_under(self, window: Sequence[IntensityWindow | None] | IntensityWindow | None
                      ) -> tuple[IntensityWindow | None, ...]:
        """One window per channel for a caller's ``window``: None keeps the channels' own,
        one window applies to every channel, a sequence gives one per channel.

        Raises:
            InvalidInputError: a sequence of another length.
        """
        if window is None:
            return self.windows
        if isinstance(window, IntensityWindow):
            return (window,) * self.count
        wins = tuple(window)
        if len(wins) != self.count:
            raise InvalidInputError(f"{len(wins)} windows for {self.count} channels")
        return wins

    def __getitem__(self, index: Any) -> Channels:
        """The same spatial ``index`` of every channel (e.g. ``stack[z]`` -> the slice ``z`` of
        every channel), lazily for zarr / dask; windows and names kept."""
        return Channels(tuple(a[index] for a in self.arrays), self.windows, self.names)
