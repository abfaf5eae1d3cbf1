"""Segment another stack from the annotated slices of a first one (a cancellable generator).

The support (image + labels slices where a label id is drawn) comes from a *source* volume;
every slice of a *target* volume with the same ``(Y, X)`` size and any depth is predicted
independently (no neighbour prior: the target has no annotated slice to start a front from).
Both volumes share the source's intensity window, so they should be of the same modality.
Arrays are read one z slice at a time (numpy, dask, zarr).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from .fewshot import FewShotSegmenter
from .support import index_labels, resolve_label_ids
from .volume_io import PropagationProgress, check_inputs, sample_window, write_slice


def transfer(source: object, source_labels: object, target: object, out: object,
             label_ids: int | Iterable[int] | None = None, *,
             segmenter: FewShotSegmenter | None = None, threshold: float = 0.5,
             window: IntensityWindow | None = None) -> Iterator[PropagationProgress]:
    """Segment every slice of ``target`` with the objects annotated in ``source_labels``.

    Args:
        source: ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)`` volume the annotations were drawn on.
        source_labels: ``(Z, Y, X)`` integer labels of ``source``; slices with an id are its
            support.
        target: ``(Z', Y, X)`` (or RGB) volume to segment, same ``(Y, X)`` as ``source``.
        out: writable ``(Z', Y, X)`` integer array receiving the results; nonzero voxels are
            kept (several ids never overlap: the first id listed wins).
        label_ids: one id, several, or None for every id present.
        segmenter, threshold, window: as in :func:`~napari_ifss.core.fewshot.propagation.propagate`.

    Yields:
        :class:`PropagationProgress` per target slice and label id, after ``out[z]`` was
        written (``done``/``total`` count over all ids).

    Raises:
        InvalidInputError: raised on the call (before anything is written) for bad shapes,
            an id not present, or a threshold outside (0, 1).
    """
    check_inputs(source, source_labels, None)
    tshape = tuple(getattr(target, "shape", ()))
    sshape = tuple(getattr(source, "shape", ()))
    if len(tshape) != len(sshape) or tshape[1:] != sshape[1:]:
        raise InvalidInputError(f"target shape {tshape} does not match the source's "
                                f"(Y, X{', C' if len(sshape) == 4 else ''}) {sshape[1:]}")
    oshape = tuple(getattr(out, "shape", ()))
    if oshape != tshape[:3] or not np.issubdtype(np.dtype(out.dtype), np.integer):  # type: ignore[attr-defined]
        raise InvalidInputError(f"out must be an integer array of shape {tshape[:3]}; got "
                                f"{oshape} {getattr(out, 'dtype', None)}")
    if not 0.0 < threshold < 1.0:
        raise InvalidInputError(f"threshold must lie in (0, 1), got {threshold}")
    index = index_labels(source_labels)
    ids = resolve_label_ids(index, label_ids)
    return _run(source, source_labels, target, out, ids, index.slices_of, segmenter,
                threshold, window)


def _run(source, source_labels, target, out, ids, slices_of, segmenter, threshold,
         window) -> Iterator[PropagationProgress]:
    seg = segmenter if segmenter is not None else FewShotSegmenter.default()
    window = window if window is not None else sample_window(source)
    depth = int(target.shape[0])
    total, done = depth * len(ids), 0
    for label_id in ids:
        zs = list(slices_of[label_id])
        seg.set_support([np.asarray(source[z]) for z in zs],
                        [np.asarray(source_labels[z]) == label_id for z in zs], window=window)
        for z in range(depth):
            mask = seg.predict(np.asarray(target[z])) > threshold
            done += 1
            yield write_slice(label_id, z, mask, out, out, done, total, True)
