"""Exemplar mode on one labelled image: instance recall/precision and the clicks it saves.

Per image (a ``(H, W)`` label map of instance ids, one per object):

* Exemplar: the object whose area is closest to the image's median object area (ties: the
  lowest id); exemplar mode gets its ground-truth mask as the only label.
* Detection: the found instances are matched one-to-one to the *other* objects (Hungarian
  matching on IoU, pairs with IoU >= 0.5 count): recall = matched / other objects,
  precision = matched / found instances.
* Clicks, with the robot user of :mod:`.clicker` and a click model in an
  :class:`~napari_ifss.core.interactive.session.InteractiveSession` (NoC at IoU 0.85, at most
  ``max_clicks`` per object; an object never reaching it costs ``max_clicks``):

  - alone: NoC of the exemplar + NoC of every other object, each from scratch;
  - with exemplar mode: NoC of the exemplar + for every other object 0 clicks when its
    matched instance already has IoU >= 0.85, else the robot's clicks to fix the instance
    (the session starts from it as the previous mask, the first click goes to the largest
    error region), or NoC from scratch when it has no matched instance; + 1 click per
    unmatched (false-positive) instance to delete it.

  When an image has more than ``click_objects`` other objects, the robot runs on a seeded
  sample of that many and the per-object mean times the number of other objects stands for
  their sum (an estimate; exact otherwise). Recall and precision always use every object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..core.errors import InvalidInputError
from ..core.exemplar.exemplar import ExemplarSettings, segment_all_like
from ..core.fewshot.fewshot import FewShotSegmenter
from ..core.interactive.session import InteractiveSession
from .clicker import first_click, next_click
from .metrics import iou

MATCH_IOU = 0.5
DONE_IOU = 0.85


def choose_exemplar(gt: np.ndarray) -> int:
    """The id of ``gt`` ``(H, W)`` whose area is closest to the median area (ties: lowest id).

    Raises:
        InvalidInputError: if ``gt`` holds no object.
    """
    areas = np.bincount(np.asarray(gt).ravel())
    ids = np.flatnonzero(areas)
    ids = ids[ids > 0]
    if ids.size == 0:
        raise InvalidInputError("the ground truth holds no object")
    return int(ids[np.argmin(np.abs(areas[ids] - np.median(areas[ids])))])


def match_instances(gt: np.ndarray, pred: np.ndarray, min_iou: float = MATCH_IOU
                    ) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(gt id, pred id, IoU)`` between two ``(H, W)`` label maps:
    Hungarian assignment maximising the summed IoU, pairs below ``min_iou`` dropped."""
    gt, pred = np.asarray(gt).astype(np.int64), np.asarray(pred).astype(np.int64)
    g_ids, p_ids = np.unique(gt[gt > 0]), np.unique(pred[pred > 0])
    if g_ids.size == 0 or p_ids.size == 0:
        return []
    both = (gt > 0) & (pred > 0)
    pairs, counts = np.unique(np.stack([gt[both], pred[both]]), axis=1, return_counts=True)
    inter = np.zeros((g_ids.size, p_ids.size))
    inter[np.searchsorted(g_ids, pairs[0]), np.searchsorted(p_ids, pairs[1])] = counts
    g_area = np.bincount(gt.ravel())[g_ids]
    p_area = np.bincount(pred.ravel())[p_ids]
    ious = inter / (g_area[:, None] + p_area[None, :] - inter)
    rows, cols = linear_sum_assignment(-ious)
    return [(int(g_ids[r]), int(p_ids[c]), float(ious[r, c]))
            for r, c in zip(rows, cols, strict=True) if ious[r, c] >= min_iou]


def robot_clicks(session: InteractiveSession, gt: np.ndarray, start: np.ndarray | None = None,
                 target: float = DONE_IOU, max_clicks: int = 20) -> int:
    """Clicks the robot needs until the session's mask reaches IoU ``target`` with ``gt``.

    The session must hold the image. Without ``start`` the object starts empty (first click
    at the object's interior point); with ``start`` ``(H, W)`` bool the session starts from it
    (:meth:`~napari_ifss.core.interactive.session.InteractiveSession.start_from_mask`) and costs 0 clicks
    if it already reaches ``target``. Returns ``max_clicks`` when ``target`` is never reached.
    """
    gt = np.asarray(gt, dtype=bool)
    session.reset()
    pred = np.zeros_like(gt)
    if start is not None:
        session.start_from_mask(start)
        pred = session.mask
        if iou(pred, gt) >= target:
            return 0
    clicks = []
    for k in range(1, max_clicks + 1):
        click = first_click(gt) if start is None and not clicks else next_click(gt, pred, clicks)
        if click is None:
            break
        clicks.append(click)
        pred = session.add_click(click.row, click.col, click.positive)
        if iou(pred, gt) >= target:
            return k
    return max_clicks


