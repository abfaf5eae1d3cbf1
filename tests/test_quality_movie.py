"""JFS on a 3D movie: each unit the run went through is planned and scored as a stack, the
scores numbered as the movie's planes t * Z + z."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.planes import PlaneStack, UnitPlanes
from napari_ifss.core.provenance import record_states, user_labels
from napari_ifss.core.quality.quality_movie import plan_movie


def test_unit_planes_number_the_movie_planes():
    movie = np.arange(3 * 4 * 2 * 2).reshape(3, 4, 2, 2)
    planes = PlaneStack(movie)
    along_z = UnitPlanes(planes, (3, 4), "z", 1)  # time point 1: its 4 slices
    along_t = UnitPlanes(planes, (3, 4), "t", 2)  # z plane 2: its 3 time points
    assert along_z.shape == (4, 2, 2) and along_t.shape == (3, 2, 2) and len(along_t) == 3
    np.testing.assert_array_equal(along_z[3], movie[1, 3])
    np.testing.assert_array_equal(along_t[2], movie[2, 2])
    assert along_z.number(3) == 7 and along_t.number(2) == 10
    with pytest.raises(InvalidInputError, match="along 'z' or 't'"):
        UnitPlanes(planes, (3, 4), "x", 0)


def test_plan_movie_covers_the_units_the_user_drew_in():
    labels = np.zeros((4, 5, 8, 8), np.uint8)
    labels[1, :, 2:5, 2:5] = 1  # time point 1 filled through z (the user's for a run in t)
    labels[[0, 2, 3], 2, 2:5, 2:5] = 1  # what a run through time wrote on z plane 2
    image = np.random.default_rng(0).random(labels.shape).astype(np.float32)
    planes = PlaneStack(labels)
    record = record_states({}, planes, [0 * 5 + 2, 2 * 5 + 2, 3 * 5 + 2])  # the run's planes
    user, _ = user_labels(record, planes)
    plan = plan_movie(image, labels, user, "t", [1])
    assert set(plan.units) == {2} and plan.lead == (4, 5) and plan.total == 3
    assert plan.units[2].user == {1: (1,)} and plan.units[2].targets == {1: (0, 2, 3)}
    everything, _ = user_labels({}, planes)  # no record: every plane is the user's
    assert plan_movie(image, labels, everything, "z", [1]).total == 0
    with pytest.raises(InvalidInputError, match="along must be"):
        plan_movie(image, labels, user, "x", [1])
