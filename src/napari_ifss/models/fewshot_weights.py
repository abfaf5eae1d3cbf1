"""Save and load few-shot head files, tied to the click-encoder weights they were trained on.

A few-shot head file is a ``.safetensors`` file (fp16 tensors) whose model card
(:mod:`.safe_io`) holds ``kind="fewshot_head"``, ``variant``, ``config`` (the
:class:`FewShotHead` arguments), ``encoder`` (``{"file", "sha256"}`` of the click weights) and
``meta``. The head only makes sense on the exact frozen encoder it was trained on, so loading
checks the sha256 of the click weights file and refuses a mismatch. Old ``torch.save`` files
are still read, through ``weights_only=True``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..core.errors import InvalidInputError
from .fewshot_head import FewShotHead
from .manifest import file_sha256
from .safe_io import ModelSpec, build_checked, read_verified_model, save_module

__all__ = ["EncoderMismatchError", "default_fewshot_weights", "file_sha256", "load_fewshot_head",
           "save_fewshot_head"]

KIND = "fewshot_head"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_FEWSHOT_WEIGHTS = "fewshot.safetensors"
FEWSHOT_SPEC = ModelSpec(KIND, "few-shot head", ("default",), FewShotHead,
                         legacy_defaults={"variant": "default"})


class EncoderMismatchError(InvalidInputError):
    """The few-shot head was trained on other click-encoder weights than the ones given."""


def default_fewshot_weights() -> Path:
    """Path of the few-shot head shipped in the package (may not exist in a dev checkout)."""
    return WEIGHTS_DIR / DEFAULT_FEWSHOT_WEIGHTS


def save_fewshot_head(head: FewShotHead, path: str | os.PathLike,
                      encoder_weights: str | os.PathLike | dict | None, meta: dict | None = None,
                      extra: dict | None = None) -> Path:
    """Write ``head`` as an fp16 ``.safetensors`` file with its model card.

    Args:
        head: the head.
        path: the file to write.
        encoder_weights: the click weights file it was trained on (its name and sha256 are
            recorded), or a ready record ``{"file", "sha256"}``, or None for a randomly
            initialised encoder (tests).
        meta: training facts, JSON data.
        extra: further card entries, e.g. ``training_data`` and ``licence``.
    """
    encoder = encoder_weights
    if encoder_weights is not None and not isinstance(encoder_weights, dict):
        encoder = {"file": Path(encoder_weights).name, "sha256": file_sha256(encoder_weights)}
    card = {**dict(extra or {}), "kind": KIND, "variant": "default",
            "config": dict(head.config), "encoder": encoder, "meta": dict(meta or {})}
    return save_module(head, path, card)


def _check_encoder_record(record: object, path: Path) -> dict | None:
    if record is None:
        return None
    if not (isinstance(record, dict) and isinstance(record.get("file"), str)
            and isinstance(record.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", record["sha256"])):
        raise InvalidInputError(f"{path}: the card's encoder record must be {{'file': name, "
                                "'sha256': 64 hex digits}; the file is damaged or was edited")
    return record


def load_fewshot_head(path: str | os.PathLike,
                      encoder_weights: str | os.PathLike | None = None) -> FewShotHead:
    """Load a head saved by :func:`save_fewshot_head` after checking its card and tensors (the
    shipped file also against its sha256).

    Args:
        path: the head file.
        encoder_weights: the click-model weights file the head will run on; its sha256 must
            match the one recorded in the file. None skips the check.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if the file is not a valid few-shot head file.
        EncoderMismatchError: if ``encoder_weights`` differs from the recorded encoder.
    """
    path = Path(path)
    tensors, card, _, config = read_verified_model(path, WEIGHTS_DIR, FEWSHOT_SPEC,
                                                   "few-shot head")
    recorded = _check_encoder_record(card.get("encoder"), path)
    if encoder_weights is not None:
        recorded = recorded or {}
        actual = file_sha256(encoder_weights)
        if recorded.get("sha256") != actual:
            raise EncoderMismatchError(
                f"the few-shot head {path.name} was trained on click-encoder weights "
                f"{recorded.get('file')!r} (sha256 {str(recorded.get('sha256'))[:12]}...), but "
                f"{Path(encoder_weights).name} has sha256 {actual[:12]}...; retrain it with "
                "`ifss train fewshot` for these click weights")
    head = build_checked(path, FEWSHOT_SPEC, tensors, lambda: FewShotHead(**config))
    head.meta = card.get("meta", {})  # type: ignore[attr-defined]
    head.encoder_info = recorded  # type: ignore[attr-defined]
    head.card = card  # type: ignore[attr-defined]
    return head  # type: ignore[return-value]
