"""What a Few-shot dock selection runs: the checks and the :class:`RunPlan` of one run
(a ``(Z, Y, X)`` stack, or a 3D movie ``(T, Z, Y, X)`` followed along z or through time).

:class:`Selection` is the dock's controls read in the UI thread (the run does not follow later
edits); :func:`plan_run` validates it (a clear :class:`InvalidInputError` and no change on bad
input) and says what the run does: which volume (one layer, or the image and its other
channels used together), which slices and ids, the method, the intensity windows, the labels
layer written and what JFS scores afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from napari.layers import Image, Labels
from napari.viewer import Viewer

from ..core.channels import Channels
from ..core.errors import InvalidInputError
from ..core.fewshot.learner_segmenter import LearnerSegmenter
from ..core.fewshot.movie import ALONG, propagate_movie
from ..core.fewshot.propagation import propagate
from ..core.fewshot.support import LabelsIndex, index_labels
from ..core.fewshot.transfer import transfer
from ..core.io.layerdata import spacing_of
from ..core.normalize import IntensityWindow
from ..core.planes import PlaneStack, plane_index
from ..core.provenance import record_key
from ..core.slice_store import compressed_copy
from .fewshot_run import RunPlan, clear_slices, parse_ids, user_support
from .labels_history import check_writable
from .quality_worker import ScoringRequest, reserve_cache
from .slice_context import full_resolution, spatial_shape

ALL, BETWEEN, RANGE = "all slices", "between annotated slices", "z range"


@dataclass(frozen=True)
class Selection:
    """The Few-shot dock's controls when Propagate is pressed.

    Attributes:
        image: the annotated image layer.
        labels: the labels layer holding the annotated slices.
        ids: the "label ids" text (empty: every id).
        method: ``"learner"`` or ``"head"``.
        mode: :data:`ALL`, :data:`BETWEEN` or :data:`RANGE`; ``z_range`` its inclusive bounds.
        target: another image to segment (None: the image itself).
        channels: other channels of ``image`` used together with it.
        window: the intensity window of a layer under the dock's choice (None: automatic).
        along: for a 3D movie, ``"z"`` (through the slices of each time point) or ``"t"``
            (through time); None for a stack.
    """

    image: Image | None
    labels: Labels | None
    ids: str
    method: str
    mode: str
    z_range: tuple[int, int]
    target: Image | None
    channels: tuple[Image, ...]
    window: Callable[[Image], IntensityWindow | None]
    along: str | None = None


def plan_run(viewer: Viewer, sel: Selection) -> RunPlan:
    """Validate ``sel`` and say what its run does (another target image gets a new labels
    layer in ``viewer``, the only change made here).

    Raises:
        InvalidInputError: what is wrong with the selection, in the user's words.
    """
    image, labels = sel.image, sel.labels
    if image is None:
        raise InvalidInputError("choose an image layer")
    shape = spatial_shape(image)
    if len(shape) not in (3, 4):
        raise InvalidInputError(f"image {image.name!r} has {len(shape)} spatial axes; "
                                "few-shot propagation needs a (Z, Y, X) stack or a 3D movie "
                                "(T, Z, Y, X)")
    if labels is None:
        raise InvalidInputError("choose a labels layer with annotated slices")
    lshape = tuple(np.shape(full_resolution(labels)))
    if lshape != shape:
        raise InvalidInputError(f"labels {labels.name!r} has shape {lshape}, "
                                f"image {image.name!r} has {shape}")
    check_writable(labels)
    if len(shape) == 4:
        _check_movie(image, sel)
    user, stale = user_support(labels, sel.along or "z")
    # the worker's copy: propagation writes into it
    support = compressed_copy(user, shape=lshape)
    index = index_labels(PlaneStack(support))
    if not index.annotated:
        raise InvalidInputError(f"no annotated slice in {labels.name!r}: draw the object "
                                "on at least one slice first")
    ids = parse_ids(sel.ids, index)
    if len(shape) == 4:
        return _movie_plan(image, labels, sel, support, index, stale, ids)
    method = sel.method
    volume, window = _volume(image, sel)
    target = sel.target
    if target is not None and target is not image:
        return _transfer_plan(viewer, image, target, labels, sel.method, volume, support,
                              ids, window)
    slices = _slices(sel, index, ids)
    todo = [z for z in slices if z not in set(index.annotated)]
    if not todo:
        raise InvalidInputError("nothing to fill: every selected slice is annotated")
    redo = sorted(set(stale) & set(slices))
    spacing = spacing_of(image.scale)  # (z, y, x) voxel size
    scoring = ScoringRequest.for_run(volume, ids, spacing, window)  # as the run
    channel_count = volume.count if isinstance(volume, Channels) else 1
    if method == "head":
        def start(seg):
            return propagate(volume, support, ids, slices, method="head",
                             segmenter=reserve_cache(seg, index.depth * channel_count),
                             out=support,
                             cache_prefix=scoring.cache_prefix, window=window)
    else:
        def start(seg):  # seg: the pretrained model, loaded for the quality scores
            return propagate(volume, support, ids, slices, method="learner",
                             spacing=spacing, out=support, window=window)
    return RunPlan(start, len(todo) * len(ids), labels,
                   lambda: clear_slices(labels, redo, ids), scoring)


def _volume(image: Image, sel: Selection) -> tuple[object, IntensityWindow | None]:
    """What a run reads and its window: level 0 of ``image`` (of a pyramid layer too) under
    the chosen window, or with other channels chosen their
    :class:`~napari_ifss.core.channels.Channels`, each under its own window (None: its own
    percentiles)."""
    if not sel.channels:
        return full_resolution(image), sel.window(image)  # what you see, if so chosen
    layers = (image, *sel.channels)
    return Channels(tuple(full_resolution(ly) for ly in layers),
                    tuple(sel.window(ly) for ly in layers),
                    tuple(ly.name for ly in layers)), None


def _check_movie(image: Image, sel: Selection) -> None:
    """Refuse what a 3D movie's run cannot do (before its labels are read)."""
    if sel.along not in ALONG:
        raise InvalidInputError("choose how to follow the object through the movie: through "
                                "the slices of each time point, or through time")
    if sel.target is not None and sel.target is not image:
        raise InvalidInputError("a 3D movie is followed in itself: clear 'segment in another "
                                "image'")
    if sel.mode != ALL:
        raise InvalidInputError("a 3D movie is followed whole: choose 'all slices'")


