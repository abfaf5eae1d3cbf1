"""The robot user during training: the benchmark's robot (:mod:`napari_ifss.eval.clicker`)
on numpy masks, with clicks as ``(row, col, label)`` tuples for the network's point tensor.

Training and benchmarks simulate the same user: next clicks come from
:func:`napari_ifss.eval.clicker.next_click` with rule :data:`TRAINING_RULE` (RITM's: the deeper
of the whole false-negative and false-positive masks wins; a pixel clicked before is never
clicked again), boxes from :func:`napari_ifss.eval.clicker.jittered_box`. The one difference is
the first click: training draws it at random among the object's deep interior pixels (so the
model sees varied first clicks), where the benchmark's robot takes the deepest one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.interactive.prompts import Click
from ..eval.clicker import ClickRule, interior_distance
from ..eval.clicker import next_click as robot_next_click

# RITM trains with this rule; the benchmarks' default is "largest_region" (see eval/clicker.py).
TRAINING_RULE: ClickRule = "ritm"

ClickTuple = tuple[int, int, int]


def first_click(mask: np.ndarray, rng: np.random.Generator) -> ClickTuple:
    """``(row, col, 1)`` inside the non-empty bool ``mask`` ``(H, W)``, away from its border:
    a random pixel whose distance to the border (the image edge counts as border) is at least
    a random 30-90 % of the largest.

    Raises:
        ValueError: an empty mask.
    """
    dist = interior_distance(mask)
    peak = dist.max()
    if peak <= 0:
        raise ValueError("cannot place a click in an empty mask")
    candidates = np.argwhere(dist >= peak * rng.uniform(0.3, 0.9))
    r, c = candidates[rng.integers(len(candidates))]
    return int(r), int(c), 1


def next_click(gt: np.ndarray, pred: np.ndarray, clicks: Sequence[ClickTuple] = ()
               ) -> ClickTuple | None:
    """The robot's next click ``(row, col, label)`` on ``pred`` against ``gt`` (both bool
    ``(H, W)``) after ``clicks``, or None when there is no error left to click."""
    done = [Click(float(r), float(c), bool(label)) for r, c, label in clicks]
    click = robot_next_click(gt, pred, done, rule=TRAINING_RULE)
    if click is None:
        return None
    return int(click.row), int(click.col), int(click.positive)


def points_tensor(clicks: list[list[ClickTuple]]) -> np.ndarray:
    """Per-sample click lists -> ``(B, N, 3)`` float32 padded with label -1 (rows (r, c, label))."""
    n = max(1, max(len(c) for c in clicks))
    out = np.full((len(clicks), n, 3), -1.0, dtype=np.float32)
    for i, cl in enumerate(clicks):
        if cl:
            out[i, : len(cl)] = np.asarray(cl, dtype=np.float32)
    return out
