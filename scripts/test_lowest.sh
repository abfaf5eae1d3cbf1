#!/usr/bin/env bash
# Run the test suite against the LOWEST versions napari-ifss says it supports: every `>=` lower
# bound of pyproject.toml's dependencies and of its `napari` extra becomes an exact pin
# (torch 2.5, numpy 2.0, napari 0.5.1, scipy 1.13, ...), in a separate environment
# build/lowest/venv (build/ is git-ignored).
#
# This is an optional job, separate from CI (.ci/run): it needs a machine that can download
# torch 2.5 (the project's own machines only have the pinned torch 2.13.0 CPU wheel, so it has
# NOT been run there). On Linux, PyPI's torch 2.5 wheel pulls the CUDA libraries (several GB);
# set TORCH_INDEX_URL to a CPU-only torch package index to avoid that. Run from a checkout:
#
#     bash scripts/test_lowest.sh                  # headless, benchmarks skipped
#     bash scripts/test_lowest.sh tests/test_api.py -x   # any pytest arguments
#
# .github/workflows/lowest.yml runs it on demand (workflow_dispatch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=build/lowest/venv
PINS=build/lowest/constraints.txt
mkdir -p build/lowest

"$PY" - <<'EOF'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"use Python 3.11, the lowest supported (this is {sys.version.split()[0]}); "
             "set PYTHON=/path/to/python3.11")
EOF

# lower bounds -> exact pins (the weights package is exact already)
"$PY" - > "$PINS" <<'EOF'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for req in project["dependencies"] + project["optional-dependencies"]["napari"]:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)", req)
    if m:
        print(f"{m[1]}=={m[2]}")
EOF
echo "[lowest] pins:"; sed 's/^/  /' "$PINS"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
extra=()
[ -n "${TORCH_INDEX_URL:-}" ] && extra+=(--extra-index-url "$TORCH_INDEX_URL")
# the lowest library versions, with the Qt binding and test tools left to the resolver
"$VENV/bin/python" -m pip install -q ${extra[@]+"${extra[@]}"} -c "$PINS" \
  -e ".[napari,pyside6]" pytest pytest-qt pytest-xvfb hypothesis
"$VENV/bin/python" -m pip list 2>/dev/null | grep -iE "^(torch|numpy|napari|scipy|scikit-image|zarr|dask) "

unset QT_QPA_PLATFORM
if [ $# -eq 0 ]; then set -- -m "not benchmark"; fi
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
