"""Resuming a batch run: a small JSON manifest beside each input's outputs.

For an input with stem ``NAME`` the run writes, in the output folder::

    NAME_seg.<ext>        the labels (with the input's geometry)
    NAME_scores.csv       slice, label_id, score, badge (JFS)
    NAME.ifss-batch.json  the manifest, written last

The manifest records the *key* of the outputs: the input's sha256 (of its bytes, or of every
file of a zarr store / DICOM folder), the sha256 of its labels (propagate mode), the model
weights' sha256, the support set's sha256 (apply mode), the settings that decide the output
(mode, threshold, label ids, output format) and the package version; plus what the run found
(seconds, mean score, flagged slices). An input is skipped when its manifest's key equals the
new one and every output it names exists. Redoing an input deletes its manifest first and
writes it last, and every file is written atomically (temporary name in the same folder, then
``os.replace``), so a crash or a killed worker never leaves outputs that look complete.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_write
from .batch_volume import remove_output

FORMAT = "napari-ifss-batch-output"
VERSION = 1
MANIFEST_SUFFIX = ".ifss-batch.json"
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Outputs:
    """The paths one input writes."""

    labels: Path
    scores: Path
    manifest: Path

    @classmethod
    def of(cls, out_dir: Path, name: str, ext: str) -> Outputs:
        """The outputs of input stem ``name`` in ``out_dir``, labels in format ``ext``."""
        return cls(out_dir / f"{name}_seg{ext}", out_dir / f"{name}_scores.csv",
                   out_dir / f"{name}{MANIFEST_SUFFIX}")

    def all(self) -> tuple[Path, Path, Path]:
        return self.labels, self.scores, self.manifest


def completed(outputs: Outputs, key: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of ``outputs`` when they are complete and were made with ``key``, else
    None (no manifest, a damaged one, another key, or an output missing)."""
    try:
        if outputs.manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        record = json.loads(outputs.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    if record.get("version") != VERSION or record.get("key") != key:
        return None
    if not (outputs.labels.exists() and outputs.scores.is_file()):
        return None
    return record


def remove_temporary(outputs: Outputs) -> None:
    """Delete what an interrupted write of these outputs left: the temporary folders of
    :func:`~napari_ifss.core.io.atomic.atomic_write` (``.<name>.<random>.tmp``)."""
    for path in outputs.all():
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            remove_output(stale)


def start(outputs: Outputs) -> None:
    """Before (re)doing an input: drop its manifest (it no longer vouches for anything), and
    any temporary files a killed earlier attempt left behind."""
    outputs.manifest.unlink(missing_ok=True)
    remove_temporary(outputs)


def finish(outputs: Outputs, key: dict[str, Any], found: dict[str, Any]) -> Path:
    """Write the manifest (last, atomically): ``key`` and what the run ``found``."""
    record = {"format": FORMAT, "version": VERSION, "key": key,
              "outputs": {"labels": outputs.labels.name, "scores": outputs.scores.name},
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **found}
    text = json.dumps(record, indent=1)
    atomic_write(outputs.manifest, lambda p: p.write_text(text, encoding="utf-8"))
    return outputs.manifest
