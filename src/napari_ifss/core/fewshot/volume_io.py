"""Reading, checking and writing the slices of a volume, for every run over a stack.

Propagation (:mod:`.propagation`), transfer to another image (:mod:`.transfer`), scoring
(:mod:`napari_ifss.core.quality.quality_scan`) and batch runs read and check volumes the same
way: ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)`` array-likes (numpy, dask, zarr), or the channels of
one (:class:`~napari_ifss.core.channels.Channels`, the per-volume learner only), read one slice
at a time (:func:`read_slice`), an intensity window from a few evenly spaced slices
(:func:`sample_window`), and results written slice by slice into ``out`` where nothing is
labelled yet (:func:`write_slice`, one :class:`PropagationProgress` event per slice).

Everything that can fail is checked before the first write where that is cheap: shapes and
dtypes (:func:`check_inputs`), ids that fit ``out``'s dtype, and for an in-memory numpy volume
NaN/inf in every slice the run may read. A lazy volume (dask, zarr) is checked slice by slice
as it is read, so a bad slice can stop a run after others were written:
:func:`partial_write_error` then builds a :class:`PartialWriteError` that names the failed
slice and the slices written, and carries their provenance record (:mod:`..provenance`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..channels import Channels
from ..encoding import slices_window
from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from ..provenance import Record, record_states
from ..pyramid import is_read_only
from .support import check_labels_volume

WINDOW_SAMPLE_SLICES = 8


class PartialWriteError(InvalidInputError):
    """A run stopped after it had written some slices into ``out``.

    Attributes:
        failed_slice: the z being processed when it failed.
        written: ``{label_id: [z, ...]}`` the slices already written (each in its final state
            for that label; no other slice of ``out`` was touched).
        record: the provenance record of those slices (:mod:`.provenance`): store it under
            :data:`~napari_ifss.core.provenance.RECORD_KEY` in the labels' metadata so that a
            rerun treats them as propagated, not as the user's annotations.
    """

    def __init__(self, message: str, failed_slice: int, written: dict[int, list[int]],
                 record: Record) -> None:
        super().__init__(message)
        self.failed_slice = failed_slice
        self.written = written
        self.record = record


def window_slices(volume: object, n: int = WINDOW_SAMPLE_SLICES) -> list[int]:
    """The ``n`` evenly spaced slices :func:`sample_window` reads."""
    depth = int(volume.shape[0])  # type: ignore[attr-defined]
    return [int(z) for z in np.unique(np.linspace(0, depth - 1, min(n, depth)).round())]


def read_slice(volume: object, z: int) -> np.ndarray | Channels:
    """``volume[z]`` as an array (for :class:`Channels`, the slice of every channel read),
    refused when it holds NaN or infinite values.

    Raises:
        InvalidInputError: naming the slice and how to fix it.
    """
    if isinstance(volume, Channels):
        return Channels(tuple(read_slice(a, z) for a in volume.arrays), volume.windows,
                        volume.names)
    arr = np.asarray(volume[int(z)])  # type: ignore[index]
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise InvalidInputError(f"slice {z} of the volume contains NaN or infinite values; "
                                "replace them (e.g. np.nan_to_num) or mask them")
    return arr


def check_ids_fit(ids: list[int], out: object | None) -> None:
    """Refuse label ids that ``out``'s integer dtype cannot hold."""
    if out is None or not ids:
        return
    info = np.iinfo(np.dtype(out.dtype))  # type: ignore[attr-defined]
    if max(ids) > info.max:
        raise InvalidInputError(f"label id {max(ids)} does not fit out's dtype {info.dtype} "
                                f"(at most {info.max}); use a larger integer dtype for out")


def check_finite_up_front(volume: object, ids: list[int],
                          slices_of: Mapping[int, Sequence[int]], targets: list[int],
                          window: object | None) -> None:
    """For an in-memory float volume: refuse NaN/inf in any slice the run may read (the
    intensity sample and, per label, every slice between its support and the targets)."""
    if isinstance(volume, Channels):
        for arr in volume.arrays:
            check_finite_up_front(arr, ids, slices_of, targets, window)
        return
    if not (isinstance(volume, np.ndarray) and not isinstance(volume, np.memmap)
            and np.issubdtype(volume.dtype, np.floating) and targets):
        return
    zs = set(window_slices(volume)) if window is None else set()
    for i in ids:
        ann = slices_of[i]
        zs.update(range(min(targets[0], ann[0]), max(targets[-1], ann[-1]) + 1))
    for z in sorted(zs):
        read_slice(volume, z)


