"""Save and load few-shot head checkpoints, tied to the click-encoder weights they were trained on.

A checkpoint is a ``torch.save`` dict ``{"kind": "fewshot_head", "config", "state_dict",
"encoder": {"file", "sha256"}, "meta"}`` with floating-point tensors stored as fp16. The head
only makes sense on the exact frozen encoder it was trained on, so loading checks the sha256 of
the click weights file and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ..core.errors import InvalidInputError
from .fewshot_head import FewShotHead

KIND = "fewshot_head"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_FEWSHOT_WEIGHTS = "fewshot.pt"


class EncoderMismatchError(InvalidInputError):
    """The few-shot head was trained on other click-encoder weights than the ones given."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_fewshot_weights() -> Path:
    """Path of the few-shot head shipped in the package (may not exist in a dev checkout)."""
    return WEIGHTS_DIR / DEFAULT_FEWSHOT_WEIGHTS


def save_fewshot_head(head: FewShotHead, path: str | os.PathLike,
                      encoder_weights: str | os.PathLike | None, meta: dict | None = None) -> Path:
    """Write ``head`` as an fp16 checkpoint recording ``encoder_weights`` (file name + sha256;
    None for a randomly initialised encoder, e.g. in tests)."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu().clone()
             for k, v in head.state_dict().items()}
    encoder = None
    if encoder_weights is not None:
        encoder = {"file": Path(encoder_weights).name, "sha256": file_sha256(encoder_weights)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": KIND, "config": dict(head.config), "state_dict": state,
                "encoder": encoder, "meta": dict(meta or {})}, path)
    return path


def load_fewshot_head(path: str | os.PathLike,
                      encoder_weights: str | os.PathLike | None = None) -> FewShotHead:
    """Load a head saved by :func:`save_fewshot_head`.

    Args:
        path: the head checkpoint.
        encoder_weights: the click-model weights file the head will run on; its sha256 must
            match the one recorded in the checkpoint. None skips the check.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if the file is not a few-shot head checkpoint.
        EncoderMismatchError: if ``encoder_weights`` differs from the recorded encoder.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"few-shot head checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise InvalidInputError(f"{path} is not a napari-ifss few-shot head checkpoint")
    if encoder_weights is not None:
        recorded = ckpt.get("encoder") or {}
        actual = file_sha256(encoder_weights)
        if recorded.get("sha256") != actual:
            raise EncoderMismatchError(
                f"the few-shot head {path.name} was trained on click-encoder weights "
                f"{recorded.get('file')!r} (sha256 {str(recorded.get('sha256'))[:12]}...), but "
                f"{Path(encoder_weights).name} has sha256 {actual[:12]}...; retrain it with "
                "`ifss train fewshot` for these click weights")
    head = FewShotHead(**ckpt["config"])
    head.load_state_dict({k: v.float() if v.is_floating_point() else v
                          for k, v in ckpt["state_dict"].items()})
    head.meta = ckpt.get("meta", {})  # type: ignore[attr-defined]
    head.encoder_info = ckpt.get("encoder")  # type: ignore[attr-defined]
    return head.eval()
