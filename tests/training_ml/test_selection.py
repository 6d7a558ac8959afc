"""The validation scorer reproduces the exported graph, and the setting search is greedy."""

import numpy as np
import pytest
import torch
from torch import nn

from labelgate.backends.local.inference.card import STRETCH, Normalization
from labelgate.backends.local.training.learners.classification import LogitEnsemble
from labelgate.backends.local.training.learners.classifier_data import (
    eval_pixels,
    eval_tensor,
    example_store,
)
from labelgate.backends.local.training.learners.classifier_export import ProbabilityNet
from labelgate.backends.local.training.learners.selection import (
    EvalSetting,
    Member,
    ValidationScorer,
    search_setting,
)
from tests.training_ml import synthetic

NORM = Normalization(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
CROP = "shorter_side_center_crop"


class TinyNet(nn.Module):
    """Not mirror-symmetric (a column ramp weighs the pixels), so flips change its output."""

    def __init__(self, seed: int, outputs: int = 3) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.head = nn.Linear(3, outputs)

    def forward(self, x):
        ramp = torch.linspace(0.0, 1.0, x.shape[3]).view(1, 1, 1, -1)
        return self.head((x * ramp).mean((2, 3)))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("val")
    examples = synthetic.color_images(folder, 2, ["red", "blue", "green"], seed=3, prefix="v")
    return example_store(examples, short_side_cap=None, threads=1)


def _scorer(store, multilabel):
    labels = np.arange(len(store)) % 3
    truth = np.eye(3)[labels] if multilabel else labels
    return ValidationScorer(store, truth, multilabel=multilabel, normalization=NORM,
                            device=torch.device("cpu"))  # fmt: skip


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("members", [1, 2])
def test_scored_probabilities_are_what_the_exported_graph_computes(store, multilabel, flip,
                                                                   members):  # fmt: skip
    nets = [TinyNet(seed).eval() for seed in range(members)]
    model = nets[0] if members == 1 else LogitEnsemble(nets, multilabel=multilabel)
    graph = ProbabilityNet(model, multilabel=multilabel, flip_tta=flip).eval()
    setting = EvalSetting(40, STRETCH, flip)
    with torch.no_grad():
        x = eval_tensor(eval_pixels(store, 40, 40, STRETCH), NORM, torch.device("cpu"))
        expected = graph(x).numpy()
    scorer = _scorer(store, multilabel)
    got = scorer.probabilities([Member(f"m{i}", n) for i, n in enumerate(nets)], setting)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_logits_are_computed_once_per_member_setting_and_orientation(store, monkeypatch):
    from labelgate.backends.local.training.learners import selection

    calls = []
    forward = selection.forward_batches

    def counting(model, pixels, *args, **kwargs):
        calls.append((id(model), pixels.shape, kwargs.get("mirrored")))
        return forward(model, pixels, *args, **kwargs)

    monkeypatch.setattr(selection, "forward_batches", counting)
    a, b = Member("a", TinyNet(0).eval()), Member("b", TinyNet(1).eval())
    scorer = _scorer(store, False)
    flip = EvalSetting(32, CROP, True)
    assert not scorer.is_cached([a], flip)
    scorer.metric([a], flip)  # two orientations of a
    assert len(calls) == 2 and {c[2] for c in calls} == {False, True}
    assert scorer.is_cached([a], flip) and scorer.is_cached([a], EvalSetting(32, CROP, False))
    scorer.metric([a], EvalSetting(32, CROP, False))
    assert len(calls) == 2  # cached
    scorer.metric([a, b], flip)  # only b's two orientations are new
    assert len(calls) == 4
    scorer.drop("a")
    assert not scorer.is_cached([a], flip)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8),
                                  nn.ReLU6(), nn.Conv2d(8, 16, 3, padding=1))  # fmt: skip
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


@pytest.mark.parametrize("size", [32, 48])
@pytest.mark.parametrize("mirrored", [False, True])
def test_compiled_passes_match_eager_pytorch_at_any_size(size, mirrored):
    """On a CPU every pass runs in ONNX Runtime; it must be the eager net's computation."""
    from labelgate.backends.local.training.learners.selection import CompiledNet, forward_batches

    net = ConvNet().eval()
    pixels = np.random.default_rng(size).integers(0, 256, (5, size, size, 3), dtype=np.uint8)
    x = eval_tensor(pixels, NORM, torch.device("cpu"))
    with torch.no_grad():
        expected = net(torch.flip(x, dims=[3]) if mirrored else x).numpy()
    compiled = CompiledNet(net, threads=1)
    got = forward_batches(compiled, pixels, NORM, torch.device("cpu"), mirrored=mirrored)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    # A snapshot: later weight changes are not seen until compiled again.
    with torch.no_grad():
        net.head.bias.add_(1.0)
    again = forward_batches(compiled, pixels, NORM, torch.device("cpu"), mirrored=mirrored)
    np.testing.assert_allclose(again.numpy(), got.numpy())
    fresh = forward_batches(net, pixels, NORM, torch.device("cpu"), mirrored=mirrored)
    np.testing.assert_allclose(fresh.numpy(), got.numpy() + 1.0, rtol=1e-4, atol=1e-5)


def test_the_search_keeps_the_start_on_ties_and_takes_strict_improvements():
    table = {"64/crop/plain": 0.5, "64/stretch/plain": 0.5, "96/crop/plain": 0.7,
             "128/crop/plain": 0.6, "96/crop/flip": 0.8}  # fmt: skip
    scored = []

    def score(setting):
        scored.append(setting.key())
        return table.get(setting.key(), 0.0)

    best, metric, tried = search_setting(
        score, EvalSetting(64, "crop", False), resolutions=(64, 96, 128),
        policies=("crop", "stretch"), try_flip=True, out_of_time=lambda: False,
    )  # fmt: skip
    assert best == EvalSetting(96, "crop", True) and metric == 0.8
    assert scored == ["64/crop/plain", "64/stretch/plain", "96/crop/plain", "128/crop/plain",
                      "96/crop/flip"]  # fmt: skip
    assert tried["64/stretch/plain"] == 0.5


def test_out_of_time_the_search_scores_only_free_settings():
    best, _, tried = search_setting(
        lambda s: 1.0 if s.flip else 0.5, EvalSetting(64, "crop", False),
        resolutions=(64, 96), policies=("crop", "stretch"), try_flip=True,
        out_of_time=lambda: True, is_free=lambda s: s.resolution == 64 and s.resize == "crop",
    )  # fmt: skip
    assert set(tried) == {"64/crop/plain", "64/crop/flip"}
    assert best == EvalSetting(64, "crop", True)
