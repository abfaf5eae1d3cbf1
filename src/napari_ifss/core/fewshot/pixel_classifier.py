"""Pixel classifiers fitted in seconds on a few annotated slices (per-volume learner).

Training pixels are sampled per support slice, class-balanced: up to ``n`` object pixels and
``n`` background pixels, a share ``near`` of the background from a band around the object
(hard negatives at its border), the rest anywhere. Each class gets the same total weight, so a
tiny object (a few pixels) still counts, but its pixels are never repeated to fill the quota.

Classifiers (all predict a probability map ``(H, W)`` float32 from features ``(H, W, F)``):

* ``mlp``: standardised features -> 64 ReLU -> 1 (torch, Adam, mini-batches, ~1 s).
* ``logreg``: standardised features -> logistic regression (torch, same loop, no hidden layer).
* ``rf``: scikit-learn random forest (the ilastik recipe's classifier).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy import ndimage as ndi

from ..errors import InvalidInputError
from .trunk_features import TrunkMaps

CLASSIFIERS = ("mlp", "logreg", "rf")


RowSource = np.ndarray | Callable[[np.ndarray], np.ndarray]


def sample_pixels(features: Iterable[RowSource], masks: Sequence[np.ndarray], n: int,
                  near: float, band: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X (N, F) float32, y (N,) float32 in {0, 1}, weight (N,) float32)`` from support
    features and bool masks ``(H, W)``; weights sum to 1 per class.

    Each item of ``features`` is a slice's ``(H, W, F)`` features, or a function giving the
    rows ``(N, F)`` of the flat pixel indices it is passed (so that a slice's full features
    need not exist at once); the pixels picked depend on the masks and ``rng`` only."""
    xs, ys = [], []
    for feats, mask in zip(features, masks, strict=True):
        m = np.asarray(mask, dtype=bool)
        if not callable(feats) and feats.shape[:2] != m.shape:
            raise InvalidInputError(f"features {feats.shape[:2]} and mask {m.shape} differ")
        fg = np.flatnonzero(m.ravel())
        bg = np.flatnonzero(~m.ravel())
        picks = [(_choose(fg, n, rng), 1.0)]
        if fg.size and near > 0:
            ring = ndi.binary_dilation(m, iterations=band) & ~m
            close = np.flatnonzero(ring.ravel())
            n_near = min(close.size, int(round(n * near)))
            picks.append((_choose(close, n_near, rng), 0.0))
            bg = np.setdiff1d(bg, close, assume_unique=True) if close.size < bg.size else bg
            picks.append((_choose(bg, n - n_near, rng), 0.0))
        else:
            picks.append((_choose(bg, n, rng), 0.0))
        idx = np.concatenate([i for i, _ in picks])
        xs.append(feats(idx) if callable(feats) else feats.reshape(-1, feats.shape[-1])[idx])
        ys += [np.full(i.size, label, np.float32) for i, label in picks]
    x = np.concatenate(xs).astype(np.float32, copy=False)
    y = np.concatenate(ys)
    if y.size == 0 or y.min() == y.max():
        raise InvalidInputError("the support slices need both object and background pixels")
    w = np.where(y > 0, 0.5 / (y > 0).sum(), 0.5 / (y == 0).sum()).astype(np.float32)
    return x, y, w


