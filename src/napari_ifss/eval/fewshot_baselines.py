"""Baselines for few-shot propagation, run on the same support slices as the model.

* :func:`copy_nearest`: every slice gets the mask of the nearest annotated slice.
* :class:`ForestSegmenter`: the ilastik recipe, a random forest on scikit-image's multiscale
  filter features (``multiscale_basic_features`` + ``fit_segmenter`` / ``predict_segmenter``)
  trained on the support slices (a class-balanced pixel sample of each).

Slices are ``(H, W)`` or ``(H, W, 3)``, masks ``(H, W)`` bool; (row, col) order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from skimage.feature import multiscale_basic_features
from skimage.future import fit_segmenter, predict_segmenter

from ..core.errors import InvalidInputError
from ..core.fewshot.support import nearest
from ..core.normalize import IntensityWindow


def copy_nearest(support: Mapping[int, np.ndarray], z: int) -> np.ndarray:
    """The mask of the annotated slice nearest to ``z`` (lower z on ties)."""
    if not support:
        raise InvalidInputError("copy_nearest needs at least one annotated slice")
    return np.asarray(support[nearest(list(support), z)], dtype=bool)


def filter_features(image: np.ndarray, window: IntensityWindow | None = None) -> np.ndarray:
    """``(H, W, F)`` float32 multiscale intensity/edge/texture features (sigma 1..16) of a slice
    normalised to [0, 1] by ``window`` (default: its own percentiles); the scales run on torch's
    thread count of threads (``--threads``; the result does not depend on it)."""
    arr = np.asarray(image)
    window = window or IntensityWindow.from_data(arr)
    norm = window.apply(arr)
    channel_axis = -1 if norm.ndim == 3 else None
    if norm.ndim == 3:
        norm = norm[..., :3]
    feats = multiscale_basic_features(norm, sigma_min=1.0, sigma_max=16.0,
                                      channel_axis=channel_axis,
                                      workers=torch.get_num_threads())
    return feats.astype(np.float32, copy=False)


class ForestSegmenter:
    """Random forest on filter features, trained on few annotated slices (ilastik-style).

    Args:
        n_estimators, max_depth: forest size (sklearn ``RandomForestClassifier``).
        samples_per_class: foreground and background pixels sampled per support slice.
        seed: sampling and forest seed.
    """

    def __init__(self, n_estimators: int = 50, max_depth: int | None = 12,
                 samples_per_class: int = 4000, seed: int = 0) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                          n_jobs=1, random_state=seed)
        self.samples_per_class = samples_per_class
        self.seed = seed
        self.fitted = False

    def fit(self, features: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> None:
        """Train on support slices given as features ``(H, W, F)`` and bool masks ``(H, W)``."""
        if not features:
            raise InvalidInputError("the forest needs at least one support slice")
        rng = np.random.default_rng(self.seed)
        rows, labs = [], []
        for feats, mask in zip(features, masks, strict=True):
            m = np.asarray(mask, dtype=bool)
            if feats.shape[:2] != m.shape:
                raise InvalidInputError(f"features {feats.shape[:2]} and mask {m.shape} differ")
            for value, cls in ((True, 2), (False, 1)):
                idx = np.flatnonzero(m.ravel() == value)
                if idx.size > self.samples_per_class:
                    idx = rng.choice(idx, self.samples_per_class, replace=False)
                rows.append(feats.reshape(-1, feats.shape[-1])[idx])
                labs.append(np.full(idx.size, cls, np.uint8))
        train = np.concatenate(rows)[:, None, :]  # (N, 1, F): one "image" of sampled pixels
        labels = np.concatenate(labs)[:, None]
        if np.unique(labels).size < 2:
            raise InvalidInputError("the support slices need both object and background")
        fit_segmenter(labels, train, self.clf)
        self.fitted = True

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Bool mask ``(H, W)`` from features ``(H, W, F)``."""
        if not self.fitted:
            raise InvalidInputError("fit the forest on support slices first")
        return predict_segmenter(features, self.clf) == 2
