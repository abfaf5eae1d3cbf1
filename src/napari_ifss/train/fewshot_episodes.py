"""Episodes for training the few-shot head: support and query from the same group.

An episode picks a group of the :class:`~.fewshot_pool.Pool`, an object of that group, a query
member and ``K`` in 1..3 support members showing the object. In volumes, the support slices are
weighted by z distance as at inference and, with probability ``p_prior``, the ground truth of
the slice adjacent to the query (on the side of the nearest support) is the neighbour prior,
slightly dilated, eroded or shifted, as propagation errors would be. With probability
``p_outside`` the query is a slice just past the object's end (target empty), so the head learns
to let a front die. Queries are cropped to ``crop`` network pixels (features at 1/4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..models.fewshot_head import FewShotHead, distance_weights
from ..models.fewshot_prototypes import SupportFeatures
from .fewshot_pool import MIN_OBJECT_PIXELS, Group, Pool

STRIDE = 4


@dataclass
class Batch:
    """A training batch. Tensors at crop size ``S`` (features at ``S/4`` and ``S/2``)."""

    deep: torch.Tensor       # (B, C, S/4, S/4)
    low: torch.Tensor        # (B, C_low, S/2, S/2)
    target: torch.Tensor     # (B, 1, S, S) float 0/1
    valid: torch.Tensor      # (B, 1, S, S) float 0/1 (0 = padding)
    image: torch.Tensor      # (B, 1, S, S) grey network input
    supports: list[list[SupportFeatures]]
    weights: list[torch.Tensor]
    prior: torch.Tensor      # (B, 1, S, S)
    has_prior: torch.Tensor  # (B,)


class EpisodeSampler:
    """Draws episodes from ``pool`` (support summaries computed by ``head``, cached)."""

    def __init__(self, pool: Pool, head: FewShotHead, rng: np.random.Generator,
                 crop: int = 256, p_prior: float = 0.7, p_outside: float = 0.1) -> None:
        self.pool, self.head, self.rng = pool, head, rng
        self.crop, self.p_prior, self.p_outside = crop, p_prior, p_outside
        self._summary: dict[tuple[int, int, int], SupportFeatures] = {}
        self._present: dict[tuple[int, int], list[int]] = {}
        self.choices = [(g, o) for g, grp in enumerate(pool.groups) for o in grp.objects
                        if len(self.present(g, o)) >= 2]
        if not self.choices:
            raise ValueError("no group has an object on two or more slices")

    def present(self, g: int, obj: int) -> list[int]:
        """Members of group ``g`` showing ``obj`` (cached)."""
        key = (g, obj)
        if key not in self._present:
            grp = self.pool.groups[g]
            self._present[key] = [i for i in range(len(grp.members))
                                  if grp.mask(i, obj).sum() >= MIN_OBJECT_PIXELS]
        return self._present[key]

    def summary(self, g: int, i: int, obj: int) -> SupportFeatures:
        key = (g, i, obj)
        if key not in self._summary:
            grp = self.pool.groups[g]
            deep = self.pool.deep[grp.members[i]].float()
            low = self.pool.low[grp.members[i]].float()
            mask = torch.from_numpy(grp.mask(i, obj).astype(np.float32))
            with torch.no_grad():
                self._summary[key] = self.head.summarize(deep, low, mask, seed=i)
        return self._summary[key]

    def episode(self) -> tuple[int, np.ndarray, np.ndarray, list[SupportFeatures],
                               torch.Tensor, np.ndarray | None]:
        """``(pool index, target (H, W) bool, valid, supports, weights, prior or None)``."""
        rng = self.rng
        g, obj = self.choices[int(rng.integers(len(self.choices)))]
        grp = self.pool.groups[g]
        present = self.present(g, obj)
        q = self._query(grp, present)
        others = [i for i in present if i != q]
        k = int(min(rng.integers(1, 4), len(others)))
        sup = sorted(int(i) for i in rng.choice(others, size=k, replace=False))
        pos = None if grp.positions is None else [grp.positions[i] for i in sup]
        qpos = None if grp.positions is None else grp.positions[q]
        weights = distance_weights(pos, qpos, k)
        prior = None
        if grp.positions is not None and rng.random() < self.p_prior:
            nearest = min(sup, key=lambda i: abs(grp.positions[i] - qpos))
            n = q + (1 if nearest > q else -1)
            if 0 <= n < len(grp.members) and abs(grp.positions[n] - qpos) == 1:
                prior = self._perturb(grp.mask(n, obj))
        target = grp.mask(q, obj)
        return (grp.members[q], target, grp.labels[q] >= 0,
                [self.summary(g, i, obj) for i in sup], weights, prior)

    def _query(self, grp: Group, present: list[int]) -> int:
        rng = self.rng
        if grp.positions is not None and rng.random() < self.p_outside:
            lo, hi = min(present), max(present)
            outside = [i for i in (lo - 1, lo - 2, hi + 1, hi + 2) if 0 <= i < len(grp.members)]
            if outside:
                return int(rng.choice(outside))
        return int(rng.choice(present))

    def _perturb(self, mask: np.ndarray) -> np.ndarray:
        rng = self.rng
        r = int(rng.integers(-2, 3))
        if r > 0:
            mask = ndimage.binary_dilation(mask, iterations=r)
        elif r < 0:
            mask = ndimage.binary_erosion(mask, iterations=-r)
        shift = rng.integers(-3, 4, size=2)
        return np.roll(mask, tuple(int(s) for s in shift), axis=(0, 1)).astype(np.float32)

    def batch(self, n: int) -> Batch:
        """``n`` episodes cropped to ``crop x crop`` network pixels around the object."""
        s, f = self.crop, self.crop // STRIDE
        c = self.pool.deep[0].shape[0]
        cl = self.pool.low[0].shape[0]
        deep = torch.zeros(n, c, f, f)
        low = torch.zeros(n, cl, 2 * f, 2 * f)
        target = torch.zeros(n, 1, s, s)
        valid = torch.zeros(n, 1, s, s)
        image = torch.zeros(n, 1, s, s)
        prior = torch.zeros(n, 1, s, s)
        has_prior = torch.zeros(n)
        supports, weights = [], []
        for b in range(n):
            idx, tgt, val, sup, w, pri = self.episode()
            h, w_ = self.pool.deep[idx].shape[-2:]
            r0, c0 = self._corner(tgt, (h, w_), f)
            hh, ww = min(f, h - r0), min(f, w_ - c0)
            deep[b, :, :hh, :ww] = self.pool.deep[idx][:, r0:r0 + hh, c0:c0 + ww].float()
            low[b, :, :2 * hh, :2 * ww] = self.pool.low[idx][
                :, 2 * r0:2 * (r0 + hh), 2 * c0:2 * (c0 + ww)].float()
            box = np.s_[4 * r0:4 * (r0 + hh), 4 * c0:4 * (c0 + ww)]
            target[b, 0, :4 * hh, :4 * ww] = torch.from_numpy(tgt[box].astype(np.float32))
            valid[b, 0, :4 * hh, :4 * ww] = torch.from_numpy(val[box].astype(np.float32))
            image[b, 0, :4 * hh, :4 * ww] = self.pool.image[idx][0][box].float()
            if pri is not None:
                prior[b, 0, :4 * hh, :4 * ww] = torch.from_numpy(pri[box])
                has_prior[b] = 1.0
            supports.append(sup)
            weights.append(w)
        return Batch(deep, low, target, valid, image, supports, weights, prior, has_prior)

    def _corner(self, target: np.ndarray, shape: tuple[int, int], f: int) -> tuple[int, int]:
        """Top-left feature pixel of the crop: around a random object pixel (80 %) or random."""
        h, w = shape
        rng = self.rng
        rows, cols = np.nonzero(target)
        if rows.size and rng.random() < 0.8:
            j = int(rng.integers(rows.size))
            cr, cc = rows[j] // STRIDE, cols[j] // STRIDE
            r0 = int(cr - rng.integers(f // 4, 3 * f // 4 + 1))
            c0 = int(cc - rng.integers(f // 4, 3 * f // 4 + 1))
        else:
            r0, c0 = int(rng.integers(0, max(1, h - f + 1))), int(rng.integers(0, max(1, w - f + 1)))
        return int(np.clip(r0, 0, max(0, h - f))), int(np.clip(c0, 0, max(0, w - f)))
