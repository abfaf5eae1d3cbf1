"""The checks of :mod:`.propagation` that keep a run from leaving ``out`` half-written.

Everything that can fail is checked before the first write where that is cheap: ids that fit
``out``'s dtype, and for an in-memory numpy volume NaN/inf in every slice the run may read. A
lazy volume (dask, zarr) is checked slice by slice as it is read (:func:`read_slice`), so a bad
slice can stop a run after others were written: :func:`partial_write_error` then builds a
:class:`PartialWriteError` that names the failed slice and the slices written, and carries
their provenance record (:mod:`.provenance`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import InvalidInputError
from ..provenance import Record, record_states

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
    """The ``n`` evenly spaced slices :func:`~.propagation.sample_window` reads."""
    depth = int(volume.shape[0])  # type: ignore[attr-defined]
    return [int(z) for z in np.unique(np.linspace(0, depth - 1, min(n, depth)).round())]


def read_slice(volume: object, z: int) -> np.ndarray:
    """``volume[z]`` as an array, refused when it holds NaN or infinite values.

    Raises:
        InvalidInputError: naming the slice and how to fix it.
    """
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
    """True when a slice holds one value everywhere (a blank slice: nothing to segment)."""
    arr = np.asarray(image)
    return arr.size == 0 or bool(arr.min() == arr.max())


def check_not_constant(volume: object, slices: Sequence[np.ndarray] = ()) -> None:
    """Refuse a volume with one value everywhere (e.g. a NIfTI of NaN that SimpleITK reads as
    zeros): an in-memory numpy volume is checked whole; for a lazy one pass the ``slices``
    already read (window sample, support), so that no slice is read twice.

    Raises:
        InvalidInputError: naming the value and what to check.
    """
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
