"""ONNX export + the shared predictor reproduce the PyTorch probabilities (1e-4)."""

import json

import numpy as np
import pytest
import torch

from labelgate.backends.local.inference.card import Normalization
from labelgate.backends.local.inference.predictor import load_predictor
from labelgate.backends.local.training.learners.backbones import create_backbone
from labelgate.backends.local.training.learners.classification import ClassifierNet
from labelgate.backends.local.training.learners.classifier_data import eval_pixels, example_store
from labelgate.backends.local.training.learners.classifier_export import (
    ProbabilityNet,
    classifier_card,
    export_classifier,
)
from tests.training_ml import synthetic


@pytest.mark.parametrize(("task", "flip"), [("classification", True), ("multilabel", False)])
def test_onnx_predictions_equal_torch_predictions(tmp_path, task, flip):
    examples = synthetic.color_images(tmp_path, 3, ["red", "blue", "green"], 0, "x")
    torch.manual_seed(0)
    net = ClassifierNet(create_backbone(), 3, dropout=0.2).eval()
    net = net.to(memory_format=torch.channels_last)
    module = ProbabilityNet(net, multilabel=task == "multilabel", flip_tta=flip)
    card = classifier_card(
        task=task,
        labels=("blue", "green", "red"),
        backbone="efficientnet_lite0",
        height=64,
        width=64,
        resize="stretch",
        crop_fraction=1.0,
        normalization=Normalization(),
        flip_tta=flip,
        training={},
    )
    onnx_path, _ = export_classifier(module, tmp_path / "model", card)
    assert onnx_path.exists() and (tmp_path / "model" / "model.json").exists()
    assert json.loads((tmp_path / "model" / "model.json").read_text())["task"] == task

    predictor = load_predictor(tmp_path / "model", threads=1)
    served = predictor.predict_many(examples, batch_size=4)  # batches of 4 and 1
    pixels = eval_pixels(example_store(examples, short_side_cap=None, threads=1), 64, 64, "stretch")
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    x = ((x - 0.5) / 0.5).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = module(x).numpy()
    got = np.array([[p.scores[label] for label in card.labels] for p in served])
    assert np.abs(got - expected).max() < 1e-4
    assert [p.source_ref for p in served] == [e.source_ref for e in examples]
    if task == "classification":
        assert np.allclose(got.sum(1), 1.0, atol=1e-5)
    single = predictor.predict(examples[0].image_path.read_bytes(), source_ref="one")
    assert single.source_ref == "one"
    assert abs(single.scores["red"] - served[0].scores["red"]) < 1e-6
