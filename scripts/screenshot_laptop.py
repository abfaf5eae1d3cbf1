"""Save docs/images/laptop_1366x768.png: napari with the sample and both docks on a laptop screen.

Opens the window like ``ifss view`` (the synthetic sample plus the Interactive segmentation and
Few-shot propagation docks), resizes it to 1366x768 and saves a screenshot of the whole window,
to check that the slider and the docks' buttons stay on screen (the docks scroll).

    xvfb-run -a .venv/bin/python scripts/screenshot_laptop.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _viewer_shot  # noqa: F401  (autosaved sessions go to a throw-away folder)
import napari

from napari_ifss._napari.launch import open_viewer

SIZE = (1366, 768)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1]
                                              / "docs/images/laptop_1366x768.png"))
    args = parser.parse_args()
    viewer = open_viewer(show=True)
    app = napari.qt.get_qapp()
    window = viewer.window._qt_window
    window.resize(*SIZE)
    for _ in range(10):
        app.processEvents()
    viewer.reset_view()
    app.processEvents()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"{out}: window {window.width()}x{window.height()} "
          f"(minimum height {window.minimumSizeHint().height()})")
    viewer.close()


if __name__ == "__main__":
    main()
