#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv with everything the plugin,
# its tests and napari need. Safe to run again: it reinstalls only when pyproject.toml,
# constraints.txt or the package version changed. On Debian/Ubuntu as root it also installs
# the system libraries that a headless Qt/OpenGL test run needs (a virtual X display and Mesa).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv

need_apt=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 \
             libxcb-shape0 libxcb-xinerama0 libxcb-cursor0 libgl1 libegl1 libgl1-mesa-dri \
             libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libfontconfig1; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
  done
fi
if [ ${#need_apt[@]} -gt 0 ] && [ -n "${IFSS_SKIP_SYSTEM_PACKAGES:-}" ]; then
  echo "[setup] IFSS_SKIP_SYSTEM_PACKAGES is set: not installing ${need_apt[*]}" \
       "(napari's window and the headless tests may not work without them)" >&2
  need_apt=()
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] napari's window and the headless tests need these Debian/Ubuntu packages," \
         "which are missing: ${need_apt[*]}"
    echo "[setup] installing them now with apt-get (set IFSS_SKIP_SYSTEM_PACKAGES=1 to skip)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "[setup] warning: missing system packages (${need_apt[*]}); install them as root for headless tests" >&2
  fi
fi

# the version is read from napari_ifss.__version__ at install time, so it is part of the stamp
stamp=$( (cat pyproject.toml constraints.txt; grep '^__version__' src/napari_ifss/__init__.py) \
  | sha1sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.ifss-stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
echo "[setup] installing napari-ifss and its dependencies into $VENV (torch pinned, CPU build)"
"$VENV/bin/python" -m pip install -q --upgrade pip
# pyproject.toml states ranges; constraints.txt holds the exact versions tested together
# (torch pinned to the CPU wheel). Extras: napari (the docks), pyside6 (the Qt binding the
# tests use), testing (pytest, ruff, build, twine).
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[napari,pyside6,testing]"
echo "$stamp" > "$VENV/.ifss-stamp"
