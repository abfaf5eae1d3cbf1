"""Paired differences between two click methods on the same objects, with bootstrap intervals.

Every method of a benchmark run clicks on the same objects, so the fair comparison of two
methods is per object: ``d = metric(method) - metric(reference)`` (for NoC, negative means the
method needs fewer clicks). The mean of ``d`` comes with a percentile bootstrap interval over
objects, which says whether a gap of a fraction of a click is more than the luck of the draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_interval(values: Sequence[float] | np.ndarray, n_boot: int = 5000, seed: int = 0,
                  level: float = 0.95, rng: np.random.Generator | None = None
                  ) -> tuple[float, float]:
    """The percentile bootstrap interval ``(lo, hi)`` of the mean of ``values`` (resampled
    ``n_boot`` times with ``rng``, default a generator seeded with ``seed``)."""
    v = np.asarray(values, dtype=float)
    rng = rng if rng is not None else np.random.default_rng(seed)
    boot = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def interval_text(values: Sequence[float] | np.ndarray, n_boot: int = 2000,
                  signed: bool = False) -> str:
    """``"mean [lo, hi]"`` of ``values`` with its :func:`mean_interval` (three decimals; with
    a sign for a difference when ``signed``), as the benchmark tables print it."""
    v = np.asarray(values, dtype=float)
    lo, hi = mean_interval(v, n_boot)
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(v.mean())} [{f.format(lo)}, {f.format(hi)}]"


def paired_differences(objects: Sequence[dict], reference: str, metric: str = "noc@90",
                       by: str = "split", n_boot: int = 5000, seed: int = 0,
                       level: float = 0.95) -> list[dict]:
    """Per group (``by``: split or dataset, plus ``all``) and method other than ``reference``:
    the mean paired difference of ``metric`` and its bootstrap interval.

    Args:
        objects: per-object result dicts with ``method``, ``uid``, ``by`` and ``metric`` keys
            (the ``objects`` list of ``ifss bench interactive``'s JSON).
        reference: the method the others are compared with.

    Returns:
        Rows ``{by, method, n, mean, lo, hi}``; ``mean``/``lo``/``hi`` are method minus
        reference. Groups where the two methods share no object are left out.
    """
    table: dict[str, dict[tuple[str, str], float]] = {}
    for o in objects:
        table.setdefault(o["method"], {})[(str(o[by]), str(o["uid"]))] = float(o[metric])
    if reference not in table:
        return []
    ref = table[reference]
    groups = list(dict.fromkeys(k[0] for k in ref))
    rng = np.random.default_rng(seed)
    rows = []
    for method, values in table.items():
        if method == reference:
            continue
        for group in [*groups, "all"]:
            keys = [k for k in ref if k in values and group in ("all", k[0])]
            if not keys:
                continue
            diff = np.array([values[k] - ref[k] for k in keys])
            lo, hi = mean_interval(diff, n_boot, level=level, rng=rng)
            rows.append({by: group, "method": method, "n": int(diff.size),
                         "mean": float(diff.mean()), "lo": float(lo), "hi": float(hi)})
    return rows
