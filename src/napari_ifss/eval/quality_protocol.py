"""JFS calibration protocol on volumes: score vs true Dice, arbitration, "annotate next".

Objects and support slices are the few-shot benchmark's (:func:`.fewshot_protocol.bench_objects`,
:func:`~napari_ifss.core.fewshot.support.evenly_spaced_slices`). Per object and K: propagate with the
few-shot model, score every propagated slice that holds a mask with JFS, and pair each score
with the slice's true Dice. Arbitration: on a few of those slices, the true mask competes with a
degraded one (eroded, shifted by 10% of the object's extent, or another object's mask) and JFS
must keep the true one. Volumes are ``(Z, Y, X)``; masks bool ``(Z, Y, X)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.fewshot.propagation import propagate
from ..core.fewshot.support import evenly_spaced_slices, object_slices
from ..core.quality.quality import arbitrate
from ..core.quality.quality_volume import next_slice, score_volume
from .fewshot_protocol import VolumeContext
from .metrics import dice

DEGRADATIONS = ("eroded", "shifted", "other_object")
ARBITRATION_SLICES = 6


def eroded(mask: np.ndarray) -> np.ndarray | None:
    """``mask`` ``(H, W)`` eroded by 15% of its equivalent radius (None if nothing is left)."""
    r = max(1, int(round(0.15 * np.sqrt(mask.sum() / np.pi))))
    out = ndi.binary_erosion(mask, iterations=r)
    return out if out.any() else None


def shifted(mask: np.ndarray) -> np.ndarray | None:
    """``mask`` moved down-right by 10% of its bounding box (at least 1 pixel), zero-filled."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    dy = max(1, int(round(0.1 * (np.ptp(rows) + 1))))
    dx = max(1, int(round(0.1 * (np.ptp(cols) + 1))))
    out = np.zeros_like(mask)
    out[dy:, dx:] = mask[:-dy, :-dx]
    return out if out.any() else None


def other_object(gt: np.ndarray, others: np.ndarray | None, z: int) -> np.ndarray | None:
    """Another object's mask on slice ``z`` (from ``others``, ``(Z, Y, X)`` int, largest id by
    area), else the object itself from the nearest slice at least 5 slices away."""
    if others is not None:
        ids, counts = np.unique(others[z][others[z] > 0], return_counts=True)
        if ids.size:
            return others[z] == ids[np.argmax(counts)]
    far = [w for w in object_slices(gt) if abs(w - z) >= 5]
    if not far:
        return None
    return gt[min(far, key=lambda w: (abs(w - z), w))]


@dataclass(frozen=True)
class QualitySetup:
    """How the protocol propagates and scores: ``method`` ``"learner"`` (the product's
    default) or ``"head"``, and the volume's ``(z, y, x)`` voxel ``spacing`` (used by the
    learner and by the score's distance in object widths)."""

    method: str = "learner"
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)


def _propagate(ctx: VolumeContext, labels: np.ndarray, seg: FewShotSegmenter,
               setup: QualitySetup) -> tuple[np.ndarray, float, int]:
    """Propagated object mask (bool), seconds, number of network-predicted slices."""
    out = labels.copy()
    t, n = time.perf_counter(), 0
    model = ({"method": "head", "segmenter": seg, "cache_prefix": ctx.name}
             if setup.method == "head" else {"method": "learner", "spacing": setup.spacing})
    for ev in propagate(ctx.image, labels, 1, out=out, window=ctx.window, **model):
        n += ev.predicted
    return out == 1, time.perf_counter() - t, n


def _score(ctx: VolumeContext, pred: np.ndarray, labels: np.ndarray, seg: FewShotSegmenter,
           setup: QualitySetup) -> tuple[dict, float]:
    t = time.perf_counter()
    events = list(score_volume(ctx.image, pred.astype(np.int32), labels, 1, seg,
                               window=ctx.window, cache_prefix=ctx.name,
                               spacing=setup.spacing))
    return {e.z: e.score for e in events}, time.perf_counter() - t


def _support_labels(gt: np.ndarray, sup: list[int]) -> np.ndarray:
    labels = np.zeros(gt.shape, np.int32)
    labels[sup] = gt[sup]
    return labels


