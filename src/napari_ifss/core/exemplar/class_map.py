"""Step 2 of exemplar mode: the class map, "which pixels look like the exemplar".

A closed-form ridge classifier (the few-shot head's own, on the frozen click encoder's
features) is fitted on the slice itself, the exemplar as foreground and a ring around it as
background, everything else *ignored* (the other objects of the kind lie there); the objects
it finds join the exemplar as the support of the few-shot head (step 3). See
:mod:`.exemplar` for the whole method; coordinates (row, col).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from ...models.fewshot_ridge import normal_equations, pixel_features, ridge_map, solve
from ..fewshot.fewshot import FewShotSegmenter
from .instances import ObjectShape, find_instances

if TYPE_CHECKING:  # exemplar imports this module
    from .exemplar import ExemplarSettings

# Support-mask values of the ridge fit: pixels >= 0.5 are foreground, <= 0.1 background,
# this one is neither (models.fewshot_ridge's thresholds).
_IGNORE = 0.3
# A pixel whose ridge score lies below -this becomes background of the next ridge fit.
_CLEAR_BACKGROUND = 0.5

__all__ = ["class_support", "ridge_scores"]


def ridge_scores(segmenter: FewShotSegmenter, image: np.ndarray, support: np.ndarray,
                 key: Hashable | None = None) -> np.ndarray:
    """The few-shot head's ridge classifier fitted on ``image`` itself and applied to it.

    Args:
        segmenter: a segmenter whose window is set (``set_support`` was called).
        image: ``(H, W)`` / ``(H, W, 3|4)`` slice.
        support: ``(H, W)`` float: 1 foreground, 0 background, other values (e.g. 0.3) are
            left out of the fit.
        key: cache key of the encoded slice.

    Returns:
        ``(H, W)`` float32 score, about +1 on foreground-like and -1 on background-like pixels.
    """
    enc = segmenter.encode(image, key)
    deep, low = enc.feats.deep[0], enc.feats.low[0]
    with torch.inference_mode():
        # padding: not part of the slice, left out of the fit
        m = enc.geometry.map_to_network(support, deep.device, pad=_IGNORE)
        feats = pixel_features(deep, low)
        gram, xty = normal_equations(feats, F.adaptive_avg_pool2d(m, low.shape[-2:])[0, 0])
        weights = solve([(gram, xty)], torch.ones(1))
        score = ridge_map(feats, weights)[None]
        score = F.interpolate(score, size=m.shape[-2:], mode="bilinear", align_corners=False)
        score = enc.geometry.from_network(score)
    return score[0, 0].float().cpu().numpy()


def class_support(segmenter: FewShotSegmenter, image: np.ndarray, exemplar: np.ndarray,
                  blocked: np.ndarray, shape: ObjectShape, settings: ExemplarSettings,
                  key: Hashable) -> np.ndarray:
    """``(H, W)`` bool: the exemplar plus the objects the ridge class map finds (steps 2, 4)."""
    ring = ndi.binary_dilation(exemplar, iterations=max(2, int(round(shape.radius))))
    support = np.where(exemplar, 1.0, np.where(ring, 0.0, _IGNORE)).astype(np.float32)
    found = np.zeros_like(exemplar)
    for _ in range(settings.ridge_rounds):
        score = ridge_scores(segmenter, image, support, key)
        found = find_instances(score > 0, blocked, shape, settings)[0] > 0
        support = np.where(score < -_CLEAR_BACKGROUND, 0.0, _IGNORE).astype(np.float32)
        support[ring & ~exemplar] = 0.0
        support[exemplar | found] = 1.0
    return exemplar | found
