"""The few-shot head and the JFS quality score on two-channel stacks (issue #20, item 3).

    python benchmarks/channel_head_quality.py [--md docs/benchmarks/channel_head_quality.md]

The stacks and cells of ``benchmarks/channel_propagation.py``: channel 0 bright, channel 1 dim
(~8 %) with other cells; each cell annotated on its middle slice. Not held out for the head:
other seeds of the same generator (``make_synthetic_cells``) are in its training pool
(``train/fewshot_pool.py``), so this measures the channel choice on in-distribution cells, not
what a user's images give. The head and JFS see one channel: with several, each object gets the one it
stands out in on the annotated slice (``core.fewshot.support_channel``). Compared in the same
run, for cells of each channel:

* how often that choice is the channel that shows the cell;
* ``ifss.propagate(..., method="head")`` on the channel that shows the cell (the reference),
  on both channels, and on the other channel (what a wrong choice costs); IoU over every slice
  but the annotated one, 95 % bootstrap intervals, paired differences;
* JFS (``ifss.score``) of the per-volume learner's result on both channels, judged with both
  channels, with the channel that shows the cell, and with the other one: pooled Spearman of
  the score with each slice's true Dice, and AUROC for flagging slices with Dice < 0.5.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from channel_propagation import N_STACKS, SHAPE, cells, score, stack

import napari_ifss as ifss
from napari_ifss.core.channels import Channels
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.core.fewshot.support_channel import support_channel
from napari_ifss.core.fewshot.volume_io import sample_window
from napari_ifss.eval.metrics import dice
from napari_ifss.eval.paired import interval_text
from napari_ifss.eval.quality_bench import auroc_flag, spearman
from napari_ifss.eval.report import benchmark_parser, emit, script_header

HEAD_INPUTS = ("channel that shows the cell", "both channels", "the other channel")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--per-stack", type=int, default=6, help="cells per channel and stack")
    args = parser.parse_args()
    torch.set_num_threads(1)
    head = FewShotSegmenter.default(device="cpu")
    t0 = time.perf_counter()
    ious: dict[str, dict[str, list[float]]] = {"dim": {}, "bright": {}}
    picks: dict[str, list[bool]] = {"dim": [], "bright": []}
    judged: dict[str, dict[str, list[tuple[float, float]]]] = {"dim": {}, "bright": {}}
    for i in range(N_STACKS):
        bright, dim, lab_b, lab_d = stack(i)
        for which, alone, other, lab in (("dim", dim, bright, lab_d),
                                         ("bright", bright, dim, lab_b)):
            for gt, z in cells(lab, args.per_stack):
                labels = np.zeros(SHAPE, np.uint8)
                labels[z][gt[z]] = 1
                inputs = dict(zip(HEAD_INPUTS, (alone, [bright, dim], other), strict=True))
                for name, image in inputs.items():
                    result = ifss.propagate(image, labels, method="head", segmenter=head)
                    ious[which].setdefault(name, []).append(score(result, gt, z))
                wins = sample_window(Channels((bright, dim)))
                k = support_channel([Channels((bright[z], dim[z]))], [gt[z]], wins)
                picks[which].append(k == (1 if which == "dim" else 0))
                result = ifss.propagate([bright, dim], labels)  # the learner, the default
                for name, image in inputs.items():
                    scores = ifss.score(image, result, support=labels, segmenter=head)
                    judged[which].setdefault(name, []).extend(
                        (s.score, dice(result[sz] == 1, gt[sz]))
                        for sz, s in scores.get(1, {}).items() if s.badge != "empty")
        print(i, {w: {n: round(float(np.mean(v)), 3) for n, v in d.items()}
                  for w, d in ious.items()}, flush=True)
    lines = script_header("The few-shot head and JFS on two-channel stacks (issue #20, item 3)",
                          "python benchmarks/channel_head_quality.py --md "
                          "docs/benchmarks/channel_head_quality.md", time.perf_counter() - t0)
    lines += [f"{N_STACKS} synthetic two-channel stacks of {SHAPE} (those of "
              "channel_propagation.py; see the script's docstring), each cell annotated on its "
              "middle slice; shipped few-shot head; one torch thread.", ""]
    for which, title in (("dim", "Cells seen only in the dim channel"),
                         ("bright", "Cells of the bright channel")):
        base = np.array(ious[which][HEAD_INPUTS[0]])
        right = int(np.sum(picks[which]))
        lines += [f"## {title} ({len(base)} cells)", "",
                  f"Channel chosen for the head and JFS: the one that shows the cell for "
                  f"{right} of {len(picks[which])} cells.", "",
                  "| head on | IoU | IoU - channel that shows the cell |", "|---|---|---|"]
        for name in HEAD_INPUTS:
            a = np.array(ious[which][name])
            diff = "" if name == HEAD_INPUTS[0] else interval_text(a - base, signed=True)
            lines.append(f"| {name} | {interval_text(a)} | {diff} |")
        lines += ["", "| JFS judged on | slices | Spearman (score, Dice) | AUROC Dice < 0.5 |",
                  "|---|---|---|---|"]
        for name in HEAD_INPUTS:
            pairs = judged[which][name]
            s, d = [p[0] for p in pairs], [p[1] for p in pairs]
            lines.append(f"| {name} | {len(pairs)} | {spearman(s, d):.3f} | "
                         f"{auroc_flag(s, d):.3f} |")
        lines.append("")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
