"""Model weights and training checkpoints as data: safetensors plus a JSON card, never pickle.

A napari-ifss file is a ``.safetensors`` file (tensors only) whose string metadata holds one
JSON document under :data:`CARD_KEY`, the *model card*: ``kind``, ``variant``, ``config``,
``meta`` and, where known, ``training_data``, ``licence`` and (few-shot heads) ``encoder``.
Reading one runs no code from the file. Loading checks the card before anything is built:

* ``kind`` and ``variant`` are ones this version knows,
* ``config`` is a dict whose keys are parameters of the model's constructor (read off its
  signature, so new options are accepted as soon as the constructor has them) and whose values
  are JSON scalars or lists,
* the tensors' names and shapes are exactly those of the module built from that config.

Training checkpoints (nested dicts of tensors, numbers, tuples: model, optimiser and RNG state)
are stored the same way: the tensors in the file, everything else as a JSON skeleton in the
card (:func:`write_tree` / :func:`read_tree`). Files are written atomically.

Old ``torch.save`` (``.pt``) files are still read, but only through
``torch.load(weights_only=True)``, which refuses pickled code; a refusal becomes an
:class:`~napari_ifss.core.errors.InvalidInputError`.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from ..core.errors import InvalidInputError

CARD_KEY = "napari_ifss"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
TRAINING_KIND = "training_checkpoint"
_TAGS = ("__tensor__", "__tuple__", "__items__")


@dataclass(frozen=True)
class ModelSpec:
    """What a model file of one kind must look like.

    Attributes:
        kind: the card's ``kind`` (``"click_net"``, ``"fewshot_head"``).
        label: how messages name it (``"click-model"``, ``"few-shot head"``).
        variants: the accepted ``variant`` values.
        cls: the module class; the parameters of its ``__init__`` (other than ``variant``) are
            the accepted ``config`` keys.
        legacy_defaults: card entries assumed for old ``.pt`` files that lack them.
    """

    kind: str
    label: str
    variants: tuple[str, ...]
    cls: type[torch.nn.Module]
    legacy_defaults: dict[str, Any] = field(default_factory=dict)

    def config_keys(self) -> set[str]:
        """Names the constructor accepts as keyword arguments (``variant`` excluded)."""
        params = inspect.signature(self.cls.__init__).parameters.values()
        return {p.name for p in params if p.name not in ("self", "variant") and p.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


# ---------------------------------------------------------------------------------- raw files
def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return obj.item()  # numpy / torch scalars
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON data")


def write_file(path: str | os.PathLike, tensors: dict[str, torch.Tensor], card: dict) -> Path:
    """Write ``tensors`` with ``card`` (JSON) as its metadata; atomic (temporary file in the
    same folder, then ``os.replace``). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
            for k, v in tensors.items()}
    card = {"format_version": FORMAT_VERSION,
            **{k: v for k, v in card.items() if k != "format_version"}}
    text = json.dumps(card, default=_json_default)
    blob = save(data, metadata={CARD_KEY: text})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def file_format(path: str | os.PathLike) -> str:
    """``"safetensors"``, ``"torch"`` (zip or pickle) or ``"unknown"``, from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(9)
        size = os.fstat(fh.fileno()).st_size
    # safetensors first: an 8-byte little-endian header length, then the JSON header. The
    # length's low byte may be 0x80, the first byte of a pickle, so that test must come second.
    header_len = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if head[8:9] == b"{" and 2 <= header_len <= size - 8:
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    return "unknown"


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(
            f"{path} could not be read as a safetensors file ({exc}); it is truncated or "
            "damaged: copy or export it again") from None
    if CARD_KEY not in metadata:
        raise InvalidInputError(
            f"{path} is a safetensors file without a napari-ifss model card (metadata key "
            f"{CARD_KEY!r}); it was not written by napari-ifss and cannot be used as one of its "
            "models")
    try:
        card = json.loads(metadata[CARD_KEY])
    except ValueError as exc:
        raise InvalidInputError(f"{path}: its model card is not valid JSON ({exc}); the file "
                                "is damaged or was edited: export it again") from None
    if not isinstance(card, dict):
        raise InvalidInputError(f"{path}: its model card is not a JSON object")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InvalidInputError(f"{path} was written in napari-ifss file format {version!r}; "
                                f"this version reads format {FORMAT_VERSION}: upgrade napari-ifss")
    return tensors, card


def read_legacy(path: str | os.PathLike) -> Any:
    """Contents of an old ``torch.save`` file, read with ``weights_only=True`` (plain tensors,
    numbers, strings and containers only; no code runs).

    Raises:
        InvalidInputError: if the file holds anything else, or cannot be read.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InvalidInputError(
            f"{path} holds code or Python objects that are not plain tensors, numbers and "
            "lists, so it was NOT loaded (unpickling it could run arbitrary code). Use a "
            ".safetensors file; convert an old checkpoint you made yourself with `ifss convert`"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{path} could not be read as a PyTorch checkpoint ({exc}); "
                                "it is truncated or damaged") from None


