"""The summary table of a batch run: ``batch_summary.csv`` and ``batch_summary.json``.

One row per input, in input order: input, name, status (done / skipped / failed /
cancelled), error, seconds, mean JFS score, slices scored, slices flagged for review (count
and list), the worker that ran it and whether it loaded the model for it. Both files are
written atomically; a rerun replaces them.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..io.atomic import atomic_write
from .batch_settings import SUMMARY_STEM, BatchSettings, InputResult

CSV_FIELDS = ("input", "name", "status", "error", "seconds", "mean_score", "scored", "flagged",
              "flagged_slices", "worker", "model_loaded")
FORMAT = "napari-ifss-batch-summary"


def write_summary(settings: BatchSettings, rows: Sequence[InputResult], interrupted: bool
                  ) -> tuple[Path, Path]:
    """Write the CSV and JSON summaries into ``settings.out_dir``; returns their paths."""
    records = [r.row() for r in rows]
    csv_path = settings.out_dir / f"{SUMMARY_STEM}.csv"
    json_path = settings.out_dir / f"{SUMMARY_STEM}.json"

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_FIELDS)
            for rec in records:
                cells = {**rec, "flagged_slices": ";".join(map(str, rec["flagged_slices"])),
                         "mean_score": "" if rec["mean_score"] is None else rec["mean_score"]}
                writer.writerow([cells[f] for f in CSV_FIELDS])

    document = {"format": FORMAT, "version": 1,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "settings": {**settings.key(), "out_dir": str(settings.out_dir),
                             "support": None if settings.support is None
                             else str(settings.support)},
                "interrupted": interrupted, "counts": dict(Counter(r.status for r in rows)),
                "rows": records}
    atomic_write(csv_path, write_csv)
    text = json.dumps(document, indent=1)
    atomic_write(json_path, lambda p: p.write_text(text, encoding="utf-8"))
    return csv_path, json_path


def read_summary(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``batch_summary.csv`` (strings, as written)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