def run_quality_case(ctx: VolumeContext, gt: np.ndarray, others: np.ndarray | None, k: int,
                     seg: FewShotSegmenter, setup: QualitySetup = QualitySetup()
                     ) -> dict | None:
    """Propagate ``gt`` from ``k`` evenly spaced slices, JFS-score the result, arbitrate.
    None when no slice outside the support shows the object."""
    present = object_slices(gt)
    sup = evenly_spaced_slices(present, k)
    if not set(present) - set(sup):
        return None
    labels = _support_labels(gt, sup)
    calls0 = seg.encoder_calls
    pred, t_prop, n_prop = _propagate(ctx, labels, seg, setup)
    calls1 = seg.encoder_calls
    scores, t_score = _score(ctx, pred, labels, seg, setup)  # warm: cached encodings
    calls2 = seg.encoder_calls
    seg.clear_cache()
    _, t_cold = _score(ctx, pred, labels, seg, setup)  # cold: every slice encoded again
    calls3 = seg.encoder_calls
    zs = sorted(scores)
    slices = [{"z": z, "score": scores[z].score, "badge": scores[z].badge,
               "back_iou": scores[z].back_iou, "distance": scores[z].distance,
               "widths": scores[z].widths,
               "size_ratio": scores[z].size_ratio, "dice": dice(pred[z], gt[z])} for z in zs]
    missed = [z for z in present if z not in sup and not pred[z].any()]
    arb = []
    with_obj = [z for z in zs if gt[z].any()]
    pick = [with_obj[i] for i in np.unique(np.linspace(0, len(with_obj) - 1, min(
        ARBITRATION_SLICES, len(with_obj))).round().astype(int))] if with_obj else []
    s_img, s_msk = [ctx.image[z] for z in sup], [gt[z] for z in sup]
    keys = [(ctx.name, z) for z in sup]
    for n, z in enumerate(pick):
        for d, make in enumerate((lambda z=z: eroded(gt[z]), lambda z=z: shifted(gt[z]),
                                  lambda z=z: other_object(gt, others, z))):
            bad = make()
            if bad is None or np.array_equal(bad, gt[z]):
                continue
            true_first = (n + d) % 2 == 0  # alternate sides: ties go to "a"
            a, b = (gt[z], bad) if true_first else (bad, gt[z])
            res = arbitrate(seg, ctx.image[z], a, b, s_img, s_msk, z, sup, window=ctx.window,
                            image_key=(ctx.name, z), support_keys=keys)
            arb.append({"z": z, "degradation": DEGRADATIONS[d], "margin": res.margin,
                        "correct": res.choice == ("a" if true_first else "b")})
    return {"support": sup, "slices": slices, "missed_slices": missed, "arbitration": arb,
            "propagation_s": t_prop, "propagated_slices": n_prop,
            "propagation_encoder_calls": calls1 - calls0,
            "scoring_s": t_score, "scored_slices": len(zs),
            "scoring_encoder_calls": calls2 - calls1, "scoring_cold_s": t_cold,
            "scoring_cold_encoder_calls": calls3 - calls2}


def _final_dice(pred: np.ndarray, gt: np.ndarray, annotated: list[int]) -> float:
    """Volume Dice of what the user ends up with: annotated slices hold the true mask."""
    out = pred.copy()
    out[annotated] = gt[annotated]
    return dice(out, gt)


def farthest_slice(present: Sequence[int], annotated: Sequence[int]) -> int:
    """Sequential even spacing: the object slice farthest from every annotated slice (the
    greedy k-centre step; ties go to the lower z). Knows the object's true z-extent."""
    zs = np.asarray(sorted(set(present) - set(annotated)), dtype=int)
    if zs.size == 0:
        raise ValueError("every slice of the object is annotated")
    dist = np.abs(zs[:, None] - np.asarray(list(annotated))[None, :]).min(axis=1)
    return int(zs[int(np.argmax(dist))])


def run_annotate_next(ctx: VolumeContext, gt: np.ndarray, seg: FewShotSegmenter,
                      extra: int = 2, random_seeds: int = 3,
                      setup: QualitySetup = QualitySetup()) -> dict | None:
    """From K = 1, add ``1..extra`` slices chosen from the JFS scores (:func:`next_slice`),
    by sequential even spacing (:func:`farthest_slice`, added to the same start), or at
    random within the object's extent; and, for reference, the fixed rule's K = 2, 3 evenly
    spaced slices placed afresh (the start slice may move). Final volume Dice for each
    budget. None when the object has fewer than ``extra + 2`` slices."""
    present = object_slices(gt)
    if len(present) < extra + 2:
        return None
    jfs = evenly_spaced_slices(present, 1)
    curves: dict[str, list[float]] = {"jfs_next": [], "farthest": [], "evenly_spaced": [],
                                      "random": []}
    far = list(jfs)
    run: Callable[[list[int]], np.ndarray] = lambda s: _propagate(  # noqa: E731
        ctx, _support_labels(gt, s), seg, setup)[0]
    for step in range(1, extra + 1):
        pred = run(jfs)
        scores, _ = _score(ctx, pred, _support_labels(gt, jfs), seg, setup)
        cand = {z: s for z, s in scores.items() if z not in jfs}
        jfs = sorted(jfs + [next_slice(cand, jfs) if cand else next(
            z for z in present if z not in jfs)])
        curves["jfs_next"].append(_final_dice(run(jfs), gt, jfs))
        far = sorted(far + [farthest_slice(present, far)])
        curves["farthest"].append(_final_dice(run(far), gt, far))
        even = evenly_spaced_slices(present, 1 + step)
        curves["evenly_spaced"].append(_final_dice(run(even), gt, even))
        vals = []
        for seed in range(random_seeds):
            rng = np.random.default_rng(seed)
            base = evenly_spaced_slices(present, 1)
            rest = [z for z in present if z not in base]
            sel = sorted(base + [int(z) for z in rng.choice(rest, step, replace=False)])
            vals.append(_final_dice(run(sel), gt, sel))
        curves["random"].append(float(np.mean(vals)))
    return {"jfs_support": jfs, **curves}
