"""Apply mode: one annotated image (the support set) segments every slice of other volumes.

Cross-image few-shot: the annotated slices of the support image are the support of
:class:`~napari_ifss.core.fewshot.fewshot.FewShotSegmenter` (no z weighting: the query is another
volume), and every slice of each input is a query. Each image keeps its own intensity window
(from a few evenly spaced slices, as propagation does), so a batch whose stacks differ in
brightness is normalised per stack. Label ids are segmented in order; a voxel taken by an
earlier id keeps it.

Each query slice is encoded once; the same encoding serves the prediction of every label id
and its JFS score (:func:`cross_jfs_score`): the result slice, as support, must segment the
support image's annotated slices the way the user did (back-prediction IoU), times the size
factor of :mod:`.quality`, with areas compared as fractions of the slice. There is no
distance factor (no z relation between images), so apply-mode scores run higher than
propagation's for the same quality; the badge thresholds were calibrated on propagation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..normalize import IntensityWindow
from ..quality.quality import PROB_THRESHOLD, QualityScore, SupportEvidence, badge_for, size_factor


@dataclass(frozen=True, eq=False)
class SupportSet:
    """The annotated slices of the support image: ``images[i]`` is slice ``zs[i]`` with labels
    ``labels[i]``; ``window`` is the support image's intensity window; ``sha256`` identifies
    the image and labels files."""

    images: tuple[np.ndarray, ...]
    labels: tuple[np.ndarray, ...]
    zs: tuple[int, ...]
    label_ids: tuple[int, ...]
    window: IntensityWindow
    sha256: str
    source: str


@dataclass(frozen=True, eq=False)
class EncodedSupport:
    """One label id's support, encoded by one model: head summaries, encoded slices and masks
    (for JFS), and the mean object area as a fraction of the slice."""

    summaries: tuple[Any, ...]
    encoded: tuple[Any, ...]
    masks: tuple[np.ndarray, ...]
    zs: tuple[int, ...]
    area: float


def read_support(image: Path, labels: Path, label_ids: tuple[int, ...] | None) -> SupportSet:
    """Read the support image and its labels; keep only the annotated slices.

    Raises:
        ReadError, InvalidInputError: unreadable files, no annotation, an id drawn over whole
            slices (no background), an id not drawn.
    """
    from ..fewshot.support import index_labels, resolve_label_ids
    from ..fewshot.volume_io import read_slice, sample_window
    from .batch_volume import open_labels, open_volume, tree_sha256

    volume = open_volume(image)
    lab = open_labels(labels, tuple(volume.data.shape))
    index = index_labels(lab)
    ids = resolve_label_ids(index, label_ids)
    zs = tuple(sorted({z for i in ids for z in index.slices_of[i]}))
    slices = tuple(np.asarray(lab[z]) for z in zs)
    for i in ids:
        if all((s == i).all() for s in slices if (s == i).any()):
            raise InvalidInputError(f"support label {i} covers every slice it is drawn on: "
                                    "some background is needed")
    return SupportSet(tuple(read_slice(volume.data, z) for z in zs), slices, zs, tuple(ids),
                      sample_window(volume.data),
                      tree_sha256(image) + "+" + tree_sha256(labels), str(image))


def encode_support(segmenter: Any, support: SupportSet) -> dict[int, EncodedSupport]:
    """Encode the support slices once and summarise each label id's masks."""
    encoded = [segmenter.encode(im, window=support.window) for im in support.images]
    out: dict[int, EncodedSupport] = {}
    for label_id in support.label_ids:
        idx = [k for k, lab in enumerate(support.labels) if (lab == label_id).any()]
        masks = tuple(support.labels[k] == label_id for k in idx)
        summaries = tuple(segmenter.summarize(encoded[k], m, seed=n)
                          for n, (k, m) in enumerate(zip(idx, masks, strict=True)))
        out[label_id] = EncodedSupport(summaries, tuple(encoded[k] for k in idx), masks,
                                       tuple(support.zs[k] for k in idx),
                                       float(np.mean([m.mean() for m in masks])))
    return out


def cross_jfs_score(segmenter: Any, query: Any, mask: np.ndarray, support: EncodedSupport,
                    position: float | None = None) -> QualityScore:
    """JFS of ``mask`` on the encoded ``query`` slice against another image's support."""
    import torch

    if not mask.any() or mask.all():
        why = "the result mask is empty" if not mask.any() else "the mask covers the slice"
        return QualityScore(0.0, badge_for(0.0), (), why, position)
    summary = segmenter.summarize(query, mask)
    k = len(support.masks)
    evidence = []
    for i, (enc, m) in enumerate(zip(support.encoded, support.masks, strict=True)):
        back = segmenter.predict_encoded(enc, [summary], torch.ones(1)) > PROB_THRESHOLD
        union = np.count_nonzero(back | m)
        iou = 1.0 if union == 0 else np.count_nonzero(back & m) / union
        evidence.append(SupportEvidence(i, float(support.zs[i]), float(iou), 1.0 / k))
    back_iou = float(np.mean([e.iou for e in evidence]))
    area = float(mask.mean())
    ratio = min(area, support.area) / max(area, support.area) if support.area > 0 else 0.0
    score = back_iou * size_factor(ratio)
    worst = min(evidence, key=lambda e: e.iou)
    reason = (f"cross-image back-prediction IoU {back_iou:.2f} over {k} support slice(s), "
              f"lowest {worst.iou:.2f} on support slice {worst.position:g}")
    if ratio < 0.5:
        reason += f"; area {area / max(support.area, 1e-12):.0%} of the support's"
    return QualityScore(score, badge_for(score), tuple(evidence), reason, position, back_iou,
                        None, None, ratio)


def apply_volume(segmenter: Any, support: dict[int, EncodedSupport], volume: Any, out: Any,
                 threshold: float, on_slice: Callable[[int, int], None] | None = None
                 ) -> dict[int, dict[int, QualityScore]]:
    """Segment every slice of ``volume`` into ``out`` (slice by slice) and score each label
    id on each slice where it was found: ``{label_id: {z: QualityScore}}``."""
    from ...models.fewshot_head import distance_weights
    from ..fewshot.volume_io import read_slice, sample_window

    window = sample_window(volume)
    weights = {i: distance_weights(None, None, len(s.summaries)) for i, s in support.items()}
    scores: dict[int, dict[int, QualityScore]] = {i: {} for i in support}
    depth = int(volume.shape[0])
    dtype = np.dtype(out.dtype)
    for z in range(depth):
        query = segmenter.encode(read_slice(volume, z), window=window)
        labels = np.zeros(query.shape, dtype=dtype)
        for label_id, sup in support.items():
            prob = segmenter.predict_encoded(query, list(sup.summaries), weights[label_id])
            mask = (prob > threshold) & (labels == 0)
            labels[mask] = label_id
            if mask.any():
                scores[label_id][z] = cross_jfs_score(segmenter, query, mask, sup, float(z))
        out[z] = labels
        if on_slice is not None:
            on_slice(z + 1, depth)
    return scores
