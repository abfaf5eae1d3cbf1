"""FewShotSegmenter: segment an object in new slices from a few annotated (support) slices.

Usage::

    seg = FewShotSegmenter.default()              # shipped click encoder + few-shot head
    seg.set_support([img_a, img_b], [mask_a, mask_b], positions=[10, 30])
    prob = seg.predict(img_q, position=17)        # (H, W) float32 in [0, 1]

Slices are ``(H, W)`` grey or ``(H, W, 3|4)`` RGB of any numeric dtype, masks ``(H, W)``
(nonzero = object), coordinates (row, col). All slices share one intensity window (from the
support slices unless given), so neighbouring slices of a volume are normalised alike. The
network sees each slice resized so that its long side lies in ``[min_side, max_side]`` and
padded to a multiple of 32 (``core.encoding``); the frozen click encoder runs once per slice
and window (LRU-cached by ``key``); the few-shot head is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence

import numpy as np
import torch

from ...models.fewshot_head import FewShotHead, distance_weights
from ...models.fewshot_prototypes import SupportFeatures
from ..encoding import (
    PAD_MULTIPLE,
    EncodedSlice,
    NetworkGeometry,
    SliceEncoder,
    UsesSliceEncoder,
    autocast,
)
from ..encoding import slices_window as support_window
from ..errors import InvalidInputError, NotReadyError
from ..normalize import IntensityWindow, check_slice
from .support import check_support

__all__ = ["EncodedSlice", "FewShotSegmenter", "network_size", "support_window"]


def network_size(shape: tuple[int, int], min_side: int, max_side: int) -> tuple[int, int]:
    """``(h, w)`` the network sees for a slice of ``shape``: long side in ``[min_side, max_side]``."""
    return NetworkGeometry.fit(shape, min_side, max_side).size


class FewShotSegmenter(UsesSliceEncoder):
    """Few-shot segmentation of 2D slices from ``K >= 1`` support slices.

    Args:
        head: the few-shot head (default: the shipped weights).
        encoder: a ``ClickNet`` (its ``encode``) or an ``ImageEncoder``; kept frozen.
        device: torch device (default CUDA when available, else CPU).
        min_side, max_side: range of the long side the network sees.
        cache_size: number of encoded query slices kept (LRU, by ``key``).
    """

    def __init__(self, head: FewShotHead | None = None, encoder: torch.nn.Module | None = None,
                 *, device: str | None = None, min_side: int = 256, max_side: int = 512,
                 cache_size: int = 8) -> None:
        if head is None or encoder is None:
            default = FewShotSegmenter.default(device=device, min_side=min_side,
                                               max_side=max_side, cache_size=cache_size)
            head, encoder = head or default.head, encoder or default.encoder
        if min_side < PAD_MULTIPLE or max_side < min_side:
            raise InvalidInputError(f"need {PAD_MULTIPLE} <= min_side <= max_side, got "
                                    f"{min_side}, {max_side}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.head = head.to(self.device).eval()
        self.min_side, self.max_side = int(min_side), int(max_side)
        self.slices = SliceEncoder(self.encoder, self.device, cache_size=cache_size,
                                   dtype=torch.float32, keep_grey=True)
        self.window: IntensityWindow | None = None  # of the support set (set_support)
        self._supports: list[SupportFeatures] = []
        self._positions: list[float] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, head_path: str | os.PathLike,
                        click_weights: str | os.PathLike | None = None, **kwargs
                        ) -> FewShotSegmenter:
        """Head at ``head_path`` on the click encoder at ``click_weights`` (default: shipped).

        Raises ``EncoderMismatchError`` when the head was trained on other click weights."""
        from ...models.fewshot_weights import load_fewshot_head
        from ...models.registry import default_click_weights, load_click_net

        click_weights = click_weights or default_click_weights()
        head = load_fewshot_head(head_path, encoder_weights=click_weights)
        return cls(head, load_click_net(click_weights).encoder, **kwargs)

    @classmethod
    def default(cls, **kwargs) -> FewShotSegmenter:
        """The shipped few-shot head on the shipped click encoder (FileNotFoundError if absent)."""
        from ...models.fewshot_weights import default_fewshot_weights

        return cls.from_checkpoint(default_fewshot_weights(), **kwargs)

    # ------------------------------------------------------------------ support
    @property
    def support_count(self) -> int:
        return len(self._supports)

    def set_support(self, images: Sequence[np.ndarray] | np.ndarray,
                    masks: Sequence[np.ndarray] | np.ndarray,
                    positions: Sequence[float] | None = None,
                    window: IntensityWindow | None = None) -> None:
        """Set the ``K >= 1`` support slices.

        Args:
            images: a sequence of slices (or an array whose first axis indexes slices); a
                single ``(H, W)`` array counts as ``K = 1``.
            masks: the matching ``(H, W)`` masks (nonzero = object).
            positions: optional z position of each support slice; queries given a position
                weigh nearer support slices more (``1 / (1 + |dz|)``).
            window: intensity window for all slices (default: from the support images).

        Raises:
            InvalidInputError: empty support, count or shape mismatch, NaN, no foreground in
                any mask, or no background in any mask.
        """
        imgs, binary = check_support(images, masks, positions, min_side=8)
        self.window = window if window is not None else support_window(imgs)
        self._supports = [self.summarize(self.encode(im), b, seed=i)
                          for i, (im, b) in enumerate(zip(imgs, binary, strict=True))]
        self._positions = None if positions is None else [float(p) for p in positions]

    # ------------------------------------------------------------------ prediction
    def predict(self, image: np.ndarray, position: float | None = None,
                neighbour: np.ndarray | None = None, key: Hashable | None = None) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] for the query ``image``.

        Args:
            image: the query slice ``(H, W)`` / ``(H, W, 3|4)``.
            position: its z position (weighs support slices by distance), or None.
            neighbour: optional ``(H, W)`` mask/probability of the object on the adjacent
                slice (the propagation prior).
            key: cache key of the encoded slice (e.g. its z index), or None.
        """
        if not self._supports:
            raise NotReadyError("no support set: call set_support(images, masks) first")
        image = check_slice(image, "query image", min_side=8)
        enc = self.encode(image, key)
        prior = None
        if neighbour is not None:
            nb = np.asarray(neighbour, dtype=np.float32)
            if nb.shape != enc.shape:
                raise InvalidInputError(
                    f"neighbour mask has shape {nb.shape}, the image has shape {enc.shape}")
            prior = enc.geometry.map_to_network(nb, self.device, pad=None)
        weights = distance_weights(self._positions, position, len(self._supports))
        return self.predict_encoded(enc, self._supports, weights, prior)

    def encode(self, image: np.ndarray, key: Hashable | None = None,
               window: IntensityWindow | None = None) -> EncodedSlice:
        """Encoder features of ``image`` under ``window`` (default: the support set's), cached
        under ``key`` and that window.

        Raises:
            NotReadyError: no ``window`` given and no support set yet.
        """
        window = window if window is not None else self.window
        if window is None:
            raise NotReadyError("no intensity window: call set_support(images, masks) first")
        return self.slices.encode_slice(image, (self.min_side, self.max_side), window=window,
                                        key=key, min_size=8)

    def summarize(self, support: EncodedSlice, mask: np.ndarray, seed: int = 0
                  ) -> SupportFeatures:
        """What the head keeps of one support slice: ``support`` encoded, ``mask`` ``(H, W)``
        (nonzero = object) at its source resolution."""
        m = support.geometry.map_to_network(mask != 0, self.device, pad=0.0)[0, 0]
        with torch.inference_mode():
            return self.head.summarize(support.feats.deep[0], support.feats.low[0], m,
                                       seed=seed)

    def predict_encoded(self, query: EncodedSlice, supports: Sequence[SupportFeatures],
                        weights: torch.Tensor, prior: torch.Tensor | None = None
                        ) -> np.ndarray:
        """Object probability ``(H, W)`` float32 in [0, 1] of an encoded query from support
        summaries (:meth:`summarize`) weighted by ``weights`` ``(K,)``; ``prior``: optional
        neighbour map ``(1, 1, H_pad, W_pad)`` on the network grid."""
        with torch.inference_mode(), autocast(self.device):
            logits = self.head(query.feats.deep, query.feats.low, [list(supports)], [weights],
                               prior=prior, image=query.grey)
        probs = query.geometry.from_network(logits.float(), torch.sigmoid)
        return probs[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)

    def clear_cache(self) -> None:
        """Forget all encoded slices."""
        self.slices.clear()
