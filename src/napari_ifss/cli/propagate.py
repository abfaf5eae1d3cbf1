"""``ifss propagate IMAGE --support LABELS --out OUT``: fill a volume from annotated slices.

OUT is checked (extension, folder, overwrite) before any work starts, and written atomically:
it appears complete or not at all.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..core.errors import InvalidInputError
from ..core.fewshot.learner_segmenter import DEFAULT_METHOD, METHODS
from ..core.io import LayerData, write_format, write_layer
from ..core.io.layerdata import MOVIE_AXES, spacing_of
from ..core.io.ngff_labels import check_labels_fit, ngff_labels_target
from .inputs import (
    check_new_file,
    finish_volume_command,
    load_segmenter,
    read_labels_like,
    read_movie,
    read_movie_channels,
    read_volume_channels,
    set_threads,
    window_of,
)


def parse_slices(text: str | None, depth: int) -> list[int] | None:
    """``"3:20"`` (end inclusive), ``"3,5,9"`` or None (all) -> z indices.

    Raises:
        InvalidInputError: malformed text or an index outside ``0..depth-1``.
    """
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = (int(p) for p in text.split(":", 1))
            zs = list(range(lo, hi + 1))
        else:
            zs = [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise InvalidInputError(f"--slices takes 'FROM:TO' or a list like '3,5,9'; got {text!r}"
                                ) from None
    bad = [z for z in zs if not 0 <= z < depth]
    if not zs or bad:
        raise InvalidInputError(f"--slices {text!r}: indices must lie in 0..{depth - 1}")
    return zs


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss propagate``."""
    p = subparsers.add_parser(
        "propagate", help="propagate annotated slices of a labels file through a volume",
        description="Propagate the objects drawn on a few slices of LABELS through IMAGE and "
                    "write the filled labels (with the image's spacing and origin) to OUT. By "
                    "default a per-volume learner is fitted in seconds on your annotated slices "
                    "(it uses the image's voxel spacing and stops where an object ends); "
                    "--method head uses the pretrained few-shot head instead. Annotated slices "
                    "and drawn voxels are never changed.")
    p.add_argument("image", help="image volume (TIFF, NIfTI, MHA/MHD, NRRD, OME-Zarr, DICOM "
                                 "folder)")
    p.add_argument("--support", required=True, help="labels with the annotated slices")
    p.add_argument("--out", required=True,
                   help="output labels file, or IMAGE.zarr/labels/NAME to save them into an "
                        "OME-Zarr image")
    p.add_argument("--ids", type=int, nargs="+", default=None,
                   help="label ids to propagate (default: all)")
    p.add_argument("--slices", default=None, help="slices to fill: 'FROM:TO' or '3,5,9'")
    p.add_argument("--threshold", type=float, default=0.5, help="object probability threshold")
    p.add_argument("--method", choices=METHODS, default=None,
                   help=f"{DEFAULT_METHOD} (default): a classifier fitted on your annotated "
                        "slices of this image only; head: the pretrained few-shot head (the "
                        "default when --weights is given)")
    p.add_argument("--along", choices=("z", "t"), default=None,
                   help="for a 3D movie (T, Z, Y, X) image and labels: z fills each annotated "
                        "time point through its slices, t follows the objects through time "
                        "(OUT is then an OME-TIFF movie, .tif)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    return finish_volume_command(p, _run)


def _run(args: argparse.Namespace) -> int:
    from ..api import propagate

    out_path = check_new_file(args.out, args.overwrite)
    into_ngff = ngff_labels_target(out_path)
    if into_ngff is None:
        write_format(out_path)  # a bad extension is refused before the work, not after
    window = window_of(args)
    if args.along is not None:
        if into_ngff is not None or write_format(out_path) != "tiff":
            raise InvalidInputError("--along writes a 3D movie: give --out a .tif file")
        return _run_movie(args, out_path, window)
    image, data = read_volume_channels(args.image, args)
    if into_ngff is not None:  # labels that will not fit that image are refused now
        check_labels_fit(into_ngff[0], image.spatial_shape)
    support = read_labels_like(args.support, image, "--support")
    slices = parse_slices(args.slices, image.spatial_shape[0])
    method, model = _model(args, image.scale)
    result = propagate(data, support.data, args.ids, slices, method=method,
                       threshold=args.threshold, progress=not args.quiet, window=window,
                       **model)
    filled = int(np.count_nonzero(np.any(
        (np.asarray(result) != 0) & (np.asarray(support.data) == 0), axis=(1, 2))))
    write_layer(out_path, LayerData(np.asarray(result), "labels", out_path.name.split(".")[0],
                                    image.scale, image.translate, direction=image.direction))
    print(f"wrote {out_path} ({filled} slices filled)", file=sys.stderr)
    return 0


def _model(args: argparse.Namespace, scale: object) -> tuple[str, dict]:
    """``(method, keywords for propagate)``: the few-shot head (``--method head`` or
    ``--weights``) with its segmenter, else the learner with the image's voxel ``scale``.

    Raises:
        InvalidInputError: ``--weights`` / ``--click-weights`` with ``--method learner``.
    """
    method = args.method or ("head" if args.weights is not None else DEFAULT_METHOD)
    if method == "head":
        return method, {"segmenter": load_segmenter(args)}
    if args.weights is not None or args.click_weights is not None:
        raise InvalidInputError("--weights / --click-weights choose the few-shot head: "
                                "use --method head")
    set_threads(args)
    return method, {"spacing": spacing_of(scale)}


def _run_movie(args: argparse.Namespace, out_path, window) -> int:
    """``--along``: a 3D movie's image and labels opened whole, propagated, written as an
    OME-TIFF movie; everything checked before the work."""
    from ..api import propagate

    if args.time not in (None, "all") or args.slices is not None:
        raise InvalidInputError("--along runs the whole movie: leave out --time and --slices")
    image, data = read_movie_channels(args.image, args.channel)
    support = read_movie(args.support, None, as_labels=True)
    if support.data.shape != image.data.shape:
        raise InvalidInputError(f"--support {args.support} has shape {support.data.shape}; the "
                                f"movie has {image.data.shape} (T, Z, Y, X)")
    method, model = _model(args, image.scale)
    result = propagate(data, support.data, args.ids, method=method,
                       threshold=args.threshold, progress=not args.quiet, window=window,
                       along=args.along, **model)
    write_layer(out_path, LayerData(np.asarray(result), "labels", out_path.name.split(".")[0],
                                    image.scale, image.translate,
                                    metadata={"axes": MOVIE_AXES}))
    print(f"wrote {out_path} (a 3D movie, along {args.along})", file=sys.stderr)
    return 0
