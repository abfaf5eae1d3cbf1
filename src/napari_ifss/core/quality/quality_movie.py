"""JFS quality scores on a 3D movie ``(T, Z, Y, X)``, unit by unit as the run went.

A run along ``"z"`` followed each annotated time point through its slices, a run along
``"t"`` each z plane through time (:mod:`napari_ifss.core.fewshot.movie`); each such *unit*
is a stack of its own, scored as a stack is (:func:`~.quality_scan.plan_drawn`,
:func:`~.quality_scan.score_plan`) against the user's planes of that unit, under the window
of the whole movie (the run's) and the run's voxel size. Scores come back numbered as the
movie's planes, ``t * Z + z`` (:class:`~napari_ifss.core.planes.PlaneStack`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from ..fewshot.fewshot import FewShotSegmenter
from ..fewshot.movie import ALONG, movie_window, unit_of, unit_spacing
from ..normalize import IntensityWindow
from ..planes import PlaneStack, UnitPlanes
from .quality_scan import QualityProgress, ScoringPlan, plan_drawn, score_plan


@dataclass(frozen=True)
class MoviePlan:
    """What scoring a movie covers: ``units`` ``{unit: ScoringPlan}`` (time points along
    ``"z"``, z planes along ``"t"``), of a movie whose leading axes are ``lead`` ``(T, Z)``."""

    along: str
    lead: tuple[int, int]
    units: dict[int, ScoringPlan]

    @property
    def total(self) -> int:
        """Number of (plane, label id) pairs to score."""
        return sum(p.total for p in self.units.values())


def _views(movie: Any, labels_after: Any, user: Any, along: str, lead: tuple[int, int],
           unit: int) -> tuple[Any, UnitPlanes, UnitPlanes]:
    return (unit_of(movie, ALONG.index(along), unit),
            UnitPlanes(PlaneStack(labels_after), lead, along, unit),
            UnitPlanes(user, lead, along, unit))


def plan_movie(movie: Any, labels_after: Any, user: Any, along: str,
               label_ids: Iterable[int]) -> MoviePlan:
    """The planes to score for ``label_ids`` in each unit where the user drew them.

    Args:
        movie: ``(T, Z, Y, X)``, or :class:`~napari_ifss.core.channels.Channels` of such.
        labels_after: ``(T, Z, Y, X)`` the labels after the run.
        user: the user's planes, indexed by plane number (``(T * Z, Y, X)``, e.g.
            :func:`~napari_ifss.core.provenance.user_labels` of a
            :class:`~napari_ifss.core.planes.PlaneStack`).

    Raises:
        InvalidInputError: another ``along``, or labels that are not a movie.
    """
    if along not in ALONG:
        raise InvalidInputError(f"along must be 'z' or 't'; got {along!r}")
    lead = PlaneStack(labels_after).lead
    if len(lead) != 2:
        raise InvalidInputError(f"a movie's labels are (T, Z, Y, X); got shape "
                                f"{tuple(labels_after.shape)}")
    ids = [int(i) for i in label_ids]
    units = {}
    for unit in range(lead[0] if along == "z" else lead[1]):
        plan = plan_drawn(*_views(movie, labels_after, user, along, lead, unit), ids)
        if plan.total:
            units[unit] = plan
    return MoviePlan(along, lead, units)  # type: ignore[arg-type]


def score_movie(movie: Any, labels_after: Any, user: Any, plan: MoviePlan,
                segmenter: FewShotSegmenter | None = None, *,
                window: IntensityWindow | Sequence[IntensityWindow | None] | None = None,
                spacing: tuple[float, float, float] | None = None
                ) -> Iterator[QualityProgress]:
    """Score ``plan`` (a generator, as :func:`~.quality_scan.score_plan`), unit after unit;
    each :class:`QualityProgress` numbered as the movie's planes (its score's ``position``
    stays the unit's: distances count within the unit), ``done`` / ``total`` over the whole
    plan. ``window``: the run's (default :func:`movie_window`); ``spacing``: the
    movie's ``(z, y, x)`` voxel size (along time the in-plane size is the step)."""
    total = plan.total
    if total == 0:
        return
    seg = segmenter if segmenter is not None else FewShotSegmenter.default()
    window = window if window is not None else movie_window(movie)
    spacing = unit_spacing(spacing, plan.along)
    done = 0
    for unit, unit_plan in plan.units.items():
        volume, labels, mine = _views(movie, labels_after, user, plan.along, plan.lead, unit)
        for event in score_plan(volume, labels, mine, unit_plan, seg, window=window,
                                spacing=spacing):
            done += 1
            p = labels.number(event.z)
            yield QualityProgress(p, event.label_id, event.score, done, total)