def _read_any(path: Path, what: str) -> tuple[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    kind = file_format(path)
    if kind == "safetensors":
        return kind, _read_safetensors(path)
    if kind == "torch":
        return kind, read_legacy(path)
    raise InvalidInputError(f"{path} is neither a safetensors file nor a PyTorch checkpoint "
                            f"(empty, truncated or another format); expected a napari-ifss {what}")


# ---------------------------------------------------------------------------------- models
def save_module(module: torch.nn.Module, path: str | os.PathLike, card: dict) -> Path:
    """Write ``module``'s state (floating-point tensors as fp16) with ``card``."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in module.state_dict().items()}
    return write_file(path, state, card)


def read_model(path: str | os.PathLike, spec: ModelSpec) -> tuple[dict[str, torch.Tensor], dict]:
    """``(tensors, card)`` of a model file (safetensors or old ``.pt``); the card is not yet
    checked (see :func:`check_card`).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if it is not a readable napari-ifss model file.
    """
    path = Path(path)
    fmt, content = _read_any(path, f"{spec.label} checkpoint")
    if fmt == "safetensors":
        return content
    state = content.get("state_dict") if isinstance(content, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise InvalidInputError(f"{path} is not a napari-ifss {spec.label} checkpoint (no "
                                "tensors under 'state_dict')")
    card = {k: v for k, v in content.items() if k != "state_dict"}
    for key, value in spec.legacy_defaults.items():
        card.setdefault(key, value)
    return state, card


def read_model_dict(path: str | os.PathLike) -> dict:
    """A model file as the dict old ``.pt`` files held: the card plus ``"state_dict"``."""
    path = Path(path)
    fmt, content = _read_any(path, "model file")
    if fmt == "safetensors":
        tensors, card = content
        return {**card, "state_dict": tensors}
    return content


def _is_json_value(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, list) and all(_is_json_value(v) for v in value)


def check_card(card: dict, path: str | os.PathLike, spec: ModelSpec) -> tuple[str, dict]:
    """Validate a model card against ``spec``; returns ``(variant, config)``.

    Raises:
        InvalidInputError: naming the file, what is wrong and what to do.
    """
    kind = card.get("kind")
    if kind != spec.kind:
        found = f"a {kind!r} file" if isinstance(kind, str) else "no model kind"
        raise InvalidInputError(f"{path} is not a napari-ifss {spec.label} checkpoint: its card "
                                f"names {found}; pass a {spec.label} file here")
    variant = card.get("variant")
    if variant not in spec.variants:
        raise InvalidInputError(f"{path}: unknown {spec.label} variant {variant!r}; this version "
                                f"knows {list(spec.variants)} (upgrade napari-ifss if the file "
                                "comes from a newer one)")
    config = card.get("config", {})
    if not isinstance(config, dict):
        raise InvalidInputError(f"{path}: the card's config is not a JSON object")
    unknown = sorted(set(config) - spec.config_keys())
    if unknown:
        raise InvalidInputError(
            f"{path}: unknown {spec.label} config option(s) {unknown}; this version accepts "
            f"{sorted(spec.config_keys())}. The file comes from another napari-ifss version or "
            "was edited: upgrade napari-ifss or export the model again")
    bad = sorted(k for k, v in config.items() if not _is_json_value(v))
    if bad:
        raise InvalidInputError(f"{path}: config option(s) {bad} are not numbers, strings, "
                                "booleans or lists; the file is damaged or was edited")
    if not isinstance(card.get("meta", {}), dict):
        raise InvalidInputError(f"{path}: the card's meta is not a JSON object")
    return variant, dict(config)


def build_checked(path: str | os.PathLike, spec: ModelSpec, tensors: dict[str, torch.Tensor],
                  build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``build()`` the module, check that ``tensors`` match its state exactly (names, shapes,
    floating point or not), load them as fp32 and return it in eval mode."""
    label = spec.label
    try:
        module = build()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(f"{path}: its config does not build a {label} ({exc}); the "
                                "file is damaged or from another napari-ifss version") from None
    expected = module.state_dict()
    problems = []
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        problems.append(f"missing tensors {missing[:3]}{' ...' if len(missing) > 3 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors {unexpected[:3]}"
                        f"{' ...' if len(unexpected) > 3 else ''}")
    for name in sorted(set(expected) & set(tensors)):
        want, got = expected[name], tensors[name]
        if tuple(want.shape) != tuple(got.shape) or \
                want.is_floating_point() != got.is_floating_point():
            problems.append(f"{name} is {got.dtype} {tuple(got.shape)}, expected "
                            f"{want.dtype} {tuple(want.shape)}")
    if problems:
        raise InvalidInputError(
            f"{path}: the tensors do not match the {label} its card describes: "
            f"{'; '.join(problems[:4])}. The file is damaged or was edited: export it again")
    module.load_state_dict({k: v.float() if v.is_floating_point() else v
                            for k, v in tensors.items()}, strict=True)
    return module.eval()


# ---------------------------------------------------------------------------------- trees
def _encode(obj: Any, name: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        if name in tensors:
            raise ValueError(f"two tensors would be stored as {name!r}")
        tensors[name] = obj
        return {"__tensor__": name}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{name}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{name}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in obj):
            return {k: _encode(v, f"{name}/{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, f"{name}/key{i}", tensors),
                               _encode(v, f"{name}/{k}", tensors)]
                              for i, (k, v) in enumerate(obj.items())]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"{name}: {type(obj).__name__} cannot be stored in a checkpoint")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], path: Path) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, path) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        if obj["__tensor__"] not in tensors:
            raise InvalidInputError(f"{path}: tensor {obj['__tensor__']!r} is missing; the "
                                    "checkpoint is damaged")
        return tensors[obj["__tensor__"]]
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors, path) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(k, tensors, path): _decode(v, tensors, path) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors, path) for k, v in obj.items()}


