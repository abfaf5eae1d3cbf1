"""The whole interactive click model: encoder + click head, in three variants.

* ``"fcfi"``: the previous mask concatenated to the click maps at the head input (as in the
  ``concat`` ablation and the FCFI authors' model) *plus* focused feedback correction and
  collaborative feedback fusion in the deep features (FCFI, CVPR 2023).
* ``"concat"``: the previous mask is only concatenated to the click maps at the head input.
* ``"nofeedback"``: no previous mask at all.

So ``fcfi`` = ``concat`` + the two FCFI modules, and the ablation measures exactly what the
modules add. The focused correction compares *correction features*
(:mod:`.correction_features`), a zero-initialised residual branch on the deep features.
(``input_feedback=False`` builds the earlier fcfi that fed the mask to the modules only,
``correction_features=False`` one whose correction compares the deep features themselves;
checkpoints written before an option existed load with it off.)

``backbone="lite0"`` (or ``lite1``/``lite2``) puts the encoder on the frozen ImageNet
EfficientNet-Lite trunk with a trainable FPN neck (:mod:`.pretrained_encoder`); ``""`` is the
from-scratch encoder of the earlier releases. All variants share the same encoder and U-head
sizes. Tensors: image ``(B, 3, H, W)`` in [0, 1]
with H, W multiples of 32; clicks ``(B, N, 3)`` rows ``(row, col, label)`` in input pixels with
label 1/0 and -1 for padding (the newest valid click is the last valid row); previous mask
``(B, 1, H, W)`` probability in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .click_encoding import box_maps, click_maps
from .click_head import ClickEmbedding, UHead
from .correction_features import CorrectionFeatures
from .encoder import EncoderFeatures, ImageEncoder
from .feedback_fusion import CollaborativeFusion
from .focused_correction import focused_correction
from .pretrained_encoder import PretrainedEncoder

VARIANTS = ("fcfi", "concat", "nofeedback")
STRIDE = 4  # deep features are at 1/4 of the input


@dataclass(frozen=True)
class ClickOutput:
    """Outputs of one click-head pass.

    Attributes:
        logits: ``(B, 1, H, W)`` object logits at input resolution.
        corrected: ``(B, 1, h, w)`` corrected feedback probability (fcfi only, else None).
        box: ``(B, 1, h, w)`` bool, where the focused correction applied (fcfi only).
        updated_logits: ``(B, 1, h, w)`` updated feedback logits (fcfi only).
    """

    logits: torch.Tensor
    corrected: torch.Tensor | None = None
    box: torch.Tensor | None = None
    updated_logits: torch.Tensor | None = None


def newest_click(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Newest valid click per sample: ``(rowcol (B, 2), positive (B,), has_click (B,))``."""
    valid = points[..., 2] >= 0
    n = points.shape[1]
    order = torch.arange(1, n + 1, device=points.device).view(1, n) * valid
    idx = order.argmax(dim=1)
    rows = torch.arange(points.shape[0], device=points.device)
    last = points[rows, idx]
    return last[:, :2], last[:, 2] == 1, valid.any(dim=1)


