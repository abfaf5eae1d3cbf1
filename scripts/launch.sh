#!/usr/bin/env bash
# Install napari-ifss into .venv (first run only) and open napari with the plugin's docks and
# its synthetic sample stack. Extra arguments are files to open instead of the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# napari needs a screen: say so plainly instead of Qt's abort and xcb hints
if [ "$(uname -s)" = Linux ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "napari-ifss is installed, but there is no display to open napari's window on" >&2
  echo "(neither DISPLAY nor WAYLAND_DISPLAY is set)." >&2
  echo "- on a remote machine: connect with 'ssh -X' or a remote desktop, then run this again;" >&2
  echo "- headless: use the Python API or the command line ('.venv/bin/ifss --help');" >&2
  echo "- screenshots only: 'xvfb-run -a bash scripts/launch.sh'." >&2
  exit 2
fi
exec .venv/bin/ifss view "$@"
