"""``ifss score IMAGE --labels RESULT --support LABELS``: JFS badges and where to annotate next.

The CSV path is checked before scoring starts and the file is written atomically (it appears
complete or not at all).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from .command_inputs import (
    add_model_args,
    check_new_file,
    load_segmenter,
    read_labels_like,
    read_volume,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss score``."""
    p = subparsers.add_parser(
        "score", help="JFS quality score of every propagated slice, and the slice to annotate next",
        description="Score each slice of RESULT that the user did not draw (JFS: the result "
                    "must predict the user's own slices of SUPPORT). Writes 'slice,label_id,"
                    "score,badge' rows to --csv (or standard output) and a summary to stderr.")
    p.add_argument("image", help="image volume")
    p.add_argument("--labels", required=True, help="labels after propagation (the result)")
    p.add_argument("--support", required=True, help="the user's own annotations")
    p.add_argument("--ids", type=int, nargs="+", default=None,
                   help="label ids to score (default: every id drawn in SUPPORT)")
    p.add_argument("--csv", default=None, help="CSV file to write (default: standard output)")
    p.add_argument("--overwrite", action="store_true", help="replace the CSV if it exists")
    add_model_args(p)
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from .api import annotate_next, save_scores_csv, score
    from .core.quality import format_score

    csv_path = check_new_file(args.csv, args.overwrite) if args.csv else None
    image = read_volume(args.image)
    result = read_labels_like(args.labels, image, "--labels")
    support = read_labels_like(args.support, image, "--support")
    scores = score(image.data, result.data, support.data, args.ids,
                   segmenter=load_segmenter(args), progress=not args.quiet)
    if csv_path is not None:
        save_scores_csv(scores, csv_path)
    else:
        print("slice,label_id,score,badge")
        for label_id, table in sorted(scores.items()):
            for z, s in sorted(table.items()):
                print(f"{z},{label_id},{s.score:.6f},{s.badge}")
    for label_id, table in sorted(scores.items()):
        counts = Counter(s.badge for s in table.values())
        print(f"label {label_id}: {len(table)} slices scored; "
              + ", ".join(f"{counts[b]} {b}" for b in ("good", "check", "review")),
              file=sys.stderr)
    worst = annotate_next(scores, support=support.data)
    if worst is not None:
        label_id, z = worst
        print(f"annotate next: slice {z} (label {label_id}, score "
              f"{format_score(scores[label_id][z].score)})", file=sys.stderr)
    else:
        print("nothing to score: no propagated slice holds a drawn label", file=sys.stderr)
    return 0
