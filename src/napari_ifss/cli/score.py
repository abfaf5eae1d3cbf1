"""``ifss score IMAGE --labels RESULT --support LABELS``: JFS badges and where to annotate next.

Each object's range is listed (a slice of it where the result holds nothing gets the badge
"empty", shown as "nothing found"). The CSV path is checked before scoring starts and the file
is written atomically (it appears complete or not at all). Ctrl+C keeps what was scored: the
rows so far are written (atomically too) and the command says how many slices that is.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from ..core.io.layerdata import spacing_of
from ..core.quality.quality_types import BADGE_LABELS, badge_label, format_score
from .inputs import (
    check_new_file,
    finish_volume_command,
    load_segmenter,
    read_labels_like,
    read_volume_channels,
    window_of,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``ifss score``."""
    p = subparsers.add_parser(
        "score", help="JFS quality score of every propagated slice, and the slice to annotate next",
        description="Score each slice of each object's range in RESULT that the user did not "
                    "draw (JFS: the result must predict the user's own slices of SUPPORT; a "
                    "slice of the range where RESULT holds nothing is listed as 'empty'). "
                    "Writes 'slice,label_id,score,badge' rows to --csv (or standard output) and "
                    "a summary to stderr. Ctrl+C stops and keeps the rows scored so far.")
    p.add_argument("image", help="image volume")
    p.add_argument("--labels", required=True, help="labels after propagation (the result)")
    p.add_argument("--support", required=True, help="the user's own annotations")
    p.add_argument("--ids", type=int, nargs="+", default=None,
                   help="label ids to score (default: every id drawn in SUPPORT)")
    p.add_argument("--csv", default=None, help="CSV file to write (default: standard output)")
    p.add_argument("--overwrite", action="store_true", help="replace the CSV if it exists")
    return finish_volume_command(p, _run)


def _run(args: argparse.Namespace) -> int:
    from ..api import annotate_next, save_scores_csv, score
    from ..core.quality.quality_next import NEXT_RULE
    from ..core.quality.quality_volume import plan_scoring

    csv_path = check_new_file(args.csv, args.overwrite) if args.csv else None
    window = window_of(args)
    image, data = read_volume_channels(args.image, args)
    result = read_labels_like(args.labels, image, "--labels")
    support = read_labels_like(args.support, image, "--support")
    partial: dict = {}  # filled slice by slice: what Ctrl+C leaves
    interrupted = False
    try:
        scores = score(data, result.data, support.data, args.ids,
                       segmenter=load_segmenter(args), progress=not args.quiet, out=partial,
                       window=window, spacing=spacing_of(image.scale))
    except KeyboardInterrupt:
        scores, interrupted = partial, True
    done = sum(len(t) for t in scores.values())
    if csv_path is not None:
        save_scores_csv(scores, csv_path)
    else:
        print("slice,label_id,score,badge")
        for label_id, table in sorted(scores.items()):
            for z, s in sorted(table.items()):
                print(f"{z},{label_id},{s.score:.6f},{s.badge}")
    if interrupted:
        total = plan_scoring(data, result.data, support.data, args.ids).total
        where = f"written to {csv_path}" if csv_path is not None else "printed above"
        print(f"interrupted: {done} of {total} slices scored, their rows {where}",
              file=sys.stderr)
        return 130
    for label_id, table in sorted(scores.items()):
        counts = Counter(s.badge for s in table.values())
        print(f"label {label_id}: {len(table)} slices scored; "
              + ", ".join(f"{counts[b]} {badge_label(b)}" for b in BADGE_LABELS), file=sys.stderr)
    worst = annotate_next(scores)
    if worst is not None:
        label_id, z = worst
        s = scores[label_id][z]
        print(f"annotate next: slice {z} (label {label_id}, score {format_score(s.score)}, "
              f"{badge_label(s.badge)}): {NEXT_RULE}", file=sys.stderr)
    else:
        print("nothing to score: no propagated slice holds a drawn label", file=sys.stderr)
    return 0
