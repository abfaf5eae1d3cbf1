"""Per-volume few-shot learner: a pixel classifier fitted in seconds on the user's own support
slices, propagated slice by slice with the neighbour-slice prior.

Held out by construction: nothing is trained before the user annotates; the classifier sees only
the support slices of the volume it segments.

* Features per pixel (:class:`SliceFeatures`): scikit-image multiscale filter features
  (intensity, edges, texture at sigma 1..16, the ilastik / napari-convpaint recipe) and/or
  levels of the frozen ImageNet EfficientNet-Lite trunk (:mod:`.trunk_features`), small slices
  upsampled before the trunk.
* Classifier (:mod:`.pixel_classifier`): class-balanced pixel sample, MLP / logistic
  regression / random forest.
* Propagation (:meth:`VolumeLearner.propagate`): slices are visited outward from the supports;
  each slice's classifier logit gets a prior from the mask of the adjacent, already segmented
  slice (signed distance to it, :func:`neighbour_prior`). An empty neighbour mask gives a strong
  negative prior, so once a front finds no object it stops: beyond an object's end the output is
  empty. ``end_fraction`` also ends a front whose area collapses below that share of its
  neighbour's.

Volumes are ``(Z, Y, X)``, slices ``(H, W)`` (row, col); spacing is ``(z, y, x)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import ndimage as ndi

from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from .pixel_classifier import PixelClassifier, sample_pixels
from .trunk_features import TrunkFeatures
from .volume_features import SliceFeatures, filter_features

__all__ = ["LearnerConfig", "SliceFeatures", "VolumeLearner", "filter_features",
           "is_class_like", "neighbour_prior", "segment_labels", "visit_order"]

PRIORS = ("none", "soft", "gate", "auto")
# ``auto``: a support mask of at least CLASS_PARTS pieces (object components + enclosed
# background components) covering at least CLASS_FRACTION of the slice is a *class* (membranes,
# all nuclei), whose members appear and vanish anywhere: no neighbour prior. Otherwise ``soft``.
CLASS_PARTS = 8
CLASS_FRACTION = 0.1


@dataclass(frozen=True)
class LearnerConfig:
    """One design of the learner (what ``ifss bench fewshot --protocol lovo`` compares).

    Attributes:
        filters: use the multiscale filter features (sigma 1 .. ``sigma_max``).
        levels: trunk levels (empty: no trunk). Trunk input: a slice whose long side is below
            ``upsample_below`` is resized so that it lies in ``[min_side, max_side]`` (small
            slices upsampled: 100-px CT slices at 512 get stride-4 features about one source
            pixel apart), any other keeps its size up to ``max_side``
            (:meth:`side_range`).
        classifier: ``mlp``, ``logreg`` or ``rf``; samples: pixels per class and support slice;
            near: share of background sampled in a ``band``-pixel ring around the object.
        prior: ``none`` (no neighbour prior, every slice on its own), ``soft`` (logit +
            ``inside`` on the neighbour mask, 0 up to ``margin`` pixels outside, ``-strength``
            from ``2 * margin``, see :func:`neighbour_prior`) or ``gate`` (soft, and nothing
            beyond ``2 * margin``) or ``auto`` (``none`` for a class of many instances,
            :func:`is_class_like`, else ``soft``). ``margin`` grows with the z / in-plane spacing ratio as
            ``margin * max(1, sqrt(dz / dxy))``. With a prior, a slice after an empty one is
            empty (the front has ended).
        temperature: the classifier's logit is divided by it before the prior is added (an
            over-confident classifier would otherwise override any prior).
        end_fraction: a slice whose area is below this share of its neighbour's is empty.
        threshold: probability above which a pixel is the object.
    """

    filters: bool = True
    sigma_max: float = 16.0
    levels: tuple[str, ...] = ("c2", "c4", "c8", "c16")
    min_side: int = 512
    max_side: int = 512
    upsample_below: int = 256
    classifier: str = "mlp"
    samples: int = 4000
    near: float = 0.3
    band: int = 6
    prior: str = "auto"
    strength: float = 4.0
    inside: float = 1.0
    margin: float = 3.0
    temperature: float = 4.0
    end_fraction: float = 0.3
    threshold: float = 0.5
    seed: int = 0

    def side_range(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """The ``(min, max)`` long side of the trunk input for a slice of ``shape`` (H, W)."""
        if max(shape[:2]) < self.upsample_below:
            return self.min_side, max(self.min_side, self.max_side)
        return 32, self.max_side

    def __post_init__(self) -> None:
        if not self.filters and not self.levels:
            raise InvalidInputError("the learner needs filter features, trunk levels or both")
        if self.prior not in PRIORS:
            raise InvalidInputError(f"prior must be one of {PRIORS}; got {self.prior!r}")


def neighbour_prior(mask: np.ndarray, margin: float, strength: float, gate: bool,
                    sampling: tuple[float, float] = (1.0, 1.0), inside: float = 1.0
                    ) -> np.ndarray:
    """Logit offset ``(H, W)`` float32 from the neighbour slice's bool ``mask`` ``(H, W)``, by
    the distance ``d`` to the mask (pixels of the finer in-plane spacing): ``inside`` on the
    mask, 0 up to ``d = margin`` (the object may grow there if the classifier says so),
    falling linearly to ``-strength`` at ``d = 2 * margin`` and ``-strength`` beyond (``-inf``
    when ``gate``). No bonus outside the mask: with one, uncertain pixels next to it would be
    painted on every slice and masks would grow slice after slice. An empty mask gives
    ``-inf`` / ``-strength`` everywhere."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return np.full(m.shape, -np.inf if gate else -float(strength), np.float32)
    s = np.asarray(sampling, float) / min(sampling)
    d = ndi.distance_transform_edt(~m, sampling=s)
    out = (-strength * np.clip(d / margin - 1.0, 0.0, 1.0)).astype(np.float32)
    out[m] = inside
    if gate:
        out[d > 2 * margin] = -np.inf
    return out