def write_tree(path: str | os.PathLike, tree: dict, kind: str) -> Path:
    """Store a nested dict (tensors, numbers, strings, lists, tuples, dicts) losslessly: tensors
    in the file at full precision, the rest as a JSON skeleton in the card."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(tree, "", tensors)
    return write_file(path, tensors, {"kind": kind, "tree": skeleton})


def read_tree(path: str | os.PathLike, kind: str) -> dict:
    """The dict written by :func:`write_tree` (or held by an old ``.pt`` file of that kind).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        InvalidInputError: if it is not a readable checkpoint of ``kind``.
    """
    path = Path(path)
    fmt, content = _read_any(path, "checkpoint")
    if fmt == "torch":
        if not isinstance(content, dict):
            raise InvalidInputError(f"{path} is not a napari-ifss checkpoint")
        return content
    tensors, card = content
    if card.get("kind") != kind or not isinstance(card.get("tree"), dict):
        raise InvalidInputError(f"{path} is not a napari-ifss {kind} checkpoint (its card names "
                                f"{card.get('kind')!r})")
    return _decode(card["tree"], tensors, path)


def read_verified_model(path: str | os.PathLike, shipped_dir: str | os.PathLike, spec: ModelSpec,
                        what: str) -> tuple[dict[str, torch.Tensor], dict, str, dict]:
    """The loading steps every model file goes through: it must exist, a file in
    ``shipped_dir`` must match that folder's checksum manifest, then its tensors and card are
    read (no pickle) and the card checked. Returns ``(tensors, card, variant, config)``.

    Raises:
        FileNotFoundError: if ``path`` does not exist (``what`` names the kind of file).
        InvalidInputError: a changed shipped file, or not a valid ``spec`` file.
    """
    from .manifest import verify_shipped

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} checkpoint not found: {path}")
    verify_shipped(path, shipped_dir)
    tensors, card = read_model(path, spec)
    variant, config = check_card(card, path, spec)
    return tensors, card, variant, config
