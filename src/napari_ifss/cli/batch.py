"""``ifss batch {propagate,apply} INPUT... --out DIR``: segment many volumes, headless, on dask."""

from __future__ import annotations

import argparse
import sys

from .inputs import add_model_args

DESCRIPTION = """\
Segment every input volume with the few-shot model and JFS-score each filled slice, on
dask.distributed: a LocalCluster on this machine (one worker process per core) or, with
--scheduler, a running cluster (SLURM/PBS/Kubernetes: docs/batch.md).

modes:
  propagate  each input has its own annotated slices: the labels file <stem>_labels.<ext>
             beside it (or in --labels-dir; any readable format or .zarr), else the session
             napari-ifss autosaved beside it (<image>.ifss/). The annotated slices fill the
             rest of that volume, as `ifss propagate` does.
  apply      one support set segments all inputs: the annotated slices of --support IMAGE
             (its labels by the same rule, or --support-labels) predict every slice of each
             input (cross-image few-shot). Scores have no distance factor (another image).

INPUT: a folder (its image files and .zarr stores), a glob ('data/*.tif', quoted), a .txt file
listing one path per line, or a file / DICOM folder.

Per input, written to --out: <stem>_seg<ext> (labels with the input's spacing and origin),
<stem>_scores.csv (slice,label_id,score,badge) and <stem>.ifss-batch.json (manifest); at the
end batch_summary.csv and .json (status, error, seconds, mean score, flagged slices per input).
An input whose manifest matches (same input, labels, model, settings) is skipped unless
--overwrite. Exit code: 0 all done or skipped, 3 some inputs failed (see the summary), 1 bad
arguments, 130 interrupted (finished outputs are kept)."""

EXAMPLES = """\
examples:
  ifss batch propagate data/ --out seg/
  ifss batch apply 'data/*.nii.gz' --support ref.nii.gz --out seg/ --ext .zarr --workers 4
  ifss batch propagate stacks.txt --out seg/ --scheduler tcp://10.0.0.5:8786"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss batch``."""
    p = subparsers.add_parser(
        "batch", help="segment many volumes (folder, glob or list) on dask, resumable",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("propagate", "apply"), help="see 'modes' above")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, glob, .txt list or file")
    p.add_argument("--out", required=True, help="output folder (created when missing)")
    p.add_argument("--ext", default=".tif",
                   help="output labels format: .tif, .ome.tif, .nii.gz, .nii, .mha, .mhd, "
                        ".nrrd or .zarr (default .tif)")
    p.add_argument("--labels-dir", default=None,
                   help="propagate: folder of the <stem>_labels.<ext> files (default: beside "
                        "each input)")
    p.add_argument("--labels-suffix", default="_labels", help="labels naming rule's suffix")
    p.add_argument("--support", default=None, help="apply: the annotated support image")
    p.add_argument("--support-labels", default=None,
                   help="apply: its labels file or session folder (default: by the rule)")
    p.add_argument("--ids", type=int, nargs="+", default=None,
                   help="label ids to segment (default: all annotated)")
    p.add_argument("--threshold", type=float, default=0.5, help="object probability threshold")
    p.add_argument("--overwrite", action="store_true",
                   help="redo inputs whose outputs are complete and current")
    p.add_argument("--workers", type=int, default=None,
                   help="LocalCluster worker processes (default: one per core, memory "
                        "permitting); with --scheduler: wait for this many workers")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use a running dask scheduler: tcp://host:8786, or the JSON file of "
                        "'dask scheduler --scheduler-file FILE'")
    p.add_argument("--retries", type=int, default=2,
                   help="retries of a task that crashed (not of an input that is bad)")
    add_model_args(p)
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from ..core.batch.batch_engine import batch

    report = batch(args.inputs, args.mode, out=args.out, support=args.support,
                   support_labels=args.support_labels, labels_dir=args.labels_dir,
                   labels_suffix=args.labels_suffix, ext=args.ext, label_ids=args.ids,
                   threshold=args.threshold, overwrite=args.overwrite, weights=args.weights,
                   click_weights=args.click_weights, threads=args.threads,
                   workers=args.workers, scheduler=args.scheduler, retries=args.retries,
                   progress=not args.quiet)
    counts = ", ".join(f"{report.count(s)} {s}" for s in ("done", "skipped", "failed",
                                                         "cancelled") if report.count(s))
    print(f"{counts}; summary: {report.summary_csv}", file=sys.stderr)
    for r in report.results:
        if r.status == "failed":
            print(f"failed: {r.input}: {r.error}", file=sys.stderr)
    if report.interrupted:
        print("ifss: interrupted; finished outputs are kept, rerun to resume", file=sys.stderr)
    return report.exit_code
