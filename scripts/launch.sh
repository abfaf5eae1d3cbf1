#!/usr/bin/env bash
# Install napari-ifss into .venv (first run only) and open napari with the plugin's docks and
# its synthetic sample stack. Extra arguments are files to open instead of the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/ifss view "$@"
