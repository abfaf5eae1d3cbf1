"""What the ``propagate`` and ``score`` commands share: model options and reading inputs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from ..core.errors import InvalidInputError, UnsupportedFormatError, WriteError
from ..core.io import LayerData, read_layer
from ..core.io.layerdata import MOVIE_AXES
from ..core.io.ngff_labels import ngff_labels_target


def add_model_args(p: argparse.ArgumentParser) -> None:
    """``--weights``, ``--click-weights`` and ``--threads``."""
    p.add_argument("--weights", default=None, help="few-shot head checkpoint (default: shipped)")
    p.add_argument("--click-weights", default=None,
                   help="click-model checkpoint the head was trained on (default: shipped)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def finish_volume_command(p: argparse.ArgumentParser, func) -> argparse.ArgumentParser:
    """The options ``propagate`` and ``score`` share (model, threads, ``--window``) and the
    function that runs ``p``'s command; returns ``p``."""
    add_model_args(p)
    add_window_arg(p)
    add_plane_args(p)
    p.set_defaults(func=func)
    return p


def add_plane_args(p: argparse.ArgumentParser) -> None:
    """``--channel`` and ``--time``: which channel / time point of the image file to open."""
    p.add_argument("--channel", type=_channel_choice, default=None,
                   help="which channel of a multichannel image file (0, 1, ...); required when "
                        "the file has several. ifss propagate and ifss score also take "
                        "several, used together: 'all' or a list such as 0,2")
    p.add_argument("--time", type=_time_choice, default=None,
                   help="which time point of a time-lapse image file (0, 1, ...); required "
                        "when the file has several; 'all' opens every time point: a file "
                        "without z as the stack (the object is followed through time), a "
                        "file with z as a 3D movie (ifss propagate --along z|t)")


def _channel_choice(text: str) -> int | str | tuple[int, ...]:
    """``--channel``: a channel index, ``all``, or a comma-separated list of indices."""
    text = text.strip().lower()
    if text == "all":
        return "all"
    try:
        picks = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a channel number, a list such as 0,2, or 'all', "
                                         f"not {text!r}") from None
    return picks[0] if len(picks) == 1 else picks


def _time_choice(text: str) -> int | str:
    """``--time``: a time point index, or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a time point number or 'all', not {text!r}"
                                         ) from None


def add_window_arg(p: argparse.ArgumentParser) -> None:
    """``--window`` (read back with :func:`window_of`)."""
    p.add_argument("--window", default=None,
                   help="intensity range the models see: LOW,HIGH in the image's units (write "
                        "--window=-160,240 when LOW is negative, e.g. HU) or a CT preset: 'soft "
                        "tissue', 'bone', 'lung', 'brain' (default: percentiles of a few slices)")


def window_of(args: argparse.Namespace):
    """``--window`` as an :class:`~napari_ifss.core.normalize.IntensityWindow` (or None),
    checked before any work.

    Raises:
        InvalidInputError: a pair that is not two numbers with LOW < HIGH, or an unknown preset.
    """
    from ..core.normalize import as_window

    text = args.window
    if text is None:
        return None
    if "," in text:
        try:
            pair = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise InvalidInputError(f"--window {text!r}: expected LOW,HIGH numbers") from None
        return as_window(pair)
    return as_window(text)


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (torch is imported here, not at parse time)."""
    import torch

    if args.threads is not None:
        if args.threads < 1:
            raise InvalidInputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)


def load_segmenter(args: argparse.Namespace):
    """The few-shot model the options name (torch is imported here, not at parse time)."""
    from ..core.fewshot.fewshot import FewShotSegmenter

    set_threads(args)
    if args.weights is None:
        if args.click_weights is not None:
            raise InvalidInputError("--click-weights needs --weights (a head trained on them)")
        return FewShotSegmenter.default()
    return FewShotSegmenter.from_checkpoint(args.weights, args.click_weights)


def read_volume(path: str, args: argparse.Namespace | None = None) -> LayerData:
    """An image volume ``(Z, Y, X)`` or ``(Z, Y, X, 3|4)``; ``args`` may hold the
    ``--channel`` / ``--time`` choice (:func:`add_plane_args`), one channel.

    Raises:
        InvalidInputError: not a volume, or several channels chosen.
    """
    channel = getattr(args, "channel", None)
    if channel is not None and not isinstance(channel, int):
        raise InvalidInputError(f"--channel {channel}: this command uses one channel; give "
                                "its number")
    image = read_layer(path, channel=channel, time=getattr(args, "time", None))
    if image.spatial_ndim != 3:
        raise InvalidInputError(f"{path}: expected a 3D volume (Z, Y, X); got shape "
                                f"{image.data.shape}")
    return image