def _movie_plan(image: Image, labels: Labels, sel: Selection, support: object,
                index: LabelsIndex, stale: list[int], ids: list[int]) -> RunPlan:
    """The run that follows the objects of a 3D movie ``(T, Z, Y, X)`` along ``sel.along``
    (:func:`~napari_ifss.core.fewshot.movie.propagate_movie`): the whole movie, every
    annotated time point (along z) or z plane (along t). ``support`` is the user's part of
    the labels (a ``(T, Z, Y, X)`` copy), ``index`` its planes' index, ``stale`` the planes
    this direction's earlier runs filled. Its steps come back as the
    :class:`PropagationProgress` of the written plane, numbered as the layer's planes
    (:class:`~napari_ifss.core.planes.PlaneStack`); quality scores unit by unit
    (:mod:`~napari_ifss.core.quality.quality_movie`)."""
    planes = PlaneStack(support)  # plane p is (time point, slice) planes.index(p)
    units = {planes.index(p)[ALONG.index(sel.along)] for i in ids for p in index.slices_of[i]}
    method = sel.method
    volume, window = _volume(image, sel)
    scoring = ScoringRequest.for_run(volume, ids, spacing_of(image.scale), window, sel.along)
    spacing = scoring.spacing if method == "learner" else None

    def start(seg):
        events = propagate_movie(volume, support, sel.along, out=support, label_ids=ids,
                                 method=method, segmenter=seg if method == "head" else None,
                                 spacing=spacing, window=window)
        for m in events:
            at = (m.unit, m.event.z) if m.along == "z" else (m.event.z, m.unit)
            yield replace(m.event, z=planes.number(at), done=m.done, total=m.total)

    return RunPlan(start, len(units), labels, lambda: clear_slices(labels, stale, ids),
                   scoring, "time points" if sel.along == "z" else "z planes",
                   record_key(sel.along))


def plane_words(lead: tuple[int, ...], planes: list[int], noun: str) -> str:
    """Plane numbers of a layer with leading axes ``lead`` in the user's words: "slices 3,
    4" for a stack (``noun`` the stack's plural), "time point 0: slices 3, 4; time point 2:
    slice 1" for a 3D movie."""
    if len(lead) != 2:
        return f"{noun} {', '.join(map(str, planes))}"
    by_t: dict[int, list[int]] = {}
    for p in planes:
        t, z = plane_index(lead, p)
        by_t.setdefault(t, []).append(z)
    return "; ".join(f"time point {t}: {'slice' if len(zs) == 1 else 'slices'} "
                     f"{', '.join(map(str, zs))}" for t, zs in by_t.items())


def _transfer_plan(viewer: Viewer, image: Image, target: Image, labels: Labels, method: str,
                   volume: object, support: object, ids: list[int],
                   window: IntensityWindow | None) -> RunPlan:
    """The run that segments the annotated objects in another image (a new labels layer)."""
    if isinstance(volume, Channels):
        raise InvalidInputError("segmenting another image uses one channel: clear 'other "
                                "channels' (or segment the image itself)")
    shape, tshape = spatial_shape(image), spatial_shape(target)
    if len(tshape) != 3 or tshape[1:] != shape[1:] or target.rgb != image.rgb:
        raise InvalidInputError(f"target {target.name!r} has shape {tshape}; it needs "
                                f"(Z, {shape[1]}, {shape[2]}) like {image.name!r}")
    out = np.zeros(tshape, full_resolution(labels).dtype)
    layer = viewer.add_labels(np.zeros_like(out), name=f"{target.name} few-shot",
                              scale=target.scale, translate=target.translate)
    return RunPlan(lambda seg: transfer(
        volume, support, full_resolution(target), out, ids,
        segmenter=seg if method == "head" else LearnerSegmenter(), window=window),
        tshape[0] * len(ids), layer, list, None)


def _slices(sel: Selection, index: LabelsIndex, ids: list[int]) -> list[int]:
    """The z indices the run fills (annotated slices among them are skipped by the run)."""
    if sel.mode == BETWEEN:
        zs = [z for i in ids for z in index.slices_of[i]]
        if min(zs) == max(zs):
            raise InvalidInputError("only one annotated slice: nothing lies between "
                                    "annotated slices (choose all slices or a z range)")
        return list(range(min(zs), max(zs) + 1))
    if sel.mode == RANGE:
        lo, hi = sel.z_range
        if not 0 <= lo <= hi < index.depth:
            raise InvalidInputError(f"z range {lo}..{hi} is not within 0..{index.depth - 1}")
        return list(range(lo, hi + 1))
    return list(range(index.depth))
