"""Which channel's answer to show when the click model sees several channels.

The model answers the user's clicks once per channel (each channel encoded as a grey image
under its own window); the answer shown is the one it is surest of: the largest mean of
``|2 p - 1|`` over the pixels it calls the object (``p > 0.5``). A channel that does not show
the object gives a faint, uncertain blob around the click; the channel that shows it gives a
crisp mask. Chosen again at every click, from the same clicks and previous mask.

Measured against the alternatives (fusing the channels' features by mean or maximum, or
choosing by the object's contrast in its channel) on objects seen only in a dim channel:
``benchmarks/channel_clicks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confidence(prob: np.ndarray) -> float:
    """How sure a probability map ``(H, W)`` in [0, 1] is of its object: mean ``|2 p - 1|``
    over the pixels with ``p > 0.5`` (0 when there are none)."""
    p = np.asarray(prob, dtype=np.float32)
    inside = p[p > 0.5]
    return float(np.mean(2.0 * inside - 1.0)) if inside.size else 0.0


def most_confident(probs: Sequence[np.ndarray]) -> int:
    """The index of the map :func:`confidence` rates highest (the first on a tie)."""
    if not probs:
        raise ValueError("no probability maps to choose from")
    return int(np.argmax([confidence(p) for p in probs]))
