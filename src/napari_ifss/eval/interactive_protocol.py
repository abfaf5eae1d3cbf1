"""Run one click segmenter on one object with the robot user, for up to ``max_clicks`` clicks.

Protocol (RITM-style): ``set_image`` once (timed as the encode time), then repeatedly: the robot
clicks (the first click at the object's interior point, then into the largest error region),
the segmenter predicts with all clicks so far and its own previous probability as feedback
(``predict`` timed alone, the seconds per click), and the prediction is thresholded at 0.5.

Early stop: once IoU >= ``stop_iou`` (0.90) *and* at least ``min_clicks`` (5) clicks were made,
the object is finished; the IoU curve is then reported as if the IoU stayed at its last value
for the remaining clicks (:func:`~.metrics.iou_at` does this). NoC@85/90 and NoF@90 are not
affected, since the thresholds were already reached; IoU@k for k after the stop assumes the
mask stays as it was (a user would stop clicking).

First prompt (``first_prompt``): ``"click"`` (above) or ``"box"``: the robot first drags the
object's bounding box, jittered as in training (:func:`~.clicker.robot_box`), and the model
predicts from the box alone; then it corrects with clicks into the largest error region, the box
passed along with every prediction as the session does. The box counts as prompt 1 (``ious[0]``
is the IoU after the box; NoC counts it as one click). Only segmenters with ``takes_boxes``
accept it (:func:`takes_boxes`).

Ignored pixels of the object (``EvalObject.ignore``, a benchmark's ignore band) are never
clicked and count in neither the intersection nor the union of IoU and boundary IoU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..core.errors import InvalidInputError
from ..core.protocols import ClickSegmenter
from .clicker import Clicker, ClickRule, robot_box
from .metrics import boundary_iou, iou, iou_at, noc, reached
from .objects import EvalObject

THRESHOLD = 0.5
FirstPrompt = Literal["click", "box"]


def takes_boxes(segmenter: ClickSegmenter) -> bool:
    """True when ``segmenter`` accepts a box as the first prompt (a net trained with boxes)."""
    return bool(getattr(segmenter, "takes_boxes", False))


@dataclass(frozen=True)
class ObjectResult:
    """The outcome of one robot session on one object.

    Attributes:
        method: segmenter name.
        uid, split, dataset: which object (see :class:`~.objects.EvalObject`).
        area: object area in pixels; shape: ``(H, W)`` of the slice.
        ious: IoU after each click made (``ious[k-1]`` after ``k`` clicks); shorter than
            ``max_clicks`` after an early stop or when the mask became perfect.
        boundary_ious: boundary IoU after click 1 and after click 5 (or the last click).
        clicks: the robot's clicks, ``(row, col, positive)``.
        encode_s: wall time of ``set_image``.
        predict_s: wall time of each ``predict`` call.
        max_clicks: the click budget.
        ignored: number of ignored pixels of the slice (left out of IoU, never clicked).
        box: the box ``(row0, col0, row1, col1)`` (pixel edges) dragged as prompt 1, or None
            when the first prompt was a click (then ``ious[k-1]`` is after ``k`` clicks;
            with a box, after the box and ``k - 1`` clicks).
    """

    method: str
    uid: str
    split: str
    dataset: str
    area: int
    shape: tuple[int, int]
    ious: tuple[float, ...]
    boundary_ious: tuple[float, float]
    clicks: tuple[tuple[float, float, bool], ...]
    encode_s: float
    predict_s: tuple[float, ...]
    max_clicks: int
    ignored: int = 0
    box: tuple[float, float, float, float] | None = None

    def noc(self, threshold: float) -> int:
        return noc(self.ious, threshold, self.max_clicks)

    def reached(self, threshold: float) -> bool:
        return reached(self.ious, threshold, self.max_clicks)

    def iou_at(self, k: int) -> float:
        return iou_at(self.ious, k)

    def to_dict(self) -> dict:
        """JSON-ready summary (rounded); ``ignored_px`` only when pixels were ignored."""
        out = {
            "method": self.method, "uid": self.uid, "split": self.split,
            "dataset": self.dataset, "area": self.area, "shape": list(self.shape),
            "ious": [round(v, 4) for v in self.ious],
            "boundary_iou@1": round(self.boundary_ious[0], 4),
            "boundary_iou@5": round(self.boundary_ious[1], 4),
            "noc@85": self.noc(0.85), "noc@90": self.noc(0.90),
            "reached@90": self.reached(0.90),
            "clicks": [[round(r, 1), round(c, 1), bool(p)] for r, c, p in self.clicks],
            "encode_ms": round(1000 * self.encode_s, 2),
            "predict_ms": [round(1000 * t, 1) for t in self.predict_s],
        }
        if self.ignored:
            out["ignored_px"] = self.ignored
        if self.box is not None:
            out["first_prompt"] = "box"
            out["box"] = [round(v, 1) for v in self.box]
        return out


def run_object(
    segmenter: ClickSegmenter, obj: EvalObject, method: str = "", max_clicks: int = 20,
    stop_iou: float | None = 0.90, min_clicks: int = 5, rule: ClickRule = "largest_region",
    first_prompt: FirstPrompt = "click", seed: int = 0,
) -> ObjectResult:
    """Simulate a user clicking on ``obj`` with ``segmenter`` (see the module docstring).

    Args:
        segmenter: any :class:`~napari_ifss.core.protocols.ClickSegmenter`.
        obj: the object (its slice and ground-truth mask).
        method: name recorded in the result.
        max_clicks: click budget (20 in the literature).
        stop_iou: early-stop IoU (None: always make ``max_clicks`` clicks).
        min_clicks: no early stop before this many clicks.
        rule: robot click rule (see :mod:`.clicker`).
        first_prompt: ``"click"`` or ``"box"`` (see the module docstring); the box counts
            as one of the ``max_clicks`` prompts.
        seed: fixes the box's jitter (with the object's uid).

    Raises:
        InvalidInputError: bad ``max_clicks`` or ``first_prompt``, or a box for a segmenter
            without box support.
    """
    if max_clicks < 1:
        raise InvalidInputError(f"max_clicks must be >= 1, got {max_clicks}")
    if first_prompt not in ("click", "box"):
        raise InvalidInputError(f"first_prompt must be 'click' or 'box', got {first_prompt!r}")
    if first_prompt == "box" and not takes_boxes(segmenter):
        raise InvalidInputError(f"method {method or segmenter!r} was not trained for box "
                                "prompts")
    gt, ignore = obj.mask, obj.ignore
    clicker = Clicker(gt, rule, ignore)
    t0 = time.perf_counter()
    segmenter.set_image(obj.image)
    encode_s = time.perf_counter() - t0

    prob: np.ndarray | None = None
    pred = np.zeros_like(gt)
    ious: list[float] = []
    times: list[float] = []
    b_ious: list[float] = []
    box = robot_box(clicker.gt, seed, obj.uid) if first_prompt == "box" else None
    for k in range(1, max_clicks + 1):
        if box is None or k > 1:
            click = clicker.click(pred, after_box=box is not None)
            if click is None:  # prediction already perfect: nothing left to click
                break
        t0 = time.perf_counter()
        if box is None:
            prob = segmenter.predict(list(clicker.clicks), prob)
        else:
            prob = segmenter.predict(list(clicker.clicks), prob, box=box)  # type: ignore[call-arg]
        times.append(time.perf_counter() - t0)
        pred = prob > THRESHOLD
        ious.append(iou(pred, gt, ignore))
        if k in (1, 5):
            b_ious.append(boundary_iou(pred, gt, ignore=ignore))
        if stop_iou is not None and k >= min_clicks and ious[-1] >= stop_iou:
            break
    if len(b_ious) < 2:  # stopped before click 5: the mask stays as it was
        b_ious.append(boundary_iou(pred, gt, ignore=ignore))
    return ObjectResult(
        method=method, uid=obj.uid, split=obj.split, dataset=obj.dataset, area=obj.area,
        shape=obj.shape, ious=tuple(ious), boundary_ious=(b_ious[0], b_ious[1]),
        clicks=tuple((c.row, c.col, c.positive) for c in clicker.clicks),
        encode_s=encode_s, predict_s=tuple(times), max_clicks=max_clicks,
        ignored=0 if ignore is None else int(np.count_nonzero(ignore)),
        box=None if box is None else (box.row0, box.col0, box.row1, box.col1))

