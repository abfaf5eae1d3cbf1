"""Save docs/images/viewer.png: napari with napari-ifss as `ifss view` opens it (sample stack,
middle slice, the plugin's docks).

Needs a display; headless run it under a virtual X server:

    xvfb-run -a .venv/bin/python scripts/screenshot.py [--out docs/images/viewer.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import napari

from napari_ifss._napari.launch import open_viewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "docs/images/viewer.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    viewer = open_viewer(show=True)
    viewer.window.resize(args.width, args.height)
    image = viewer.layers["synthetic cells"]
    viewer.dims.set_current_step(0, image.data.shape[0] // 2)  # middle slice
    viewer.layers.selection.active = image
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    viewer.close()
    print(f"saved {out}")


if __name__ == "__main__":
    main()
