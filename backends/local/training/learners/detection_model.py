"""The detection network: torchvision Faster R-CNN parts on the pretrained Lite0 backbone.

Why Faster R-CNN: the prototype (docs/training-notes.md, experiment 2) measured
it on DeepPCB at 0.938 mAP@0.5 on this CPU; a two-stage detector with RoIAlign is forgiving
with few images and small objects, and its legacy ONNX export matches eager exactly.

The network is assembled from torchvision's RPN and RoIHeads but not from `FasterRCNN`
itself: its `GeneralizedRCNNTransform` resizes and normalizes inside the model, which would
make training crops, the exported graph and the serving preprocessing three different
things. Here the caller hands in already-normalized fixed-size tensors (the letterboxed
canvas at inference, crops of the same letterboxed image in training), so eager validation,
the ONNX graph and serving all run the same computation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import FeaturePyramidNetwork, FrozenBatchNorm2d, MultiScaleRoIAlign, nms

from labelgate.backends.local.training.learners.lite0 import Lite0, load_pretrained_lite0

# Lite0 blocks whose outputs have strides 8 / 16 / 32 (40 / 112 / 320 channels).
TAPS = (4, 10, 15)
FEATURE_NAMES = ("0", "1", "2")


@dataclass(frozen=True)
class NetConfig:
    """Everything that shapes the network (AutoML fills it; the card records it)."""

    num_classes: int  # without background
    anchor_sizes: tuple[tuple[float, ...], ...]  # one tuple per pyramid level (P3, P4, P5)
    aspect_ratios: tuple[float, ...]  # height / width, shared by every level
    fpn_channels: int = 64
    freeze_through_block: int = 2  # stem + blocks 0..2 stay at their ImageNet weights
    rpn_pre_nms_top_n: tuple[int, int] = (1000, 600)  # (train, test)
    rpn_post_nms_top_n: tuple[int, int] = (500, 300)
    rpn_batch_size_per_image: int = 256
    roi_batch_size_per_image: int = 128
    box_score_thresh: float = 0.01  # low on purpose: evaluation sweeps the thresholds
    box_nms_thresh: float = 0.5  # per-class NMS inside RoIHeads
    detections_per_img: int = 100
    # Class-blind NMS after the per-class one (None = off): the same object reported under
    # two labels is the main false-positive source when classes look alike.
    class_agnostic_nms_iou: float | None = None


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by a FrozenBatchNorm2d with the same statistics.

    Detection batches are a handful of crops: batch statistics would be noise, and the
    ImageNet statistics are what the pretrained weights expect.
    """
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
        else:
            freeze_batchnorm(child)
    return module