def _choose(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(idx, n, replace=False) if idx.size > n else idx


class PixelClassifier:
    """Object-vs-background classifier on per-pixel features.

    Args:
        kind: one of :data:`CLASSIFIERS`.
        hidden: MLP width; steps, batch, lr, weight_decay: the torch training loop.
        trees, depth: random-forest size.
        seed: torch / forest seed.
    """

    def __init__(self, kind: str = "mlp", hidden: int = 64, steps: int = 300,
                 batch: int = 2048, lr: float = 1e-2, weight_decay: float = 1e-4,
                 trees: int = 50, depth: int | None = 12, seed: int = 0) -> None:
        if kind not in CLASSIFIERS:
            raise InvalidInputError(f"classifier must be one of {CLASSIFIERS}; got {kind!r}")
        self.kind, self.hidden, self.steps, self.batch = kind, hidden, steps, batch
        self.lr, self.weight_decay, self.trees, self.depth = lr, weight_decay, trees, depth
        self.seed = seed
        self.model: object = None

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> PixelClassifier:
        """Train on samples ``x`` (N, F), labels ``y`` (N,) in {0, 1}, weights ``w`` (N,)."""
        if self.kind == "rf":
            from sklearn.ensemble import RandomForestClassifier

            self.model = RandomForestClassifier(n_estimators=self.trees, max_depth=self.depth,
                                                n_jobs=1, random_state=self.seed)
            self.model.fit(x, y.astype(np.uint8), sample_weight=w)
            return self
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        mean, std = xt.mean(0), xt.std(0).clamp_min(1e-4)
        f = x.shape[1]
        body = (torch.nn.Sequential(torch.nn.Linear(f, self.hidden), torch.nn.ReLU(),
                                    torch.nn.Linear(self.hidden, 1))
                if self.kind == "mlp" else torch.nn.Linear(f, 1))
        net = torch.nn.Sequential(_Standardise(mean, std), body)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        # draw mini-batches with probability ~ weight: each batch is class-balanced
        probs = torch.from_numpy(w / w.sum())
        # standardised once, not per batch (elementwise: the same numbers; no parameters)
        xs = net[0](xt)
        with torch.enable_grad():
            for _ in range(self.steps):
                idx = torch.multinomial(probs, min(self.batch, len(y) * 4), replacement=True,
                                        generator=gen)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    body(xs[idx])[:, 0], yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model = net.eval()
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Object probability ``(H, W)`` float32 from features ``(H, W, F)``."""
        if self.model is None:
            raise InvalidInputError("fit the classifier on support slices first")
        h, w, f = features.shape
        flat = features.reshape(-1, f)
        if self.kind == "rf":
            proba = self.model.predict_proba(flat)  # type: ignore[attr-defined]
            col = list(self.model.classes_).index(1)  # type: ignore[attr-defined]
            return proba[:, col].reshape(h, w).astype(np.float32)
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(np.ascontiguousarray(flat)))  # type: ignore[operator]
        return torch.sigmoid(logits[:, 0]).numpy().reshape(h, w)


    def logits_from_parts(self, shape: tuple[int, int], filters: torch.Tensor | None,
                          trunk: TrunkMaps | None) -> np.ndarray:
        """Object logits ``(H, W)`` float32 of the MLP / logistic model from features in parts
        (filters ``(H * W, F_f)`` then the trunk levels, the order the model was trained on).
        The standardisation and first linear layer run on each trunk level's own grid, before
        its (linear, weights summing to 1) resizes: the same numbers as on full-resolution
        features, without building them. The hidden maps are kept channels-last (pixels x
        hidden units), where torch's bilinear resize is several times faster than on
        channel-first maps."""
        if self.kind == "rf" or self.model is None:
            raise InvalidInputError("logits_from_parts needs a fitted mlp / logreg classifier")
        std, body = self.model[0], self.model[1]  # type: ignore[index]
        first = body[0] if isinstance(body, torch.nn.Sequential) else body
        weight = first.weight / std.std  # (hidden, F): standardisation folded in
        bias = first.bias - weight @ std.mean
        n_filters = 0 if filters is None else filters.shape[1]
        col = n_filters
        with torch.inference_mode():
            if trunk is not None:
                small = None
                for i, m in enumerate(trunk.maps):
                    c, h, w = m.shape
                    # (h * w, hidden) viewed as a channels-last (1, hidden, h, w) map; the
                    # bias joins the coarsest level (the resizes keep a constant)
                    flat = m.reshape(c, -1).T @ weight[:, col:col + c].T
                    if i == len(trunk.maps) - 1:
                        flat += bias
                    proj = trunk.on_base(i, flat.view(1, h, w, -1).permute(0, 3, 1, 2))
                    small = proj if small is None else small.add_(proj)
                    col += m.shape[0]
                # (1, hidden, H, W) channels-last -> (H * W, hidden), a view when not cropped
                hidden = trunk.to_source(small)[0].permute(1, 2, 0).reshape(-1, len(bias))
                if filters is not None:
                    hidden.addmm_(filters, weight[:, :n_filters].T)
            else:
                hidden = torch.addmm(bias, filters, weight.T)  # type: ignore[arg-type]
            if isinstance(body, torch.nn.Sequential):
                last = body[2]
                hidden = torch.addmm(last.bias, hidden.relu_(), last.weight.T)
        return hidden[:, 0].reshape(shape).numpy()


class _Standardise(torch.nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
