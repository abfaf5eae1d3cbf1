"""The public, scriptable API of napari-ifss: the same calls in a script, a notebook and
napari's console.

Everything here takes arrays (numpy, dask, zarr), :class:`~napari_ifss.core.io.LayerData`
read from files, file paths, or, when napari is running, napari layers and layer names::

    import napari_ifss as ifss

    image = ifss.open_image("stack.tif")                   # LayerData, data (Z, Y, X)
    s = ifss.InteractiveSession()
    s.set_image(image.data[12], key=12)
    mask = s.add_click(40, 61)                             # (row, col) -> bool (Y, X)
    labels = np.zeros(image.data.shape, np.uint16)
    labels[12][mask] = 1
    labels = ifss.propagate(image, labels)                 # fills the other slices
    scores = ifss.score(image, labels, support=user_labels)  # {label: {z: QualityScore}}
    ifss.save("stack_labels.tif", labels, like=image)      # keeps spacing and origin

In napari's console the same calls accept layers or their names, and a result whose
``labels`` argument was a Labels layer is also written into that layer, as one undo step::

    ifss.propagate("cells", "ifss labels")                 # Ctrl+Z undoes the whole run

Coordinates are data order: ``(row, col)`` on a slice, ``(z, row, col)`` in a volume.
Nothing here imports napari or Qt unless napari is already loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .core.batch.batch_engine import batch
from .core.channels import Channels
from .core.errors import InvalidInputError
from .core.interactive.plane import is_time_label
from .core.interactive.prompts import Click
from .core.interactive.session import InteractiveSession
from .core.io import LayerData, read_layer, write_layer
from .core.io.layerdata import MOVIE_AXES, spacing_of
from .core.io.read import read_layers
from .core.normalize import WindowLike, as_window

__all__ = [
    "Channels", "Click", "InteractiveSession", "LayerData", "annotate_next", "batch",
    "open_channels", "open_image", "propagate", "resolve", "save", "save_scores_csv", "score", "segment_clicks",
]

ClickLike = Click | Sequence[float | bool]
Scores = dict[int, dict[int, Any]]  # {label_id: {z: QualityScore}}


# -- inputs -------------------------------------------------------------------------------
def _napari_console():
    """The napari helpers, or None when napari is not loaded (plain scripts)."""
    if "napari" not in sys.modules:
        return None
    from ._napari import console

    return console


def resolve(obj: object, what: str = "input") -> tuple[Any, Any]:
    """``(array, layer)`` for an array, LayerData, napari layer, layer name or file path.

    ``layer`` is the napari layer when one was given (by object or name), else None. A string
    is looked up first as a layer of the current viewer (when napari runs), then as a file.

    Raises:
        InvalidInputError: nothing of that name, or an object without array data.
    """
    arr, layer, _ = resolve_volume(obj, what)
    return arr, layer


def resolve_volume(obj: object, what: str = "image") -> tuple[Any, Any, tuple[float, ...] | None]:
    """``(array, layer, spacing)``: as :func:`resolve`, plus the ``(z, y, x)`` voxel size that
    comes with ``obj`` (a napari layer's or LayerData's scale, a file's spacing), or None for
    a bare array or a 2D input.

    Raises:
        InvalidInputError: as :func:`resolve`.
    """
    console = _napari_console()
    if isinstance(obj, str | os.PathLike):
        if console is not None and isinstance(obj, str):
            layer = console.find_layer(obj)
            if layer is not None:
                return resolve_volume(layer, what)
        if Path(obj).exists():
            read = read_layer(obj)
            return read.data, None, spacing_of(read.scale)
        names = console.layer_names() if console is not None else []
        hint = f" (layers: {', '.join(map(repr, names))})" if names else ""
        raise InvalidInputError(f"{what}: no layer or file named {str(obj)!r}{hint}")
    if isinstance(obj, LayerData):
        return obj.data, None, spacing_of(obj.scale)
    if console is not None and console.is_layer(obj):
        data = obj.data[0] if getattr(obj, "multiscale", False) else obj.data  # level 0
        return data, obj, spacing_of(getattr(obj, "scale", None))
    if not hasattr(obj, "shape") or not hasattr(obj, "dtype"):
        raise InvalidInputError(
            f"{what}: expected an array, LayerData, napari layer, layer name or file path; "
            f"got {type(obj).__name__}")
    return obj, None, None


def resolve_channels(obj: object, what: str = "image", *, channel_axis: int | None = None,
                     channels: int | Sequence[int] | None = None
                     ) -> tuple[Any, Any, tuple[float, ...] | None]:
    """``(image, layer, spacing)`` as :func:`resolve_volume`, where ``image`` may be several
    channels used together (:class:`~napari_ifss.core.channels.Channels`): a list or tuple of
    inputs (arrays, layers, layer names, LayerData of one shape, e.g. the layers napari made
    with ``channel_axis`` or :func:`open_channels`' list), one array with ``channel_axis``,
    or a :class:`~napari_ifss.core.channels.Channels`. ``channels`` picks some of them by index (default all); one channel
    picked comes back as its plain array. ``layer`` and ``spacing`` are the first channel's.

    Raises:
        InvalidInputError: as :func:`resolve`; channels of different shapes, a bad
            ``channel_axis`` or ``channels`` (also ``channels`` for a single image).
    """
    if isinstance(obj, Channels):
        found, layer, spacing = obj, None, None
    elif isinstance(obj, list | tuple):
        if channel_axis is not None:
            raise InvalidInputError(f"{what}: give several channels either as a list or as "
                                    "one array with channel_axis, not both")
        parts = [resolve_volume(o, what) for o in obj]
        names = tuple(str(getattr(o, "name", None) or
                          (o if isinstance(o, str) else f"channel {k}"))
                      for k, o in enumerate(obj))
        found: Channels = Channels(tuple(p[0] for p in parts), names=names)
        layer, spacing = (parts[0][1], parts[0][2]) if parts else (None, None)
    else:
        arr, layer, spacing = resolve_volume(obj, what)
        if channel_axis is None:
            if channels is not None:
                raise InvalidInputError(f"{what}: channels= picks from several channels; give "
                                        "a list of images or channel_axis=")
            return arr, layer, spacing
        found = Channels.from_array(arr, channel_axis)
    found = found.picked(channels)
    return (found.arrays[0] if found.count == 1 else found), layer, spacing


def _as_click(c: ClickLike) -> Click:
    if isinstance(c, Click):
        return c
    if isinstance(c, str) or not isinstance(c, Sequence) or len(c) not in (2, 3):
        raise InvalidInputError(f"a click is Click(row, col, positive) or (row, col[, positive])"
                                f"; got {c!r}")
    return Click(float(c[0]), float(c[1]), bool(c[2]) if len(c) == 3 else True)


def _track(events: Iterator, desc: str, enabled: bool) -> Iterator:
    """Iterate ``events`` (each with ``done``/``total``), with a tqdm bar when ``enabled``."""
    if not enabled:
        yield from events
        return
    from tqdm import tqdm

    bar = None
    try:
        for event in events:
            if bar is None:  # the total is known from the first event on
                bar = tqdm(desc=desc, total=event.total, unit="slice", file=sys.stderr)
            bar.update(event.done - bar.n)
            yield event
    finally:
        if bar is not None:
            bar.close()


# -- files --------------------------------------------------------------------------------
def open_image(path: str | os.PathLike, *, as_labels: bool = False,
               channel: int | None = None, time: int | str | None = None) -> LayerData:
    """Read an image or labels file (TIFF/OME-TIFF, NIfTI, MHA/MHD, NRRD, OME-Zarr, DICOM
    folder; OME-Zarr opens level 0 lazily, as a dask array).

    Returns :class:`LayerData` (``.data`` in ``(Z, Y, X)``, ``(Y, X)`` or ``(Y, X, 3|4)``
    order as ``.axes`` says, ``.scale``/``.translate`` from the file's spacing/origin). A TIFF
    or OME-Zarr with several channels or time points opens the one chosen with ``channel=`` /
    ``time=`` (the error names the file's axes when the choice is missing); ``time="all"``
    opens every time point: a file without z as the stack (``.axes == "TYX"``), so that
    propagation follows an object through time, a file with z as a 3D movie
    (``.axes == "TZYX"``, see ``propagate(..., along=)``);
    ``.metadata["file_axes"]`` keeps the file's own axes, e.g. ``"TCZYX"``."""
    return read_layer(path, as_labels=as_labels, channel=channel, time=time)


def open_channels(path: str | os.PathLike, *, as_labels: bool = False) -> list[LayerData]:
    """Every channel of a file as its own :class:`LayerData` (named ``"<name> [channel c]"``),
    in channel order; one layer for a file without channels. What napari's File > Open makes
    of the file. Pass the list (or some of it) to :func:`segment_clicks` to use the channels
    together.

    Raises:
        InvalidInputError / UnsupportedFormatError: as :func:`open_image`.
    """
    return read_layers(path, as_labels=as_labels)


def save(path: str | os.PathLike, data: object, *, like: LayerData | None = None,
         labels: bool | None = None) -> list[Path]:
    """Write ``data`` (array, LayerData or napari layer) to ``path``; returns the files written.

    Args:
        like: take scale, translate and direction from this layer (e.g. the image the labels
            were drawn on).
        labels: write as labels; default: True for integer data.
    """
    if isinstance(data, LayerData):
        layer = data
    else:
        arr, napari_layer = resolve(data, "data")
        arr = np.asarray(arr)
        kind = "labels" if (np.issubdtype(arr.dtype, np.integer) if labels is None
                            else labels) else "image"
        geometry = like if like is not None else napari_layer
        rgb = bool(getattr(napari_layer, "rgb", False))
        n = arr.ndim - 1 if rgb else arr.ndim
        scale = tuple(getattr(geometry, "scale", (1.0,) * n))[-n:]
        translate = tuple(getattr(geometry, "translate", (0.0,) * n))[-n:]
        # 4 axes: a 3D movie when the image it belongs to says so (never guessed)
        first = (getattr(napari_layer, "axis_labels", None) or ("",))[0]
        movie = n == 4 and (getattr(like, "axes", "") == MOVIE_AXES
                            or is_time_label(first))
        layer = LayerData(arr, kind, Path(path).name.split(".")[0],
                          tuple(float(v) for v in scale), tuple(float(v) for v in translate),
                          rgb=rgb, direction=getattr(like, "direction", None),
                          metadata={"axes": MOVIE_AXES} if movie else {})
    return write_layer(path, layer)


# -- clicks -------------------------------------------------------------------------------
def segment_clicks(image: object, clicks: Sequence[ClickLike], *,
                   session: InteractiveSession | None = None,
                   window: WindowLike = None, channel_axis: int | None = None,
                   channels: int | Sequence[int] | None = None) -> np.ndarray:
    """Segment one object on a 2D slice from clicks; returns a bool ``(H, W)`` mask.

    Args:
        image: ``(H, W)`` or ``(H, W, 3|4)`` slice (array, layer or name), or several
            channels of one slice used together: a list of ``(H, W)`` slices (e.g. napari's
            layers of one ``channel_axis`` image, or :func:`open_channels`), or one array with
            ``channel_axis``. Each channel is seen under its own intensity window, and the
            model answers from the channel that shows the object best.
        clicks: oldest first; ``(row, col)`` is a positive click, ``(row, col, False)`` a
            negative one, or :class:`Click` objects.
        session: reuse a session (and its cached model); default: a new one.
        window: the intensity range the model sees: ``(low, high)`` in the image's units
            (e.g. ``(-160, 240)`` HU), a CT preset name ("soft tissue", "bone", "lung",
            "brain"), or None (the slice's own 0.5-99.5 percentiles, per channel).
        channel_axis: the axis of ``image`` that holds channels (as napari's ``add_image``).
        channels: which of several channels to use (indices; default all).
    """
    arr, _, _ = resolve_channels(image, "image", channel_axis=channel_axis, channels=channels)
    if not clicks:
        raise InvalidInputError("segment_clicks needs at least one click")
    win = as_window(window)
    session = session if session is not None else InteractiveSession()
    session.set_image(arr, window=win)  # a large slice is read region by region
    return session.set_clicks([_as_click(c) for c in clicks])


# -- propagation and quality -------------------------------------------------------------
def _writable_copy(labels: object) -> np.ndarray:
    """An in-memory copy of ``labels`` to write results into (bool masks become uint8)."""
    arr = np.array(labels, copy=True)
    return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr


def propagate(image: object, labels: object, label_ids: int | Iterable[int] | None = None,
              slices: Iterable[int] | None = None, *, out: object | None = None,
              method: str | None = None, segmenter: object | None = None,
              learner: object | None = None, spacing: Sequence[float] | None = None,
              threshold: float = 0.5, progress: bool = False,
              window: WindowLike = None, channel_axis: int | None = None,
              channels: int | Sequence[int] | None = None, along: str | None = None) -> Any:
    """Propagate the annotated slices of ``labels`` through ``image``.

    By default a per-volume learner is fitted in seconds on the annotated slices (it never saw
    another volume); ``method="head"`` uses the pretrained few-shot head instead.

    Args:
        image: ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)`` volume.
        labels: ``(Z, Y, X)`` integer labels; slices holding an id are its support.
        label_ids: which objects (default: all present).
        slices: z indices to fill (default: all); annotated slices are never written.
        out: a writable array (e.g. zarr) for the result, for volumes larger than memory;
            default: a new numpy array.
        method: ``"learner"`` or ``"head"``; None: ``"head"`` when a ``segmenter`` is given,
            else ``"learner"``.
        segmenter: the head, a :class:`~napari_ifss.core.fewshot.fewshot.FewShotSegmenter` (default:
            shipped).
        learner: the learner's design, a
            :class:`~napari_ifss.core.fewshot.volume_learner.LearnerConfig` (default: the benchmarked
            one).
        spacing: ``(z, y, x)`` voxel size for the learner (default: the image layer's scale
            when ``image`` is a napari layer or LayerData, else 1, 1, 1).
        progress: show a progress bar on stderr.
        window: the intensity range the models see, for the whole volume: ``(low, high)``
            in the image's units (e.g. HU), a CT preset name (``core.normalize.CT_PRESETS``),
            or None (percentiles of a few evenly spaced slices).
        channel_axis, channels: several channels used together (one array with its
            channel axis, or a list of ``(Z, Y, X)`` channels as for :func:`segment_clicks`;
            ``channels`` picks some, default all): the per-volume learner sees every channel's
            features, each under its own window; ``method="head"`` uses, for each object,
            the channel it stands out in most on the annotated slices.
        along: for a 3D movie ``(T, Z, Y, X)`` (image and labels): ``"z"`` propagates within
            each annotated time point through its slices, ``"t"`` follows the object through
            time, one z plane at a time (:mod:`~napari_ifss.core.fewshot.movie`); required
            for 4D input, refused for 3D.

    Returns:
        The propagated labels (``out`` when given). When ``labels`` is a napari Labels layer
        and ``out`` is None, the layer is updated too, in one undo step.

    Raises:
        InvalidInputError: bad input, found before anything is written (for an in-memory
            volume this includes NaN/inf in any slice the run reads).
        PartialWriteError: a lazy volume's slice failed after other slices were written to
            ``out``: the message names both; with ``out=None`` nothing is ever changed. A
            zarr ``out`` also keeps the written slices' provenance record in its ``attrs``.
    """
    from .core.fewshot.propagation import propagate as _propagate
    from .core.fewshot.volume_io import PartialWriteError

    vol, _, image_spacing = resolve_channels(image, "image", channel_axis=channel_axis,
                                             channels=channels)
    lab, layer = resolve(labels, "labels")
    console = _napari_console()
    writes_layer = out is None and layer is not None and console is not None \
        and console.is_labels_layer(layer)
    if writes_layer:
        console.check_writable(layer)  # a pyramid with a read-only level: before the work
    if spacing is None and method != "head" and segmenter is None:
        spacing = image_spacing
    movie = along is not None or len(getattr(lab, "shape", ())) == 4
    if movie:
        _check_movie_call(vol, along, slices)  # before anything is copied
    target = out if out is not None else _writable_copy(lab)
    options = {"method": method, "segmenter": segmenter, "learner": learner,
               "spacing": spacing, "threshold": threshold, "window": as_window(window)}
    if movie:
        from .core.fewshot.movie import propagate_movie

        events = propagate_movie(vol, lab, along, out=target, label_ids=label_ids, **options)
    else:
        events = _propagate(vol, lab, label_ids, slices, out=target, **options)
    try:
        for _ in _track(events, "propagate", progress):
            pass
    except PartialWriteError as err:
        if out is not None:
            _keep_record(out, err.record)
        raise
    if writes_layer:
        console.write_back(layer, target)
    return target


def _check_movie_call(vol: Any, along: str | None, slices: Any) -> None:
    """What :func:`propagate` refuses for a 3D movie (:mod:`~.core.fewshot.movie`).

    Raises:
        InvalidInputError: no ``along`` for a movie, ``along`` for anything else, or
            ``slices`` (a movie runs whole).
    """
    shape = tuple(getattr(vol, "shape", ()))
    if len(shape) != 4:
        raise InvalidInputError(f"along= is for a 3D movie (T, Z, Y, X) (of one channel or "
                                f"several); the image has shape {shape}")
    if along is None:
        raise InvalidInputError(
            f"the image has 4 axes {shape}: if it is a 3D movie (T, Z, Y, X) choose along='z' "
            "(through the slices of each annotated time point) or along='t' (through time); "
            "for channels pass channel_axis=")
    if slices is not None:
        raise InvalidInputError("slices= applies to a (Z, Y, X) volume, not to a movie")


def _keep_record(out: object, record: dict[int, list[str]]) -> None:
    """Merge a provenance record into ``out.attrs`` (zarr) where ``out`` has such a mapping."""
    from .core.provenance import MAX_STATES, RECORD_KEY

    attrs = getattr(out, "attrs", None)
    if attrs is None or not hasattr(attrs, "get"):
        return
    merged = {str(z): list(v) for z, v in dict(attrs.get(RECORD_KEY) or {}).items()}
    for z, states in record.items():
        old = [s for s in merged.get(str(z), []) if s not in states]
        merged[str(z)] = (old + list(states))[-MAX_STATES:]
    attrs[RECORD_KEY] = merged


def score(image: object, labels: object, support: object | None = None,
          label_ids: int | Iterable[int] | None = None, *, segmenter: object | None = None,
          progress: bool = False, out: Scores | None = None,
          cache_prefix: Hashable | None = None, window: WindowLike = None,
          spacing: Sequence[float] | None = None, channel_axis: int | None = None,
          channels: int | Sequence[int] | None = None) -> Scores:
    """JFS quality of each object's slices: ``{label_id: {z: QualityScore}}`` (z order).

    Every slice of an object's range is listed (from the lowest to the highest slice where
    you drew it or the result holds it), except your own slices of it; a slice of that range
    where the result holds nothing scores 0 with the badge "empty" ("nothing found").

    Args:
        image: ``(Z, Y, X)`` volume.
        labels: ``(Z, Y, X)`` labels after propagation (the result to judge).
        support: ``(Z, Y, X)`` the user's own annotations (the labels before propagation).
            May be left out for a napari Labels layer the few-shot dock propagated into: its
            metadata records which slices propagation filled, the rest is the user's.
        label_ids: which objects (default: every id the user drew).
        segmenter: the few-shot model (default: shipped).
        progress: show a progress bar on stderr.
        out: a dict filled as slices are scored, so that it keeps them when the run is
            interrupted (KeyboardInterrupt); returned.
        cache_prefix: the ``cache_prefix`` a core
            :func:`~napari_ifss.core.fewshot.propagation.propagate` run used with the same
            ``segmenter``: its cached encodings are reused (default: private to this call).
        window: the intensity range, as for :func:`propagate` (use the same one).
        spacing: ``(z, y, x)`` voxel size (default: the image layer's scale or the file's
            spacing, else 1, 1, 1): the distance to your slices counts in object widths, so a
            slice 10 thick slices away is trusted less than one 10 thin slices away.
        channel_axis, channels: several channels, as for :func:`propagate`: each object is
            judged in the channel it stands out in most on your own slices
            (:mod:`~napari_ifss.core.fewshot.support_channel`).
    """
    from .core.fewshot.support import index_labels, resolve_label_ids
    from .core.quality.quality_volume import score_labels

    vol, _, image_spacing = resolve_channels(image, "image", channel_axis=channel_axis,
                                             channels=channels)
    spacing = spacing if spacing is not None else image_spacing
    after, layer = resolve(labels, "labels")
    if support is not None:
        user, _ = resolve(support, "support")
    else:
        user = _user_part(after, layer)
    ids = resolve_label_ids(index_labels(user), label_ids)
    result: Scores = out if out is not None else {}
    for label_id in ids:
        result[label_id] = {}
    events = score_labels(vol, after, user, ids, segmenter, cache_prefix=cache_prefix,
                          window=as_window(window), spacing=spacing)
    for e in _track(events, "score", progress):
        result[e.label_id][e.z] = e.score
    return result


def _user_part(labels: object, layer: object) -> object:
    """The user's slices of ``labels`` (a read-only ``(Z, Y, X)`` view), from the
    propagation record in ``layer``'s metadata."""
    from .core.provenance import RECORD_KEY, record_from_json, user_labels

    record = getattr(layer, "metadata", {}).get(RECORD_KEY) if layer is not None else None
    if not record:
        raise InvalidInputError(
            "score needs support= (the user's own annotations), unless labels is a napari "
            "Labels layer the few-shot dock propagated into")
    return user_labels(record_from_json(record), labels)[0]


def annotate_next(scores: Scores, support: object | None = None) -> tuple[int, int] | None:
    """``(label_id, z)``: where to annotate next, or None when nothing was scored.

    ``ScoreTable.from_labels(scores).least_trusted()``
    (:class:`~napari_ifss.core.quality.quality_table.ScoreTable`): the one rule of the dock's
    *Annotate next* and ``ifss score`` (:data:`~napari_ifss.core.quality.quality_next.NEXT_RULE`),
    the least trusted slice, i.e. a slice where nothing was found inside the object's range
    first, else the lowest JFS score (the number its badge shows); ties go to the lower slice,
    then the lower label id.

    Args:
        scores: what :func:`score` returned.
        support: accepted for older scripts; the rule does not need it.
    """
    from .core.quality.quality_table import ScoreTable

    table = ScoreTable.from_labels(scores)
    if not table:
        return None
    row = table.least_trusted()
    return row.label_id, row.z


def save_scores_csv(scores: Scores, path: str | os.PathLike) -> Path:
    """Write ``slice, label_id, score, badge`` rows (one per scored slice) to ``path``."""
    from .core.quality.quality_table import ScoreTable
    from .core.quality.quality_volume import scores_to_csv

    scores_to_csv(ScoreTable.from_labels(scores), path)
    return Path(path)