@dataclass(frozen=True)
class ImageResult:
    """Exemplar mode on one image.

    Attributes:
        item_id: the image; shape: its ``(H, W)``; exemplar_id / exemplar_area: which object.
        others: number of other objects; found: instances found; matched: one-to-one matches
            at IoU >= 0.5; done: matches already at IoU >= 0.85.
        matched_iou_mean: mean IoU of the matches (NaN without any).
        clicked: other objects the robot ran on (all, or the sample).
        exemplar_clicks: NoC@85 of the exemplar from scratch.
        clicks_alone, clicks_with: clicks for every object without / with exemplar mode
            (see the module docstring; estimates when ``clicked < others``).
        exemplar_s: wall time of exemplar mode; robot_s: of the robot sessions.
    """

    item_id: str
    shape: tuple[int, int]
    exemplar_id: int
    exemplar_area: int
    others: int
    found: int
    matched: int
    done: int
    matched_iou_mean: float
    clicked: int
    exemplar_clicks: int
    clicks_alone: float
    clicks_with: float
    exemplar_s: float
    robot_s: float

    @property
    def recall(self) -> float:
        return self.matched / self.others if self.others else float("nan")

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready, rounded."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["shape"] = list(self.shape)
        for k in ("matched_iou_mean", "clicks_alone", "clicks_with", "exemplar_s", "robot_s"):
            out[k] = round(float(out[k]), 4)
        out["recall"] = round(self.recall, 4) if self.others else None
        out["precision"] = round(self.precision, 4) if self.found else None
        return out


def _total(sample_clicks: list[int], n: int) -> float:
    """Clicks for all ``n`` objects from a sample's clicks (their mean times ``n``)."""
    return float(np.mean(sample_clicks)) * n if sample_clicks else 0.0


def run_image(item_id: str, image: np.ndarray, gt: np.ndarray, segmenter: FewShotSegmenter,
              session: InteractiveSession, settings: ExemplarSettings | None = None,
              click_objects: int = 10, max_clicks: int = 20, seed: int = 0) -> ImageResult:
    """Exemplar mode and the robot on one image ``(H, W[, 3])`` with ground truth ``gt``
    ``(H, W)`` instance ids (see the module docstring)."""
    gt = np.asarray(gt).astype(np.int64)
    ex = choose_exemplar(gt)
    labels = np.where(gt == ex, ex, 0).astype(np.int32)
    t0 = time.perf_counter()
    result = segment_all_like(image, labels, ex, segmenter=segmenter, settings=settings)
    exemplar_s = time.perf_counter() - t0
    others_gt = np.where(gt == ex, 0, gt)
    other_ids = np.unique(others_gt[others_gt > 0])
    matches = match_instances(others_gt, result.labels)
    by_gt = {g: (p, v) for g, p, v in matches}
    false_pos = result.count - len(matches)

    t0 = time.perf_counter()
    session.set_image(image, key=item_id)
    exemplar_clicks = robot_clicks(session, gt == ex, max_clicks=max_clicks)
    sample = other_ids
    if other_ids.size > click_objects:
        rng = np.random.default_rng([seed, sum(map(ord, item_id))])
        sample = np.sort(rng.choice(other_ids, click_objects, replace=False))
    alone, fixed = [], []
    for g in sample:
        mask = gt == g
        scratch = robot_clicks(session, mask, max_clicks=max_clicks)
        alone.append(scratch)
        if g not in by_gt:
            fixed.append(scratch)
        elif by_gt[g][1] >= DONE_IOU:
            fixed.append(0)
        else:
            fixed.append(robot_clicks(session, mask, result.labels == by_gt[g][0],
                                      max_clicks=max_clicks))
    robot_s = time.perf_counter() - t0
    n = int(other_ids.size)
    return ImageResult(
        item_id=item_id, shape=(int(gt.shape[0]), int(gt.shape[1])), exemplar_id=ex,
        exemplar_area=result.exemplar_area, others=n, found=result.count,
        matched=len(matches), done=sum(v >= DONE_IOU for _, _, v in matches),
        matched_iou_mean=float(np.mean([v for _, _, v in matches])) if matches else float("nan"),
        clicked=len(sample), exemplar_clicks=exemplar_clicks,
        clicks_alone=exemplar_clicks + _total(alone, n),
        clicks_with=exemplar_clicks + _total(fixed, n) + false_pos,
        exemplar_s=exemplar_s, robot_s=robot_s)