def is_class_like(masks: list[np.ndarray]) -> bool:
    """Whether support masks ``(H, W)`` look like a class of many instances rather than one
    object (see :data:`CLASS_PARTS`, :data:`CLASS_FRACTION`; means over the masks)."""
    parts, share = [], []
    for mask in masks:
        m = np.asarray(mask, bool)
        parts.append(ndi.label(m)[1] + max(0, ndi.label(~m)[1] - 1))
        share.append(m.mean())
    return float(np.mean(parts)) >= CLASS_PARTS and float(np.mean(share)) >= CLASS_FRACTION


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float32)))).astype(np.float32)


def visit_order(depth: int, supports: list[int]) -> list[tuple[int, int]]:
    """``(z, neighbour z)`` for every non-support slice, outward from the supports: each slice
    after the adjacent slice (toward its nearest support, lower z on ties) it takes its prior
    from."""
    sup = np.asarray(sorted(supports))
    order = []
    for z in range(depth):
        if z in supports:
            continue
        near = int(sup[np.argmin(np.abs(sup - z))])
        order.append((abs(z - near), z, z - 1 if near < z else z + 1))
    return [(z, nb) for _, z, nb in sorted(order)]


class VolumeLearner:
    """Fit on the support slices of one object, then segment the other slices.

    Args:
        features: the volume's :class:`SliceFeatures`.
        cfg: the design.
        spacing: ``(z, y, x)`` voxel spacing (only ratios matter).
    """

    def __init__(self, features: SliceFeatures, cfg: LearnerConfig | None = None,
                 spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        self.features, self.cfg = features, cfg or LearnerConfig()
        sz, sy, sx = (float(s) for s in spacing)
        if min(sz, sy, sx) <= 0 or not np.all(np.isfinite([sz, sy, sx])):
            raise InvalidInputError(f"spacing must be positive and finite; got {spacing}")
        self.sampling = (sy, sx)
        self.margin = self.cfg.margin * max(1.0, float(np.sqrt(sz / min(sy, sx))))
        self.clf: PixelClassifier | None = None
        self.prior = self.cfg.prior  # "auto" is resolved by :meth:`fit`

    def fit(self, support: Mapping[int, np.ndarray]) -> VolumeLearner:
        """Train on ``{z: bool mask (H, W)}`` (at least one slice with object and background)."""
        if not support:
            raise InvalidInputError("the learner needs at least one annotated slice")
        cfg = self.cfg
        zs = sorted(support)
        # the sampled pixels' rows are gathered from the trunk's (C, H, W) map, one support
        # slice at a time, without the (H, W, F) copy and concatenation of
        # :meth:`SliceFeatures.slice` (the same rows; fit peak 3.2 -> 1.5 GB at 1024 x 1024)
        x, y, w = sample_pixels([partial(self.features.rows, z, cfg) for z in zs],
                                [support[z] for z in zs], cfg.samples, cfg.near, cfg.band,
                                np.random.default_rng(cfg.seed))
        self.clf = PixelClassifier(cfg.classifier, seed=cfg.seed).fit(x, y, w)
        self.prior = cfg.prior
        if cfg.prior == "auto":
            self.prior = "none" if is_class_like([support[z] for z in zs]) else "soft"
        return self

    def logits(self, z: int) -> np.ndarray:
        """Classifier logits ``(H, W)`` float32 of slice ``z`` (no prior); the MLP / logistic
        models run on the trunk's small grid first (:meth:`PixelClassifier.logits_from_parts`)."""
        if self.clf is None:
            raise InvalidInputError("fit the learner on support slices first")
        if self.clf.kind == "rf":
            p = np.clip(self.clf.predict_proba(self.features.slice(z, self.cfg)), 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p)).astype(np.float32)
        parts = self.features.parts(z, self.cfg)
        return self.clf.logits_from_parts(parts.shape, parts.filters, parts.trunk)

    def probability(self, z: int) -> np.ndarray:
        """Classifier probability ``(H, W)`` float32 of slice ``z`` (no prior)."""
        return _sigmoid(self.logits(z))

    def segment_slice(self, z: int, neighbour: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``(bool mask, probability)`` of slice ``z`` given the neighbour's mask (or None)."""
        cfg, prior = self.cfg, self.prior
        if prior != "none" and neighbour is not None and not neighbour.any():
            # the front found no object on the previous slice: it has ended
            return np.zeros(neighbour.shape, bool), np.zeros(neighbour.shape, np.float32)
        logit = self.logits(z)
        if prior != "none" and neighbour is not None:
            logit = logit / cfg.temperature + neighbour_prior(
                neighbour, self.margin, cfg.strength, prior == "gate", self.sampling,
                cfg.inside)
        p = _sigmoid(logit)
        mask = p > cfg.threshold
        if prior != "none" and neighbour is not None and cfg.end_fraction > 0 and \
                mask.sum() < cfg.end_fraction * np.count_nonzero(neighbour):
            mask[:] = False
        return mask, p

    def propagate(self, support: Mapping[int, np.ndarray], depth: int, fitted: bool = False
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Fit on ``support`` (unless ``fitted``: :meth:`fit` already ran on it) and yield
        ``(z, bool mask (H, W), probability (H, W))`` for every other slice of
        ``range(depth)``, outward from the supports."""
        if not fitted or self.clf is None:
            self.fit(support)
        done: dict[int, np.ndarray] = {z: np.asarray(m, bool) for z, m in support.items()}
        for z, nb in visit_order(depth, list(support)):
            prior = done[nb]
            other = z + (z - nb)  # where two fronts meet, the other side is done too
            if other in done and 0 <= other < depth:
                prior = prior | done[other]
            mask, p = self.segment_slice(z, prior)
            done[z] = mask
            yield z, mask, p

    def segment(self, support: Mapping[int, np.ndarray], depth: int) -> np.ndarray:
        """Bool ``(Z, H, W)``: the supports as given, every other slice propagated."""
        first = np.asarray(next(iter(support.values())))
        out = np.zeros((depth, *first.shape[:2]), bool)
        for z, m in support.items():
            out[z] = m
        for z, mask, _ in self.propagate(support, depth):
            out[z] = mask
        return out


def segment_labels(volume: object, labels: object, label_ids: int | list[int] | None = None,
                   cfg: LearnerConfig | None = None,
                   spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   window: IntensityWindow | None = None,
                   trunk: TrunkFeatures | None = None) -> np.ndarray:
    """Int32 ``(Z, Y, X)``: ``labels`` with each id in ``label_ids`` (default all) propagated by
    its own learner from the slices that show it. Slices holding any user label are kept as
    they are; where two ids claim a voxel the more probable one takes it."""
    from ..encoding import slices_window
    from .support import index_labels, resolve_label_ids

    index = index_labels(labels)
    ids = resolve_label_ids(index, label_ids)
    depth = index.depth
    out = np.stack([np.asarray(labels[z], np.int32) for z in range(depth)])  # type: ignore[index]
    if window is None:
        picks = np.unique(np.linspace(0, depth - 1, min(depth, 8)).round().astype(int))
        window = slices_window([np.asarray(volume[z]) for z in picks])  # type: ignore[index]
    feats = SliceFeatures(volume, window, trunk)
    best = np.zeros(out.shape, np.float16)
    for i in ids:
        support = {z: out[z] == i for z in index.slices_of[i]}
        learner = VolumeLearner(feats, cfg, spacing)
        for z, mask, p in learner.propagate(support, depth):
            if z in index.annotated:
                continue
            take = mask & ((out[z] == 0) | (p > best[z]))
            out[z][take] = i
            best[z][take] = p[take]
    return out
