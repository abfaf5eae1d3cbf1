"""Which channel the few-shot head and the JFS quality score look at, for an image with
several channels.

The per-volume learner uses every channel together (:mod:`.volume_features`); the few-shot
head and JFS were trained on one grey channel. For them each object gets the channel it stands
out in most on the slices the user annotated: the mean over those slices of the object's
contrast against a ring around it (:func:`~napari_ifss.core.contrast.sampled_contrast`), each
channel seen through its own intensity window. The choice rests on the user's own annotation
only, never on a result being judged, so a quality score on a chosen channel means what it
means on a one-channel image (its badge thresholds hold). An object seen only in a dim channel
gets that channel: the contrast does not depend on brightness.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..channels import Channels
from ..contrast import sampled_contrast
from ..normalize import IntensityWindow

__all__ = ["channel_contrasts", "channel_key", "support_channel"]


def channel_contrasts(images: Sequence[Channels], masks: Sequence[np.ndarray],
                      windows: Sequence[IntensityWindow]) -> list[float]:
    """The mean contrast of the object in each channel over the annotated slices.

    Args:
        images: the annotated slices, :class:`Channels` of ``(H, W)`` arrays, all with the
            same channels.
        masks: ``(H, W)`` bool, the object on each slice.
        windows: one intensity window per channel.
    """
    count = images[0].count
    return [float(np.mean([sampled_contrast(windows[k].apply(np.asarray(im.arrays[k])), m)
                           for im, m in zip(images, masks, strict=True)]))
            for k in range(count)]


def support_channel(images: Sequence[Channels], masks: Sequence[np.ndarray],
                    windows: Sequence[IntensityWindow]) -> int:
    """The index of the channel the object stands out in most (:func:`channel_contrasts`; the
    first on a tie)."""
    return int(np.argmax(channel_contrasts(images, masks, windows)))


def channel_key(prefix: Hashable, channel: int | None) -> Hashable:
    """The cache prefix of one channel's encodings (``prefix`` itself for a one-channel
    image), shared by propagation and scoring so that scoring reuses propagation's."""
    return prefix if channel is None else (prefix, "channel", int(channel))
