#!/usr/bin/env bash
# Install napari-ifss into .venv (first run only), lint, and run the whole test suite headless
# (pytest-xvfb starts a virtual X display). Benchmarks (on ../shared/data) are skipped; pass
# pytest arguments to change that, e.g. `bash scripts/test.sh -m benchmark`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/ruff check src tests scripts
unset QT_QPA_PLATFORM
if [ $# -eq 0 ]; then set -- -m "not benchmark"; fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when the selection holds no test: that is a failure of the suite here too.
exit $rc