def read_channels(path: str, channel: int | str | tuple[int, ...] | None,
                  read_one: Callable[[int | None], LayerData],
                  read_all: Callable[[], list[LayerData]] | None = None
                  ) -> tuple[LayerData, object]:
    """``(first channel's layer, data)`` for ``--channel``: one channel (``read_one(c)``; the
    file itself for None), or for ``"all"`` or a list their
    :class:`~napari_ifss.core.channels.Channels` (the layer carries the geometry). The
    picks are checked before anything is read; ``read_all`` reads every channel at once
    where the file allows it.

    Raises:
        InvalidInputError: a channel the file does not have, or what ``read_one`` raises.
    """
    if channel is None or isinstance(channel, int):
        layer = read_one(channel)
        return layer, layer.data
    from ..core.channels import Channels, picked_indices
    from ..core.io.read import channel_count

    n = channel_count(path)
    if channel == "all" and n == 1:  # no channels: the image itself
        layer = read_one(None)
        return layer, layer.data
    picks = picked_indices(None if channel == "all" else channel, n)
    every = read_all() if read_all is not None else None  # the file read once
    layers = [every[c] if every is not None else read_one(c) for c in picks]
    return layers[0], Channels(tuple(ly.data for ly in layers),
                               names=tuple(f"channel {c}" for c in picks))


def read_volume_channels(path: str, args: argparse.Namespace) -> tuple[LayerData, object]:
    """``(first channel's layer, data)``: as :func:`read_volume`, where ``--channel all`` or
    a list gives ``data`` as :class:`~napari_ifss.core.channels.Channels` of those channels
    (:func:`read_channels`)."""
    from ..core.io.read import read_layers

    time = getattr(args, "time", None)
    first, data = read_channels(
        path, getattr(args, "channel", None),
        lambda c: read_volume(path, argparse.Namespace(channel=c, time=time)),
        (lambda: read_layers(path)) if time is None else None)
    if first.spatial_ndim != 3:
        raise InvalidInputError(f"{path}: expected a 3D volume (Z, Y, X); got shape "
                                f"{first.data.shape}")
    return first, data


def read_movie(path: str, channel: int | None, as_labels: bool = False) -> LayerData:
    """A 3D movie ``(T, Z, Y, X)`` opened whole (``time="all"``).

    Raises:
        InvalidInputError: anything else.
    """
    try:
        layer = read_layer(path, channel=channel, time="all", as_labels=as_labels)
    except UnsupportedFormatError as err:
        raise InvalidInputError(f"{path}: --along needs a 3D movie (axes T, Z, Y, X): "
                                f"{err}") from err
    if layer.axes != MOVIE_AXES:
        raise InvalidInputError(f"{path}: --along needs a 3D movie (axes T, Z, Y, X); it has "
                                f"axes {layer.axes}, shape {layer.data.shape}")
    return layer


def read_movie_channels(path: str, channel: int | str | tuple[int, ...] | None
                        ) -> tuple[LayerData, object]:
    """``(first channel's movie, data)``: :func:`read_movie` of one channel, or for ``"all"``
    or a list of channels their :class:`~napari_ifss.core.channels.Channels` (each channel
    opened whole; :func:`read_channels`).

    Raises:
        InvalidInputError: not a movie, or a channel the file does not have.
    """
    return read_channels(path, channel, lambda c: read_movie(path, c))


def read_labels_like(path: str, image: LayerData, what: str) -> LayerData:
    """Labels at ``path`` with the same ``(Z, Y, X)`` shape as ``image``."""
    labels = read_layer(path, as_labels=True)
    if labels.spatial_shape != image.spatial_shape:
        raise InvalidInputError(f"{what} {path} has shape {labels.spatial_shape}; the image "
                                f"has {image.spatial_shape} (Z, Y, X)")
    return labels


def check_new_file(path: str, overwrite: bool) -> Path:
    """``path`` as a Path, checked before any work starts: not an existing file unless
    ``overwrite``, not a folder, in an existing folder this process may write to; or
    ``<OME-Zarr image>/labels/<name>`` (labels saved into the image, not yet there unless
    ``overwrite``)."""
    p = Path(path)
    if ngff_labels_target(p) is not None:
        if p.exists() and not overwrite:
            raise WriteError(f"{p} exists; pass --overwrite to replace it")
        if not os.access(p.parent.parent, os.W_OK | os.X_OK):
            raise WriteError(f"{p}: no permission to write in {p.parent.parent}")
        return p
    if p.is_dir():
        raise WriteError(f"{p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise WriteError(f"{p} exists; pass --overwrite to replace it")
    if not p.parent.is_dir():
        raise WriteError(f"{p}: folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise WriteError(f"{p}: no permission to write in folder {p.parent}")
    return p
