"""The readers on the real volumes in ../shared/data (skipped where the data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.data.datasets import default_data_dir, iter_3d
from napari_ifss.core.io import check_labels_match, read_layer

VOLUMES = list(iter_3d(default_data_dir()))


@pytest.mark.benchmark
@pytest.mark.skipif(not VOLUMES, reason="../shared/data not available")
@pytest.mark.parametrize("volume", VOLUMES, ids=[v.dataset for v in VOLUMES])
def test_real_volume_and_labels_read_with_matching_geometry(volume):
    image = read_layer(volume.image_path)
    labels = read_layer(volume.labels_path)
    assert image.kind == "image" and labels.kind == "labels"
    assert image.data.ndim == 3
    check_labels_match(labels.data.shape, image.data.shape)
    np.testing.assert_allclose(labels.scale, image.scale, rtol=1e-5)
    np.testing.assert_allclose(labels.translate, image.translate, atol=1e-3)
    assert labels.data.max() > 0