class ClickNet(nn.Module):
    """Encoder + click head. ``config`` holds the constructor arguments (saved in checkpoints)."""

    def __init__(self, variant: str = "fcfi", channels: int = 48, low_channels: int = 16,
                 encoder_widths: tuple[int, ...] = (24, 32, 64, 96, 128),
                 head_widths: tuple[int, ...] = (64, 96), click_radius: float = 5.0,
                 box_ratio: float = 0.3, input_feedback: bool = True,
                 correction_features: bool = True, backbone: str = "",
                 box_prompt: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
        self.variant = variant
        self.config: dict[str, Any] = dict(
            channels=channels, low_channels=low_channels, encoder_widths=list(encoder_widths),
            head_widths=list(head_widths), click_radius=click_radius, box_ratio=box_ratio,
            input_feedback=variant == "concat" or (variant == "fcfi" and bool(input_feedback)),
            correction_features=variant == "fcfi" and bool(correction_features),
            backbone=str(backbone), box_prompt=bool(box_prompt))
        self.click_radius = click_radius
        self.box_ratio = box_ratio
        self.encoder: ImageEncoder | PretrainedEncoder = (
            PretrainedEncoder(backbone, channels, low_channels) if backbone
            else ImageEncoder(tuple(encoder_widths), channels, low_channels))
        self.input_feedback: bool = self.config["input_feedback"]
        self.box_prompt: bool = self.config["box_prompt"]
        extra = (3 if self.input_feedback else 2) + int(self.box_prompt)
        self.embed = ClickEmbedding(channels, extra)
        self.fusion = CollaborativeFusion(channels) if variant == "fcfi" else None
        self.correction_features = (CorrectionFeatures(channels, 3)
                                    if self.config["correction_features"] else None)
        self.head = UHead(channels, low_channels, tuple(head_widths))
        # Inference-time switches for ablations of a trained fcfi net (not saved): without the
        # correction the feedback reaches the fusion uncorrected; without the fusion its
        # residual is gated off on every click, as on the first.
        self.correction_enabled = True
        self.fusion_enabled = True

    @property
    def uses_feedback(self) -> bool:
        return self.variant != "nofeedback"

    def encode(self, image: torch.Tensor) -> EncoderFeatures:
        """Run the encoder once per image: ``(B, 3, H, W)`` -> cached features."""
        return self.encoder(image)

    def decode(self, feats: EncoderFeatures, points: torch.Tensor,
               prev_mask: torch.Tensor | None = None,
               boxes: torch.Tensor | None = None) -> ClickOutput:
        """Click head on cached features (cheap; run once per click).

        ``boxes`` ``(B, 4)`` (row0, col0, row1, col1) in input pixels, rows of -1 for "no box":
        a box drawn as the object's first prompt (nets built with ``box_prompt=True`` only).
        """
        deep = feats.deep
        b, _, h, w = deep.shape
        shape = (h * STRIDE, w * STRIDE)
        maps = click_maps(points, shape, STRIDE, self.click_radius)
        if prev_mask is None:
            prev_mask = torch.zeros(b, 1, *shape, device=deep.device)
        fb = F.avg_pool2d(prev_mask.float(), STRIDE)
        maps_fb = torch.cat([maps, fb], dim=1)  # clicks + mask: the head input, the correction's
        head_in = maps_fb if self.input_feedback else maps
        if self.box_prompt:
            head_in = torch.cat([head_in, box_maps(boxes, b, shape, STRIDE).to(maps.device)], 1)
        elif boxes is not None and bool((boxes[:, 2] > boxes[:, 0]).any()):
            raise ValueError("this click model was not trained for box prompts")
        x = self.embed(deep, head_in)
        if self.fusion is None:
            return ClickOutput(_upsample(self.head(x, feats.low), shape))
        centre, positive, has_click = newest_click(points)
        n_prompts = (points[..., 2] >= 0).sum(dim=1)
        if boxes is not None:
            n_prompts = n_prompts + (boxes[:, 2] > boxes[:, 0]).to(n_prompts.device)
        gate = (n_prompts > 1).float()  # a previous mask exists from the second prompt on
        active = has_click & (gate > 0) & self.correction_enabled
        sim_feats = (deep if self.correction_features is None
                     else self.correction_features(deep, maps_fb))
        corrected, box = focused_correction(
            fb, sim_feats, (centre + 0.5) / STRIDE - 0.5, positive, active, self.box_ratio)
        x, updated_logits = self.fusion(x, corrected, gate * float(self.fusion_enabled))
        return ClickOutput(_upsample(self.head(x, feats.low), shape), corrected, box,
                           updated_logits.float())

    def forward(self, image: torch.Tensor, points: torch.Tensor,
                prev_mask: torch.Tensor | None = None,
                boxes: torch.Tensor | None = None) -> ClickOutput:
        return self.decode(self.encode(image), points, prev_mask, boxes)


def _upsample(logits: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(logits.float(), size=shape, mode="bilinear", align_corners=False)
