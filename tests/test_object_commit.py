"""What the Interactive dock's Commit writes (headless: no viewer)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_ifss._napari.object_commit import commit_id, commit_writes, drawn_slices
from napari_ifss.core.interactive.plane import Plane
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.interactive.session import SessionState


def _drawn(z: int, rows: slice, cols: slice, clicked: bool = True):
    prob = np.zeros((8, 8), np.float32)
    prob[rows, cols] = 0.9
    clicks = (Click(rows.start, cols.start, True),) if clicked else ()
    return SimpleNamespace(plane=Plane(3, (1, 2), ((0, z),))), SessionState(z, clicks, prob, 0.5)


def test_commit_fills_free_voxels_under_the_current_or_next_id():
    labels = np.zeros((3, 8, 8), np.uint16)
    labels[1, 0:2, 0:2] = 4  # another object, never overwritten
    states = [_drawn(1, slice(1, 4), slice(1, 4)), _drawn(2, slice(5, 7), slice(5, 7)),
              _drawn(0, slice(0, 8), slice(0, 8), clicked=False)]  # no prompt: not written
    assert len(drawn_slices(states)) == 2
    writes = commit_writes(states, labels, None, None)
    assert writes.label_id == 5 and writes.values == 5 and writes.slices == 2
    out = labels.copy()
    out[writes.idx] = writes.values
    assert out[1, 1, 1] == 4 and out[1, 2, 2] == 5 and out[2, 6, 6] == 5 and not out[0].any()
    assert (out == 5).sum() == 9 - 1 + 4
    assert commit_id(drawn_slices(states), labels, 2) == 2  # the current object continues
    assert commit_id(drawn_slices(states), out, 5) == 6  # already on a drawn slice: a new one
    assert commit_writes([states[2]], labels, None, None) is None
