"""npe2 sample data: the synthetic cell stack and its ground truth (made on the fly)."""

from __future__ import annotations

from typing import Any

from ..core.data.sample import SAMPLE_SPACING, make_synthetic_cells

IMAGE_NAME = "synthetic cells"
LABELS_NAME = "synthetic cells ground truth"


def make_sample_data() -> list[tuple[Any, dict[str, Any], str]]:
    """Image (uint16, ``(24, 192, 192)``, scale 2 x 0.5 x 0.5 µm) and hidden ground-truth labels."""
    image, labels = make_synthetic_cells()
    scale = SAMPLE_SPACING
    return [
        (image, {"name": IMAGE_NAME, "scale": scale, "metadata": {"unit": "µm"}}, "image"),
        (labels, {"name": LABELS_NAME, "scale": scale, "visible": False, "opacity": 0.5},
         "labels"),
    ]
