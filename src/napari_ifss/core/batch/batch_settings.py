"""What a batch run is asked to do, and what each input came to: frozen records.

:class:`BatchSettings` travels to every worker inside an :class:`InputJob`; :class:`InputResult`
comes back, one per input, and becomes a row of the summary table. :class:`ModelSpec` names the
few-shot model and loads it (a worker keeps it: :mod:`.batch_task`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidInputError, UnsupportedFormatError, WriteError
from ..io import WRITE_EXTENSIONS, write_format

Mode = Literal["propagate", "apply"]
Status = Literal["done", "skipped", "failed", "cancelled"]
MODES: tuple[str, ...] = ("propagate", "apply")
ZARR = ".zarr"
OUTPUT_EXTENSIONS: tuple[str, ...] = (*WRITE_EXTENSIONS, ZARR)
SUMMARY_STEM = "batch_summary"


@dataclass(frozen=True)
class ModelSpec:
    """The few-shot model: head and click-encoder weights files (None: the shipped ones),
    torch CPU threads per worker (None: torch's choice), device (None: CUDA if present) and
    the range of the long side the network sees (smaller: faster, coarser)."""

    weights: str | None = None
    click_weights: str | None = None
    threads: int | None = None
    device: str | None = None
    min_side: int = 256
    max_side: int = 512

    def files(self) -> tuple[Path, Path]:
        """``(head file, click-encoder file)`` this spec loads."""
        from ...models.fewshot_weights import default_fewshot_weights
        from ...models.registry import default_click_weights

        if self.weights is None and self.click_weights is not None:
            raise InvalidInputError("click_weights needs weights (a head trained on them)")
        head = Path(self.weights) if self.weights else default_fewshot_weights()
        click = Path(self.click_weights) if self.click_weights else default_click_weights()
        for p in (head, click):
            if not p.is_file():
                raise InvalidInputError(f"model weights {p} not found; give --weights (and "
                                        "--click-weights) or reinstall napari-ifss")
        return head, click

    def fingerprint(self) -> str:
        """sha256 of the head and encoder weights and the network size (what decides the
        model's output; threads and device do not)."""
        from ...models.manifest import file_sha256

        return "+".join([*(file_sha256(p) for p in self.files()),
                         f"{self.min_side}-{self.max_side}"])

    def load(self):
        """A new :class:`~napari_ifss.core.fewshot.fewshot.FewShotSegmenter` (imports torch)."""
        import torch

        from ..fewshot.fewshot import FewShotSegmenter

        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        head, click = self.files()
        return FewShotSegmenter.from_checkpoint(head, click, device=self.device,
                                                min_side=self.min_side, max_side=self.max_side)


@dataclass(frozen=True)
class BatchSettings:
    """Everything that applies to every input of a run.

    Attributes:
        mode: ``"propagate"`` (each input has its own annotated slices) or ``"apply"`` (one
            support set segments every input).
        out_dir: where outputs, manifests and the summary go (created when missing).
        ext: output labels format by extension (``.tif``, ``.nii.gz``, ``.mha``, ``.nrrd``,
            ``.zarr``, ...).
        labels_dir: propagate mode: folder holding the labels files (default: beside each
            input).
        labels_suffix: propagate mode: labels of ``<stem>.<ext>`` are ``<stem><suffix>.*``.
        support: apply mode: the support image (its labels follow the same naming rule).
        support_labels: apply mode: labels file or session folder of ``support`` (default:
            found by the naming rule).
        label_ids: objects to segment (default: every id annotated).
        threshold: object probability threshold.
        overwrite: redo inputs whose outputs are complete and current.
        model: the few-shot model.
    """

    mode: Mode
    out_dir: Path
    ext: str = ".tif"
    labels_dir: Path | None = None
    labels_suffix: str = "_labels"
    support: Path | None = None
    support_labels: Path | None = None
    label_ids: tuple[int, ...] | None = None
    threshold: float = 0.5
    overwrite: bool = False
    model: ModelSpec = field(default_factory=ModelSpec)

    def check(self) -> None:
        """Refuse settings that cannot work, before any input is read.

        Raises:
            InvalidInputError: a bad mode, threshold, ids or a missing support image.
            UnsupportedFormatError: an output extension nothing here writes.
            WriteError: ``out_dir`` is a file or cannot be created.
        """
        if self.mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not (math.isfinite(self.threshold) and 0.0 < self.threshold < 1.0):
            raise InvalidInputError(f"threshold must lie in (0, 1), got {self.threshold}")
        if self.label_ids is not None and (not self.label_ids or min(self.label_ids) < 1):
            raise InvalidInputError(f"label ids must be >= 1, got {list(self.label_ids)}")
        if self.ext.lower() != ZARR:
            try:
                write_format(f"out{self.ext}")
            except UnsupportedFormatError:
                raise UnsupportedFormatError(
                    f"cannot write labels as {self.ext!r}; choose one of "
                    f"{', '.join(OUTPUT_EXTENSIONS)}") from None
        if not self.labels_suffix or "/" in self.labels_suffix:
            raise InvalidInputError(f"labels suffix {self.labels_suffix!r} must be a plain, "
                                    "non-empty name ending such as '_labels'")
        if self.mode == "apply" and self.support is None:
            raise InvalidInputError("apply mode needs a support image (--support IMAGE) whose "
                                    "annotated slices segment every input")
        if self.mode == "propagate" and self.support is not None:
            raise InvalidInputError("--support is for apply mode; in propagate mode each input "
                                    f"has its own labels (<stem>{self.labels_suffix}.<ext>)")
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise WriteError(f"--out {self.out_dir} is a file; give a folder")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WriteError(f"cannot create the output folder {self.out_dir}: {err}") from err

    def key(self) -> dict[str, Any]:
        """The settings that decide an output's content (recorded in each manifest)."""
        record = {"mode": self.mode, "ext": self.ext.lower(), "threshold": self.threshold,
                  "label_ids": None if self.label_ids is None else sorted(self.label_ids)}
        return json.loads(json.dumps(record))


@dataclass(frozen=True)
class InputJob:
    """One input of a run, as sent to a worker.

    Attributes:
        path: the image file, zarr store or DICOM folder.
        name: output stem (unique within the run), e.g. ``cells_01``.
        settings: the run's settings.
        fingerprint: the run-wide part of each manifest's key (settings, model weights,
            support set, package version), computed once on the client.
    """

    path: Path
    name: str
    settings: BatchSettings
    fingerprint: dict[str, Any]


@dataclass(frozen=True)
class InputResult:
    """What became of one input: a row of the summary.

    Attributes:
        input: the input path; ``name``: its output stem.
        status: ``done``, ``skipped`` (outputs were complete and current), ``failed`` or
            ``cancelled`` (the run was interrupted first).
        error: why it failed, for a person ("" otherwise).
        seconds: wall time of its task (of the earlier run for ``skipped``).
        mean_score: mean JFS score over scored slices (None when nothing was scored).
        scored: number of (label, slice) pairs scored.
        flagged: slices with any "review" badge (annotate or check these first).
        outputs: the files written (labels, scores CSV, manifest).
        worker: which worker ran it; ``model_loaded``: whether it loaded the model for it.
    """

    input: str
    name: str
    status: Status
    error: str = ""
    seconds: float = 0.0
    mean_score: float | None = None
    scored: int = 0
    flagged: tuple[int, ...] = ()
    outputs: tuple[str, ...] = ()
    worker: str = ""
    model_loaded: bool = False

    def row(self) -> dict[str, Any]:
        """The summary row (JSON types)."""
        return {"input": self.input, "name": self.name, "status": self.status,
                "error": self.error, "seconds": round(self.seconds, 3),
                "mean_score": None if self.mean_score is None else round(self.mean_score, 6),
                "scored": self.scored, "flagged": len(self.flagged),
                "flagged_slices": list(self.flagged), "outputs": list(self.outputs),
                "worker": self.worker, "model_loaded": self.model_loaded}