def partial_write_error(exc: Exception, label_id: int, z: int | None,
                        written: dict[int, list[int]], out: object) -> PartialWriteError:
    """The error for a run that failed after writing ``written`` into ``out``."""
    zs = sorted({w for ws in written.values() for w in ws})
    at = f"slice {z}" if z is not None else "its start"
    done = "; ".join(f"slices {_ranges(ws)} (label {i})" for i, ws in written.items())
    cause = str(exc) if isinstance(exc, InvalidInputError) else f"{type(exc).__name__}: {exc}"
    message = (f"{cause.rstrip('.')}. Propagation of label {label_id} stopped at {at}; "
               f"already written to out: {done}; no other slice of out was changed (this "
               "error's .record is their provenance record)")
    return PartialWriteError(message, -1 if z is None else z, written,
                             record_states({}, out, zs))  # type: ignore[arg-type]


def _ranges(zs: Iterable[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    runs: list[list[int]] = []
    for z in sorted(zs):
        if runs and z == runs[-1][1] + 1:
            runs[-1][1] = z
        else:
            runs.append([z, z])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def is_constant(image: np.ndarray) -> bool:
    """True when a slice holds one value everywhere (a blank slice: nothing to segment; for
    :class:`Channels`, every channel)."""
    if isinstance(image, Channels):
        return all(is_constant(a) for a in image.arrays)
    arr = np.asarray(image)
    return arr.size == 0 or bool(arr.min() == arr.max())


def check_not_constant(volume: object, slices: Sequence[np.ndarray] = ()) -> None:
    """Refuse a volume with one value everywhere (e.g. a NIfTI of NaN that SimpleITK reads as
    zeros): an in-memory numpy volume is checked whole; for a lazy one pass the ``slices``
    already read (window sample, support), so that no slice is read twice.

    Raises:
        InvalidInputError: naming the value and what to check (for :class:`Channels`: when
            every channel is so).
    """
    if isinstance(volume, Channels):
        refused = []
        for k, arr in enumerate(volume.arrays):
            try:
                check_not_constant(arr, [s.arrays[k] for s in slices])  # type: ignore[attr-defined]
            except InvalidInputError as err:
                refused.append(err)
        if len(refused) == volume.count:
            raise refused[0]
        return
    if isinstance(volume, np.ndarray):
        arrays: Sequence[np.ndarray] = [volume]
    elif slices:
        arrays = slices
    else:
        return
    if any(not is_constant(a) for a in arrays):
        return
    values = {a.flat[0].item() for a in arrays if a.size}
    if len(values) > 1:
        return
    raise InvalidInputError(
        f"the volume holds the same value ({next(iter(values), None)}) everywhere: there is "
        "nothing to segment. Check that the right file or channel was opened (a file of NaN "
        "or an empty acquisition reads as one value)")


@dataclass(frozen=True)
class PropagationProgress:
    """One propagated slice.

    Attributes:
        label_id: the object propagated.
        z: slice index.
        labels: ``(Y, X)`` the slice's labels after this step (what ``out[z]`` now holds).
        mask: ``(Y, X)`` bool, the voxels this step gave to ``label_id``.
        done, total: progress over all label ids (``done`` counts this slice).
        predicted: False when the front had already stopped (object ended) and the network
            was skipped.
    """

    label_id: int
    z: int
    labels: np.ndarray
    mask: np.ndarray
    done: int
    total: int
    predicted: bool = True

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def volume_window(volume: object, sampled: Sequence[object]
                  ) -> IntensityWindow | tuple[IntensityWindow, ...]:
    """The window of a volume from slices ``sampled`` of it (:func:`slices_window`); for
    :class:`Channels`, one per channel: the channel's own window where it has one."""
    if not isinstance(volume, Channels):
        return slices_window(list(sampled))  # type: ignore[arg-type]
    return tuple(w if w is not None else slices_window([s.arrays[k] for s in sampled])  # type: ignore[attr-defined]
                 for k, w in enumerate(volume.windows))


def run_window(volume: object, window: object = None
               ) -> IntensityWindow | tuple[IntensityWindow, ...]:
    """The window(s) a run over ``volume`` uses, the same for propagation and its scoring:
    ``window`` itself, else :func:`sample_window`; for :class:`Channels` one per channel
    (``window``: one for all or one per channel; a channel without one gets its own from the
    sampled slices, which are read only then)."""
    if not isinstance(volume, Channels):
        return window if window is not None else sample_window(volume)  # type: ignore[return-value]
    seen = volume.with_windows(window) if window is not None else volume  # type: ignore[arg-type]
    if all(w is not None for w in seen.windows):
        return seen.windows  # type: ignore[return-value]
    return sample_window(seen)


def sample_window(volume: object, n: int = WINDOW_SAMPLE_SLICES
                  ) -> IntensityWindow | tuple[IntensityWindow, ...]:
    """Intensity window of a volume from ``n`` evenly spaced slices (bounded reads); for
    :class:`Channels` one per channel (:func:`volume_window`)."""
    return volume_window(volume, [read_slice(volume, z) for z in window_slices(volume, n)])


def check_volume_shape(shape: tuple[int, ...]) -> None:
    """Refuse anything but ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)``, saying how to fix channel data.

    Raises:
        InvalidInputError: another number of axes, or a 4th axis that is not RGB(A).
    """
    if len(shape) == 3 or (len(shape) == 4 and shape[-1] in (3, 4)):
        return
    hint = ""
    if len(shape) == 4:
        ch = 1 if shape[1] <= 8 else 0
        hint = (f"; it looks like {'(Z, C, Y, X)' if ch else '(C, Z, Y, X)'} with "
                f"{shape[ch]} channels: pass one channel, e.g. "
                f"{'volume[:, 0]' if ch else 'volume[0]'} (ifss.propagate: channel_axis=), "
                "or, for a 3D movie (T, Z, Y, X), labels of that shape and along='z' or 't'")
    elif len(shape) > 4:
        hint = "; pass one time point and one channel, e.g. volume[0, :, 0]"
    raise InvalidInputError(f"volume must be (Z, Y, X) or (Z, Y, X, 3|4); got shape {shape}"
                            + hint)


def check_volume_dtype(volume: object) -> None:
    """Refuse volumes whose values are not real intensities (complex, object, structured).

    Raises:
        InvalidInputError: naming the dtype.
    """
    if isinstance(volume, Channels):
        return  # each channel's dtype is checked when the Channels is made
    dtype = np.dtype(getattr(volume, "dtype", object))
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise InvalidInputError(f"volume must hold integer, float or boolean intensities; got "
                                f"dtype {dtype}")


def check_inputs(volume: object, labels: object, out: object | None) -> tuple[int, int, int]:
    """Shapes and dtypes of a propagation's volume, labels and ``out``; its (Z, Y, X).

    Raises:
        InvalidInputError: naming what does not fit.
    """
    vshape = tuple(getattr(volume, "shape", ()))
    lshape = tuple(getattr(labels, "shape", ()))
    check_volume_shape(vshape)
    check_volume_dtype(volume)
    check_labels_volume(labels)
    if lshape != vshape[:3]:
        raise InvalidInputError(
            f"labels shape {lshape} does not match the volume's (Z, Y, X) {vshape[:3]}")
    if out is not None:
        oshape = tuple(getattr(out, "shape", ()))
        if oshape != lshape:
            raise InvalidInputError(f"out has shape {oshape}, expected {lshape}")
        if not np.issubdtype(np.dtype(out.dtype), np.integer):  # type: ignore[attr-defined]
            raise InvalidInputError(f"out must have an integer dtype, got {out.dtype}")  # type: ignore[attr-defined]
        if is_read_only(out):
            raise InvalidInputError("out is read-only; pass a writable array (e.g. a copy, or "
                                    "a zarr array opened with mode='r+')")
    return lshape  # type: ignore[return-value]


def write_slice(label_id: int, z: int, mask: np.ndarray, out, labels, done: int, total: int,
           predicted: bool) -> PropagationProgress:
    """Write ``mask`` into ``out[z]`` where nothing is labelled yet; the progress event."""
    if out is None:
        dtype = np.dtype(labels.dtype)
        current = np.zeros(mask.shape, dtype=dtype)
    else:
        current = np.array(out[z])
    gained = mask & (current == 0)
    current[gained] = label_id
    if out is not None and gained.any():
        out[z] = current
    return PropagationProgress(label_id, z, current, gained, done, total, predicted)