def _fold(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> None:
    """Fold a frozen BN into the conv before it (exact: both are fixed affine maps)."""
    scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
    shift = bn.bias - bn.running_mean * scale
    with torch.no_grad():
        conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        old = conv.bias if conv.bias is not None else torch.zeros_like(shift)
        conv.bias = nn.Parameter(old * scale + shift, requires_grad=False)


def fold_frozen_stages(body: Lite0, through_block: int) -> None:
    """Fold the BNs of the frozen stem and blocks into their convs.

    Those layers never train, so folding changes nothing but speed: they run at the two
    largest resolutions, where the separate multiply-add passes cost most (measured ~15 %
    of a CPU training step). Trainable layers keep FrozenBatchNorm2d: folding there would
    rescale each channel's effective learning rate.
    """
    pairs = [(body._conv_stem, "_bn0", body)]
    for block in body._blocks[: through_block + 1]:
        if block.has_expand:
            pairs.append((block._expand_conv, "_bn0", block))
        pairs.append((block._depthwise_conv, "_bn1", block))
        pairs.append((block._project_conv, "_bn2", block))
    for conv, bn_name, owner in pairs:
        bn = getattr(owner, bn_name)
        if isinstance(bn, FrozenBatchNorm2d):
            _fold(conv, bn)
            setattr(owner, bn_name, nn.Identity())


class Lite0FPN(nn.Module):
    """Lite0 taps at strides 8/16/32 feeding a small FPN (P3-P5)."""

    def __init__(self, body: Lite0, channels: int, taps: Sequence[int] = TAPS) -> None:
        super().__init__()
        # The classification head (1x1 conv to 1280 and the ImageNet fc) is never used.
        body._conv_head = nn.Identity()
        body._bn1 = nn.Identity()
        body._fc = nn.Identity()
        self.body = body
        self.taps = tuple(taps)
        in_channels = [body.stage_channels[i] for i in self.taps]
        self.fpn = FeaturePyramidNetwork(in_channels, channels)
        self.out_channels = channels

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        feats = self.body.taps(x, self.taps)
        return self.fpn(OrderedDict(zip(FEATURE_NAMES, feats, strict=True)))


class DetectorNet(nn.Module):
    """Faster R-CNN over `Lite0FPN` taking normalized NCHW tensors of one fixed size.

    `losses(images, targets)` in train mode; `forward(images)` in eval mode returns the
    detections of the first image as (boxes xyxy in input pixels, scores, labels 0-based),
    the three tensors the ONNX graph outputs.
    """

    def __init__(self, config: NetConfig, body: Lite0) -> None:
        super().__init__()
        self.config = config
        body = freeze_batchnorm(body)
        body.freeze_through(config.freeze_through_block)
        fold_frozen_stages(body, config.freeze_through_block)
        self.backbone = Lite0FPN(body, config.fpn_channels)
        ratios = (tuple(config.aspect_ratios),) * len(config.anchor_sizes)
        anchors = AnchorGenerator(tuple(tuple(s) for s in config.anchor_sizes), ratios)
        self.rpn = RegionProposalNetwork(
            anchors,
            RPNHead(config.fpn_channels, anchors.num_anchors_per_location()[0]),
            fg_iou_thresh=0.7,
            bg_iou_thresh=0.3,
            batch_size_per_image=config.rpn_batch_size_per_image,
            positive_fraction=0.5,
            pre_nms_top_n=dict(zip(("training", "testing"), config.rpn_pre_nms_top_n, strict=True)),
            post_nms_top_n=dict(
                zip(("training", "testing"), config.rpn_post_nms_top_n, strict=True)
            ),
            nms_thresh=0.7,
        )
        roi_size = 7
        self.roi_heads = RoIHeads(
            MultiScaleRoIAlign(list(FEATURE_NAMES), output_size=roi_size, sampling_ratio=2),
            TwoMLPHead(config.fpn_channels * roi_size * roi_size, 256),
            FastRCNNPredictor(256, config.num_classes + 1),
            fg_iou_thresh=0.5,
            bg_iou_thresh=0.5,
            batch_size_per_image=config.roi_batch_size_per_image,
            positive_fraction=0.25,
            bbox_reg_weights=None,
            score_thresh=config.box_score_thresh,
            nms_thresh=config.box_nms_thresh,
            detections_per_img=config.detections_per_img,
        )

    def _image_list(self, images: Tensor) -> ImageList:
        # Sizes are the full tensor: padding is part of the canvas in training and serving
        # alike, and proposals are clipped to it.
        size = (int(images.shape[-2]), int(images.shape[-1]))
        return ImageList(images, [size] * int(images.shape[0]))

    def losses(self, images: Tensor, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        image_list = self._image_list(images)
        features = self.backbone(images)
        proposals, rpn_losses = self.rpn(image_list, features, targets)
        _, roi_losses = self.roi_heads(features, proposals, image_list.image_sizes, targets)
        return {**rpn_losses, **roi_losses}

    def detect(self, images: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Eval-mode detections of every image in the batch (validation uses this)."""
        image_list = self._image_list(images)
        features = self.backbone(images)
        proposals, _ = self.rpn(image_list, features)
        results, _ = self.roi_heads(features, proposals, image_list.image_sizes)
        out = []
        for r in results:
            boxes, scores, labels = r["boxes"], r["scores"], r["labels"] - 1
            iou = self.config.class_agnostic_nms_iou
            if iou is not None:
                keep = nms(boxes, scores, iou)
                boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            out.append((boxes, scores, labels))
        return out

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.detect(images)[0]


def build_detector(config: NetConfig, pretrained: bool = True) -> DetectorNet:
    body = load_pretrained_lite0() if pretrained else Lite0()
    return DetectorNet(config, body)


__all__ = [
    "FEATURE_NAMES",
    "TAPS",
    "DetectorNet",
    "NetConfig",
    "build_detector",
    "freeze_batchnorm",
]
