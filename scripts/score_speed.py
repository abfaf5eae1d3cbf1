"""JFS scoring cost against propagation, same run, same segmenter (docs/benchmarks/score_speed.md).

    nice -n 10 python scripts/score_speed.py --shape 40 256 256 --k 1 2 3 --repeats 3

A synthetic cell volume (:func:`napari_ifss.make_synthetic_cells`); the ``--objects`` objects
spanning the most slices are drawn on ``--k`` evenly spaced slices each, propagated through the
volume (core ``propagate`` with a cache prefix), then scored three ways:

* *after propagation*: same segmenter and cache prefix, as the Few-shot dock does right after
  a run (its encodings are reused as far as the segmenter's cache still holds them);
* *on its own*: an empty cache of the default size (8 slices) and a private prefix, as
  ``ifss score`` (``napari_ifss.score``);

and prints CPU seconds (and wall seconds), encoder passes and the ratio to propagation as a
markdown table, for each K. Runs on older checkouts too (``PYTHONPATH=<old>/src``): it falls
back to the APIs they had.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

CLI_CACHE = 8  # FewShotSegmenter's default cache size, what `ifss score` runs with


def _objects(truth: np.ndarray, n: int, k: int) -> tuple[list[int], np.ndarray]:
    """The ``n`` ids spanning the most slices, and user labels with each on ``k`` slices."""
    extent = {int(i): np.flatnonzero((truth == i).any(axis=(1, 2))) for i in np.unique(truth) if i}
    ids = sorted(extent, key=lambda i: (-len(extent[i]), i))[:n]
    user = np.zeros(truth.shape, np.int32)
    for i in ids:
        zs = extent[i]
        for q in range(k):
            z = int(zs[round((q + 1) * (len(zs) - 1) / (k + 1))])
            user[z][truth[z] == i] = i
    return sorted(ids), user


def _score(image, result, user, ids, seg, prefix) -> int:
    """Score every id; returns the number of (slice, id) rows."""
    from napari_ifss.core.quality import quality_volume as qv

    if hasattr(qv, "score_labels"):  # this version: one pass over z, each object's range
        events = qv.score_labels(image, result, user, ids, seg, cache_prefix=prefix,
                                 recent_first=prefix is not None)
        return sum(1 for _ in events)
    prefix = prefix if prefix is not None else object()  # older: one pass per id
    return sum(1 for i in ids for _ in qv.score_volume(image, result, user, i, seg,
                                                        cache_prefix=prefix))


def _timed(step) -> tuple[float, float, object]:
    """``(CPU seconds of this process, wall seconds, result)`` of ``step()``."""
    c, w = time.process_time(), time.perf_counter()
    out = step()
    return time.process_time() - c, time.perf_counter() - w, out


def _one_run(image, user, ids, seg, method: str = "head") -> list[tuple[float, float, int, int]]:
    """Propagate, score after it, score on its own: ``(cpu s, wall s, encoder passes,
    slices)`` each. ``method="learner"``: propagation by the per-volume learner (the product's
    default), which has its own encoder passes (not counted: -1) and leaves nothing in the
    scoring segmenter's cache."""
    from napari_ifss.core.fewshot.propagation import propagate

    out, prefix = user.copy(), "bench"
    seg.clear_cache()
    calls = seg.encoder_calls
    if method == "learner":
        cpu, wall, n = _timed(lambda: sum(ev.predicted for ev in propagate(
            image, user, ids, method="learner", out=out)))
        rows = [(cpu, wall, -1, n)]
    else:
        cpu, wall, n = _timed(lambda: sum(ev.predicted for ev in propagate(
            image, user, ids, segmenter=seg, out=out, cache_prefix=prefix)))
        rows = [(cpu, wall, seg.encoder_calls - calls, n)]
    kept = seg.cache_size
    for pre in (prefix, None):
        if pre is None:  # `ifss score` loads a fresh segmenter: empty cache of the default size
            seg.clear_cache()
            seg.cache_size = CLI_CACHE
        calls = seg.encoder_calls
        cpu, wall, n = _timed(lambda pre=pre: _score(image, out, user, ids, seg, pre))
        rows.append((cpu, wall, seg.encoder_calls - calls, n))
    seg.cache_size = kept
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a markdown table."""
    from napari_ifss.core.data.sample import make_synthetic_cells
    from napari_ifss.core.fewshot.fewshot import FewShotSegmenter

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs=3, default=(40, 256, 256))
    p.add_argument("--cells", type=int, default=30, help="cells in the synthetic volume")
    p.add_argument("--objects", type=int, default=3, help="objects drawn and propagated")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 3], help="user slices per object")
    p.add_argument("--repeats", type=int, default=3, help="runs per K (medians are shown)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--cache", type=int, default=32,
                   help="encoded slices the segmenter keeps (the dock reserves up to 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=["learner", "head"], default="head",
                   help="propagation method (learner: the product's default; head: the "
                        "few-shot head, whose encodings scoring can reuse)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    image, truth = make_synthetic_cells(tuple(args.shape), n_cells=args.cells, seed=args.seed)
    seg = FewShotSegmenter.default(device="cpu", cache_size=args.cache)
    print(f"volume {tuple(args.shape)}, {args.objects} objects, propagation method "
          f"{args.method}, torch threads {args.threads}, "
          f"cache {args.cache} slices, medians of {args.repeats} runs; CPU seconds of this "
          "process (wall seconds in brackets)\n")
    print("| K | propagation: s (wall), encoder passes, slices | scoring after it: s (wall), "
          "passes, slices | ratio | scoring on its own: s (wall), passes | ratio |")
    print("|---|---|---|---|---|---|")
    for k in args.k:
        ids, user = _objects(truth, args.objects, k)
        runs = [_one_run(image, user, ids, seg, args.method) for _ in range(args.repeats)]
        med = [[float(np.median([r[step][c] for r in runs])) for c in range(4)]
               for step in range(3)]
        (pc, pw, pe, pn), (ac, aw, ae, an), (oc, ow, oe, _) = med
        print(f"| {k} | {pc:.1f} ({pw:.1f}), {pe:.0f}, {pn:.0f} | {ac:.1f} ({aw:.1f}), "
              f"{ae:.0f}, {an:.0f} | {ac / pc:.2f} | {oc:.1f} ({ow:.1f}), {oe:.0f} | "
              f"{oc / pc:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
