"""Named axes of a file: which axis is time, channel, z, y, x, and choosing one time point and
one channel.

Axis letters are OME's and bioio's: ``T`` time, ``C`` channel, ``Z``, ``Y``, ``X``, and
``S`` colour samples (RGB(A) when the file says so). tifffile adds ``I`` / ``Q`` for a plain
stack of pages whose meaning the file does not state: napari-ifss reads those as ``Z`` and
says so (:attr:`AxesChoice.notes`). Any other letter (angle, phase, ...) is refused by name.

The models segment one grey (or RGB) image at a time: a file with several time points or
channels opens one of them, chosen with ``time=`` / ``channel=``; without a choice the error
names the axes and the choices, so that nothing is read silently along the wrong axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedFormatError
from .layerdata import MOVIE_AXES

UNSTATED = "IQ"  # tifffile's letters for page stacks of unknown meaning
KNOWN = "TCZYXS" + UNSTATED
WORDS = {"T": "time points", "C": "channels"}
OPTIONS = {"T": "time", "C": "channel"}


@dataclass(frozen=True)
class AxesChoice:
    """An array reduced to napari-ifss's axes.

    Attributes:
        data: the array with only ``Z``, ``Y``, ``X`` (and colour ``S``) axes left (a numpy
            array, or a dask array when a lazy one was given: nothing is read).
        axes: its axis letters, e.g. ``"ZYX"``, ``"YX"``, ``"YXS"``; with ``time="all"``
            ``"TYX"`` (the time points of a file without z as the stack) or ``"TZYX"``
            (:data:`MOVIE_AXES`, a 3D movie kept whole).
        file_axes: the file's own axis letters, e.g. ``"TCZYX"``.
        picked: ``{"time": t, "channel": c}`` for the axes a choice was applied to
            (``"all"`` for time points opened as the stack).
        notes: what was assumed, for a person (e.g. an unstated page axis read as z).
    """

    data: Any
    axes: str
    file_axes: str
    picked: dict[str, int | str]
    notes: tuple[str, ...]


def channel_axes(axes: str, shape: tuple[int, ...], samples_are_colour: bool = True,
                 what: str = "file") -> str:
    """``axes`` with interleaved samples ``S`` renamed ``C`` where they are channels, not a
    colour: the file says they are not RGB(A) (``samples_are_colour=False``), or there are 2
    or more than 4 of them.

    Raises:
        UnsupportedFormatError: samples that are channels beside a ``C`` axis.
    """
    axes = axes.upper()
    if "S" not in axes:
        return axes
    if samples_are_colour and shape[axes.index("S")] in (1, 3, 4):
        return axes
    if "C" in axes:
        raise UnsupportedFormatError(f"{what}: both C and S axes in {axes}")
    return axes.replace("S", "C")


def count_along(axes: str, shape: tuple[int, ...], letter: str) -> int:
    """How many planes ``shape`` holds along axis ``letter`` of ``axes`` (1 if absent)."""
    return int(shape[axes.index(letter)]) if letter in axes else 1


def choose_planes(data: np.ndarray, axes: str, what: str, *, channel: int | None = None,
                  time: int | str | None = None, samples_are_colour: bool = True
                  ) -> AxesChoice:
    """Take one time point and one channel out of ``data`` whose axes are ``axes``.

    Args:
        data: the array as read (any array-like with ``shape`` and numpy indexing).
        axes: one letter per axis of ``data`` (tifffile's ``series.axes``, OME, NGFF).
        what: names the source in messages (e.g. the file path).
        channel, time: the index to open along ``C`` / ``T`` (required when that axis holds
            more than one plane; an axis of length 1 is dropped either way). ``time="all"``
            keeps every time point: of a file without z as the stack's first axis (``TYX``,
            propagation then follows the object through time), of a file with z as a 3D
            movie (``TZYX``).
        samples_are_colour: False when the file's ``S`` samples are not RGB(A) (e.g. the
            channels of a fluorescence image stored interleaved): they count as channels.

    Raises:
        UnsupportedFormatError: an axis napari-ifss does not know, several time points or
            channels without a choice, a choice out of range or for an axis the file lacks.
    """
    axes = axes.upper()
    if len(axes) != np.ndim(data):
        raise UnsupportedFormatError(f"{what}: axes {axes!r} do not match shape "
                                     f"{np.shape(data)}")
    unknown = sorted(set(axes) - set(KNOWN))
    if unknown:
        raise UnsupportedFormatError(
            f"{what}: axes {axes} (shape {tuple(np.shape(data))}) include {', '.join(unknown)}, "
            "which napari-ifss does not read; it reads time (T), channels (C), z, y and x")
    axes = channel_axes(axes, np.shape(data), samples_are_colour, what)
    file_axes, file_shape = axes, tuple(np.shape(data))
    through_time = time == "all"
    if through_time:  # the time points become the stack: T takes the place of z
        if "T" not in axes:
            raise UnsupportedFormatError(f"{what}: time='all' given, but the file has no "
                                         f"time points (axes {axes})")
        movie = count_along(axes, np.shape(data), "Z") > 1  # (T, Z, Y, X): both kept
        if not movie:
            if "Z" in axes:
                data, axes = _take(data, 0, axes.index("Z")), axes.replace("Z", "")
            axes = axes.replace("T", "Z")
        time = None
    choice = {"T": time, "C": channel}
    for letter, index in choice.items():
        if index is not None and letter not in axes:
            raise UnsupportedFormatError(
                f"{what}: {OPTIONS[letter]}={index} given, but the file has no "
                f"{WORDS[letter]} (axes {axes})")
    picked: dict[str, int | str] = {}
    arr = data
    kept = axes
    for letter in "TC":
        if letter not in kept or (letter == "T" and through_time):
            continue
        pos, size = kept.index(letter), np.shape(arr)[kept.index(letter)]
        index = choice[letter]
        if index is None and size > 1:
            raise UnsupportedFormatError(
                f"{what}: {size} {WORDS[letter]} (axes {file_axes}, shape {file_shape}); "
                f"napari-ifss segments one at a time: open one with {OPTIONS[letter]}=0..."
                f"{size - 1} (ifss.open_image(path, {OPTIONS[letter]}=0), or "
                f"--{OPTIONS[letter]} 0 on the command line)"
                + ("; or time='all' to open every time point and follow an object through "
                   "them" if letter == "T" else "")
                + ("; or every channel, used together by clicks and propagation: "
                   "ifss.open_channels(path), --channel all for ifss propagate"
                   if letter == "C" else ""))
        index = 0 if index is None else int(index)
        if not 0 <= index < size:
            raise UnsupportedFormatError(f"{what}: {OPTIONS[letter]}={index} is out of range; "
                                         f"the file has {size} {WORDS[letter]} (0...{size - 1})")
        if choice[letter] is not None:
            picked[OPTIONS[letter]] = index
        arr = _take(arr, index, pos)
        kept = kept[:pos] + kept[pos + 1:]
    notes = []
    stated = kept
    for letter in UNSTATED:
        if letter in kept:
            pages = np.shape(arr)[kept.index(letter)]
            notes.append(f"the file does not say what its stack of {pages} pages is: read as "
                         "z slices (if they are time points or channels, save the file with "
                         "its axes, e.g. as OME-TIFF)")
            stated = stated.replace(letter, "Z")
    if stated.count("Z") > 1:
        raise UnsupportedFormatError(f"{what}: axes {axes} hold more than one z axis")
    order = [stated.index(a) for a in "TZYXS" if a in stated]  # (t,) z, y, x, colour last
    if not hasattr(arr, "transpose"):  # lazy arrays (dask, zarr read through dask) stay lazy
        arr = np.asarray(arr)
    if order != sorted(order):
        arr = arr.transpose(order)
    final = "".join(stated[i] for i in order)
    if through_time:
        final = final if "T" in final else final.replace("Z", "T")
        picked["time"] = "all"
    return AxesChoice(arr, final, file_axes, picked, tuple(notes))


def movie_axes(axes: str) -> int:
    """The most spatial axes a layer of ``axes`` may keep: 4 for a 3D movie (``TZYX``, opened
    with ``time="all"``), else 3."""
    return 4 if axes == MOVIE_AXES else 3


def _take(arr: Any, index: int, axis: int) -> Any:
    """``arr`` at ``index`` along ``axis`` (numpy, or a lazy array: nothing is read)."""
    if isinstance(arr, np.ndarray):
        return np.take(arr, index, axis=axis)
    return arr[(slice(None),) * axis + (index,)]


def stack_geometry(axes: str, sizes: dict[str, float], origin: dict[str, float]
                   ) -> tuple[list[float], list[float]]:
    """Scale and translate of ``axes`` (``"ZYX"``, ``"TYX"``, ... without ``S``) from the
    file's per-letter sizes and origin. Time points opened as the stack count one pixel apart
    (the y pixel size) and start at 0: the models read the stack as if it were isotropic."""
    sizes = {**sizes, "T": sizes.get("Y", 1.0)} if "T" in axes else sizes
    origin = {**origin, "T": 0.0} if "T" in axes else origin
    return [sizes.get(a, 1.0) for a in axes], [origin.get(a, 0.0) for a in axes]
