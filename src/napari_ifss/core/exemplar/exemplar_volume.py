"""Exemplar mode through a stack: :func:`segment_all_like_volume` and its linking across slices.

The volume is ``(Z, Y, X)`` (or ``(Z, Y, X, 3|4)``), labels ``(Z, Y, X)``; each slice is a
``(Y, X)`` image in (row, col) coordinates. :func:`~.exemplar.segment_all_like` runs on the
exemplar's slice (:func:`exemplar_slice`: where its area is largest); every other slice is
predicted with that slice's objects as the few-shot support, split and filtered by
:mod:`.instances`, and :func:`_link` gives each instance the id of the object it mostly
overlaps on the previous slice, or a new one. Progress comes as :class:`ExemplarSliceEvent`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from ..errors import InvalidInputError
from ..fewshot.fewshot import FewShotSegmenter
from ..labels_ops import next_free_id
from ..normalize import IntensityWindow
from .exemplar import (
    ExemplarSettings,
    check_exemplar_image,
    check_label_id,
    default_exemplar_segmenter,
    segment_all_like,
)
from .instances import ObjectShape, area_filter, find_instances, resized


@dataclass(frozen=True)
class ExemplarSliceEvent:
    """Progress of :func:`segment_all_like_volume`: slice ``z`` is done.

    Attributes:
        z: the slice; done / total: slices processed so far (this one included) / in all.
        labels: ``(Y, X)`` the objects written on this slice (new ids, or the id of the object
            they continue from the previous slice); 0 elsewhere and wherever the input labels
            were nonzero; read-only.
        new_ids: ids first used on this slice.
    """

    z: int
    done: int
    total: int
    labels: np.ndarray
    new_ids: tuple[int, ...]

    @property
    def count(self) -> int:
        """Number of objects written on this slice."""
        return len(np.unique(self.labels[self.labels > 0]))


# -------------------------------------------------------------------------- volume
def exemplar_slice(labels: np.ndarray, exemplar_id: int) -> int:
    """The z index where ``exemplar_id`` has its largest area in ``(Z, Y, X)`` ``labels``.

    Raises:
        InvalidInputError: if the id is on no slice.
    """
    areas = [int(np.count_nonzero(np.asarray(labels[z]) == exemplar_id))
             for z in range(labels.shape[0])]
    if not any(areas):
        raise InvalidInputError(f"label {exemplar_id} is on no slice: segment one object "
                                "(the exemplar) first")
    return int(np.argmax(areas))


def _link(inst: np.ndarray, previous: np.ndarray | None, next_id: int
          ) -> tuple[np.ndarray, list[int], int]:
    """Give each instance of ``inst`` (ids 1..n) the id of the object covering at least half
    of it on ``previous`` (the processed neighbouring slice, all its labels), else a new id
    from ``next_id``; returns (labels, new ids, next free id)."""
    out = np.zeros(inst.shape, np.int64)
    new: list[int] = []
    used: set[int] = set()
    for i, sl in enumerate(ndi.find_objects(inst), start=1):
        if sl is None:
            continue
        mask = inst[sl] == i
        target = 0
        if previous is not None:
            under = previous[sl][mask]
            values, counts = np.unique(under[under > 0], return_counts=True)
            if values.size and counts.max() * 2 >= mask.sum():
                target = int(values[np.argmax(counts)])
        if target == 0 or target in used:
            target, next_id = next_id, next_id + 1
            new.append(target)
        used.add(target)
        out[sl][mask] = target
    return out, new, next_id


def segment_all_like_volume(
    volume: np.ndarray, labels: np.ndarray, exemplar_id: int, *, z: int | None = None,
    segmenter: FewShotSegmenter | None = None, settings: ExemplarSettings | None = None,
    window: IntensityWindow | None = None,
) -> Iterator[ExemplarSliceEvent]:
    """Exemplar mode through a ``(Z, Y, X)`` (or ``(Z, Y, X, 3|4)``) stack, slice by slice.

    The exemplar is taken from slice ``z`` (default: where its area is largest), where
    :func:`segment_all_like` runs first; every other slice is then predicted by the few-shot
    model with that slice's exemplar plus found objects as the support, split and filtered
    the same way. Slices run outward from ``z`` (``z+1 .. Z-1``, then ``z-1 .. 0``); an
    instance covering at least half of its area of one object on the slice processed just
    before (its neighbour towards ``z``, user labels included) continues that object's id,
    otherwise it gets a new id, unique in the volume (from ``next_free_id(labels)``).

    ``volume`` and ``labels`` are only read, one slice at a time (numpy, dask, zarr); nonzero
    label voxels are never part of a result. Yields one :class:`ExemplarSliceEvent` per slice.

    Raises:
        InvalidInputError: shapes that differ or are not a stack, a non-integer labels dtype,
            the exemplar on no slice, NaN slices, a ``z`` outside the stack.
    """
    shape = tuple(volume.shape)
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (3, 4)):
        raise InvalidInputError(f"volume must be (Z, Y, X) or (Z, Y, X, 3|4); got {shape}")
    if tuple(labels.shape) != shape[:3]:
        raise InvalidInputError(f"labels have shape {tuple(labels.shape)}, the volume has "
                                f"{shape[:3]}")
    if not np.issubdtype(np.dtype(labels.dtype), np.integer):
        raise InvalidInputError(f"labels must have an integer dtype; got {labels.dtype}")
    exemplar_id = check_label_id(exemplar_id)
    z0 = exemplar_slice(labels, exemplar_id) if z is None else int(z)
    if not 0 <= z0 < shape[0]:
        raise InvalidInputError(f"z = {z0} lies outside the stack of {shape[0]} slices")
    settings = settings or ExemplarSettings()
    segmenter = segmenter or default_exemplar_segmenter()
    if window is None:
        from ..fewshot.volume_io import sample_window

        window = sample_window(volume)
    dtype = np.dtype(labels.dtype)
    next_id = max(next_free_id(np.asarray(labels[zz])) for zz in range(shape[0]))
    lab0 = np.asarray(labels[z0])
    # every slice at one scale: the stack's slices are predicted whole below, so no tiles
    first = segment_all_like(np.asarray(volume[z0]), lab0, exemplar_id, segmenter=segmenter,
                             settings=replace(settings, tiles=False), first_id=next_id,
                             window=window)
    next_id += first.count
    total, done = shape[0], 1
    yield ExemplarSliceEvent(z0, done, total, first.labels, first.ids)
    area, scale = float(first.exemplar_area), first.scale
    support = (lab0 == exemplar_id) | (first.labels > 0)
    h, w = support.shape
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    img0 = resized(np.asarray(volume[z0]).astype(np.float32), size, 1).astype(np.float32)
    segmenter.set_support([img0], [resized(support.astype(np.float32), size, 1) >= 0.5],
                          window=window)
    shape_s = ObjectShape.of(resized((lab0 == exemplar_id).astype(np.float32), size, 1) >= 0.5)
    start = np.where(lab0 != 0, lab0, first.labels).astype(np.int64)
    for order in (range(z0 + 1, shape[0]), range(z0 - 1, -1, -1)):
        previous = start
        for zz in order:
            image = check_exemplar_image(np.asarray(volume[zz]), f"slice {zz}")
            lab = np.asarray(labels[zz])
            img = resized(image.astype(np.float32), size, 1).astype(np.float32)
            prob = segmenter.predict(img)
            blocked_s = resized((lab != 0).astype(np.float32), size, 1) > 0
            inst = find_instances(prob > settings.threshold, blocked_s, shape_s, settings)[0]
            inst = resized(inst, (h, w), 0).astype(np.int32)
            inst = area_filter(np.where(lab != 0, 0, inst), area, settings)[0]
            linked, new, next_id = _link(inst, previous, next_id)
            if new and new[-1] > np.iinfo(dtype).max:
                raise InvalidInputError(f"labels of dtype {dtype} are full; convert them to a "
                                        "wider dtype")
            out = linked.astype(dtype)
            out.flags.writeable = False
            done += 1
            yield ExemplarSliceEvent(zz, done, total, out, tuple(new))
            previous = np.where(lab != 0, lab, linked)
