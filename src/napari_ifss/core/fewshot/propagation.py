"""Propagate annotated objects through a volume, slice by slice, as a cancellable generator.

For each label id the slices that contain it are its support. Fronts run outward from every
annotated slice, nearest slices first (order: distance to the nearest annotated slice, then z);
each slice is predicted by a *slice model* given the mask just propagated on the adjacent slice
as a prior. Two methods (``method=``):

* ``"learner"`` (default): the per-volume learner, a pixel classifier fitted in seconds on the
  support slices of the object (:class:`~.learner_segmenter.LearnerSegmenter`,
  :mod:`.volume_learner`); it honours the voxel ``spacing`` and says "not on this slice" beyond
  an object's end. Held out by construction: it never saw another volume.
* ``"head"``: the meta-learned few-shot head (:class:`~.fewshot.FewShotSegmenter`, support
  slices weighted by z distance); also any ``segmenter`` passed in.

Where two fronts meet, the slice has both neighbours done and gets the mean of the two masks as
its prior (the learner: their union): that is how the fronts are reconciled. Outside the
annotated z-range a front stops once the object has vanished.

Guarantees:

* A slice that holds any nonzero label in ``labels`` is never written (it is predicted, when a
  front passes through it, only to carry the prior on), and no nonzero voxel is overwritten.
* Several label ids are propagated one after the other; a voxel already taken by an earlier
  label keeps it (no overlap). Each label's support comes from the user's labels only.
* Streaming: ``volume`` and ``labels`` are read one z slice at a time (numpy, dask and zarr
  arrays work alike); results go into ``out`` slice by slice, or only into the events. Memory
  is bounded by a few slices per annotated slice, never by the number of slices (the
  learner keeps the features of its last 16 slices).

Driving it from a GUI thread worker: iterate, update the layer from each
:class:`PropagationProgress` (or let it write into ``out``), and cancel by stopping the
iteration or calling ``.close()`` on the generator: every slice already yielded has been
written, nothing else has.

Failures: everything that can be checked before the first write is (shapes, dtypes, ids that
fit ``out``, a writable ``out``; for an in-memory numpy volume also NaN/inf in every slice the
run may read). A lazy (dask, zarr) volume is checked slice by slice as it is read, so a bad
slice can stop a run midway: then :class:`PartialWriteError` says which slice failed and which
slices were already written to ``out``, and carries their provenance record.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Iterator

import numpy as np

from ..channels import Channels
from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from .fewshot import FewShotSegmenter
from .learner_segmenter import DEFAULT_METHOD, LearnerSegmenter, check_method, check_spacing
from .support import index_labels, resolve_label_ids
from .support_channel import channel_key, support_channel
from .volume_io import (
    PropagationProgress,
    check_finite_up_front,
    check_ids_fit,
    check_inputs,
    check_not_constant,
    is_constant,
    partial_write_error,
    read_slice,
    run_window,
    volume_window,
    window_slices,
    write_slice,
)
from .volume_learner import LearnerConfig

__all__ = ["processing_order", "propagate", "propagate_volume", "slice_model"]


def processing_order(annotated: Iterable[int], lo: int, hi: int) -> list[int]:
    """Slices ``lo..hi`` (inclusive) minus ``annotated``, nearest-to-an-annotation first
    (ties by z)."""
    ann = np.asarray(sorted(set(annotated)), dtype=int)
    if ann.size == 0:
        raise InvalidInputError("no annotated slice to propagate from")
    zs = np.array([z for z in range(lo, hi + 1) if z not in set(ann.tolist())], dtype=int)
    if zs.size == 0:
        return []
    dist = np.abs(zs[:, None] - ann[None, :]).min(axis=1)
    return [int(z) for z in zs[np.lexsort((zs, dist))]]


def propagate(volume: object, labels: object, label_ids: int | Iterable[int] | None = None,
              slices: Iterable[int] | None = None, *, method: str | None = None,
              segmenter: FewShotSegmenter | None = None, learner: LearnerConfig | None = None,
              spacing: tuple[float, float, float] | None = None, out: object | None = None,
              threshold: float = 0.5, use_neighbour: bool = True, stop_when_empty: bool = True,
              window: IntensityWindow | None = None, cache_prefix: Hashable | None = None
              ) -> Iterator[PropagationProgress]:
    """Propagate ``label_ids`` from their annotated slices to ``slices`` (a generator).

    Args:
        volume: ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)`` array-like (numpy, dask, zarr), or
            :class:`~napari_ifss.core.channels.Channels` of ``(Z, Y, X)`` arrays: the learner
            uses them together, the head the one each object stands out in on its annotated
            slices (:mod:`.support_channel`).
        labels: ``(Z, Y, X)`` integer labels; slices containing an id are its support.
        label_ids: one id, several, or None for every id present.
        slices: the z indices to fill (default all); annotated slices are always skipped.
        method: ``"learner"`` (the per-volume learner) or ``"head"`` (the meta-learned
            few-shot head); None: ``"head"`` when a ``segmenter`` is given, else ``"learner"``.
        segmenter: the slice model of method ``"head"`` (default
            :meth:`FewShotSegmenter.default`, loaded on the first slice), or any object with
            ``set_support`` / ``predict``; its support is replaced for each label id.
        learner: the design of method ``"learner"`` (default :class:`LearnerConfig`).
        spacing: ``(z, y, x)`` voxel spacing for method ``"learner"`` (default 1, 1, 1):
            thick slices widen its neighbour prior.
        out: writable ``(Z, Y, X)`` integer array-like receiving the results slice by slice
            (it may be ``labels`` itself). None: results only in the events (one label id).
        threshold: probability above which a voxel belongs to the object.
        use_neighbour: use the mask propagated on the adjacent slice as a prior.
        stop_when_empty: outside the annotated z-range, stop a front once its mask is empty.
        window: intensity window (default: from a few evenly spaced slices of the volume;
            for Channels each channel's own window, else its own slices).
        cache_prefix: when given, encoded slices are cached in the segmenter under
            ``(cache_prefix, z)`` (useful to re-run on the same volume); a channel's under
            ``(channel_key(cache_prefix, k), z)``.

    Yields:
        :class:`PropagationProgress` per filled slice and label id, after it was written.

    Raises:
        InvalidInputError: bad shapes/dtypes, an id not in ``labels`` or one that ``out``
            cannot hold, a read-only ``out``, a slice index out of range, several ids without
            ``out``, NaN/inf in an in-memory volume, an unknown ``method``, a ``segmenter``
            with ``method="learner"``, bad ``spacing`` (raised before anything is written).
        PartialWriteError: while iterating, a failure after slices were written to ``out``
            (e.g. NaN in a slice of a lazy volume); it names the slices written.
    """
    depth, _, _ = check_inputs(volume, labels, out)
    model = slice_model(method, segmenter, learner, spacing, threshold)
    index = index_labels(labels)
    ids = resolve_label_ids(index, label_ids)
    if out is None and len(ids) > 1:
        raise InvalidInputError("propagating several label ids needs an `out` array to merge "
                                "them without overlap (e.g. out=labels.copy() or a zarr array)")
    wanted = range(depth) if slices is None else sorted({int(z) for z in slices})
    for z in wanted:
        if not 0 <= z < depth:
            raise InvalidInputError(f"slice index {z} is outside the volume (0..{depth - 1})")
    protected = set(index.annotated)
    targets = [z for z in wanted if z not in protected]
    if not 0.0 < threshold < 1.0:
        raise InvalidInputError(f"threshold must lie in (0, 1), got {threshold}")
    for i in ids:  # the support check of set_support, done before anything is written
        if all(np.all(np.asarray(labels[z]) == i) for z in index.slices_of[i]):  # type: ignore[index]
            raise InvalidInputError(
                f"label {i} covers every slice it is drawn on: some background is needed")
    check_ids_fit(ids, out)
    check_finite_up_front(volume, ids, index.slices_of, targets, window)
    if isinstance(volume, np.ndarray):
        check_not_constant(volume)  # lazy volumes: on the slices _run reads anyway
    return _run(volume, labels, ids, index, targets, protected, model, out, threshold,
                use_neighbour, stop_when_empty, window, cache_prefix)


def slice_model(method: str | None, segmenter: object | None, learner: LearnerConfig | None,
                spacing: tuple[float, float, float] | None, threshold: float
                ) -> object | None:
    """The slice model a run drives: a new :class:`LearnerSegmenter` for ``"learner"``,
    ``segmenter`` for ``"head"`` (None: the shipped head, loaded when the run starts).

    Raises:
        InvalidInputError: an unknown method, a ``segmenter`` with ``"learner"``, a ``learner``
            design with ``"head"``, bad spacing or threshold.
    """
    method = check_method(method if method is not None else
                          "head" if segmenter is not None else DEFAULT_METHOD)
    if method == "head":
        if learner is not None:
            raise InvalidInputError("a learner design needs method='learner'")
        check_spacing(spacing)
        return segmenter
    if segmenter is not None:
        raise InvalidInputError("method='learner' fits its own model on the annotated slices: "
                                "leave segmenter out, or use method='head'")
    return LearnerSegmenter(learner, spacing, threshold)


def _run(volume, labels, ids, index, targets, protected, segmenter, out, threshold,
         use_neighbour, stop_when_empty, window, cache_prefix) -> Iterator[PropagationProgress]:
    if not targets:
        return
    seg = segmenter if segmenter is not None else FewShotSegmenter.default()
    support = {z: read_slice(volume, z) for z in sorted({z for i in ids
                                                         for z in index.slices_of[i]})}
    if window is None:
        sampled = [read_slice(volume, z) for z in window_slices(volume)]
        check_not_constant(volume, sampled + list(support.values()))
        window = volume_window(volume, sampled)
    else:
        window = run_window(volume, window)  # for Channels one per channel
    by_channel = isinstance(volume, Channels) and not isinstance(seg, LearnerSegmenter)
    total, done = len(targets) * len(ids), 0
    target_set = set(targets)
    written: dict[int, list[int]] = {}
    blank: set[int] = set()
    label_id, z = ids[0], None
    try:
        for label_id in ids:
            z = None
            ann = list(index.slices_of[label_id])
            known = {a: np.asarray(labels[a]) == label_id for a in ann}
            view, win, prefix, shots = volume, window, cache_prefix, [support[a] for a in ann]
            if by_channel:  # the head sees one channel: the one this object stands out in
                k = support_channel(shots, [known[a] for a in ann], window)
                view, win, shots = volume.arrays[k], window[k], [s.arrays[k] for s in shots]
                prefix = None if cache_prefix is None else channel_key(cache_prefix, k)
            seg.set_support(shots, [known[a] for a in ann], positions=ann, window=win)
            lo, hi = min(min(targets), ann[0]), max(max(targets), ann[-1])
            finished = set(ann)
            for z in processing_order(ann, lo, hi):
                nbrs = [known[n] for n in (z - 1, z + 1) if n in known]
                nearest_ann = min(ann, key=lambda a, z=z: (abs(a - z), a))
                inner = z - 1 if nearest_ann < z else z + 1
                outside = z < ann[0] or z > ann[-1]
                if stop_when_empty and outside and inner in known and not known[inner].any():
                    mask, predicted = np.zeros_like(known[inner]), False
                else:
                    image = read_slice(view, z)
                    if is_constant(image):  # a blank slice: nothing to find on it
                        mask, predicted = np.zeros(image.shape[:2], dtype=bool), False
                        blank.add(z)
                    else:
                        prior = np.mean(nbrs, axis=0) if (use_neighbour and nbrs) else None
                        key = None if prefix is None else (prefix, z)
                        prob = seg.predict(image, position=z, neighbour=prior, key=key)
                        mask, predicted = prob > threshold, True
                known[z] = mask
                finished.add(z)
                for n in (z - 1, z, z + 1):  # forget masks no longer needed as a prior
                    if n in known and n not in ann and all(
                            m in finished or not lo <= m <= hi for m in (n - 1, n + 1)):
                        del known[n]
                if z not in target_set:
                    continue
                done += 1
                event = write_slice(label_id, z, mask, out, labels, done, total, predicted)
                written.setdefault(label_id, []).append(z)
                yield event
    except Exception as exc:
        if out is None or not written:
            raise
        raise partial_write_error(exc, label_id, z, written, out) from exc
    if blank:
        warnings.warn(f"{len(blank)} slice(s) hold a single value everywhere (blank): "
                      f"{sorted(blank)[:10]}{' ...' if len(blank) > 10 else ''}; they were "
                      "left empty", UserWarning, stacklevel=2)


def propagate_volume(volume: object, labels: np.ndarray,
                     label_ids: int | Iterable[int] | None = None,
                     slices: Iterable[int] | None = None, **kwargs) -> np.ndarray:
    """Run :func:`propagate` to completion on an in-memory copy of ``labels``; returns it."""
    out = np.array(labels, copy=True)
    for _ in propagate(volume, labels, label_ids, slices, out=out, **kwargs):
        pass
    return out
