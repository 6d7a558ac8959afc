"""The classification learner end to end on tiny generated images (seconds each)."""

import json

import numpy as np
import pytest

from labelgate.backends.local.inference.predictor import load_predictor
from labelgate.backends.local.inference.records import CLASSIFICATION, MULTILABEL
from labelgate.backends.local.training.contract import Progress
from labelgate.backends.local.training.learners import automl, train_model
from tests.training_ml import synthetic

LABELS = ["blue", "red"]


def _train(request, **kwargs):
    seen: list[Progress] = []
    return train_model(request, seen.append, **kwargs), seen


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colours")
    train = synthetic.color_images(folder, 12, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(folder, 6, LABELS, seed=1, prefix="test")
    request = synthetic.request(CLASSIFICATION, train, test, folder / "work")
    trained, seen = _train(request, max_epochs=3)
    return request, trained, seen


def test_learnable_colours_are_classified_correctly(colour_run):
    request, trained, _ = colour_run
    assert len(trained.test_predictions) == len(request.test)
    correct = 0
    for example, prediction in zip(request.test, trained.test_predictions, strict=True):
        assert prediction.source_ref == example.source_ref
        assert set(prediction.scores) == set(LABELS)
        assert abs(sum(prediction.scores.values()) - 1.0) < 1e-4
        correct += max(prediction.scores, key=prediction.scores.get) == example.labels[0]
    assert correct / len(request.test) >= 0.9


def test_the_model_bundle_is_an_onnx_file_and_its_card(colour_run):
    request, trained, _ = colour_run
    model_dir = request.workdir / "model"
    assert trained.onnx_path == model_dir / "model.onnx" and trained.onnx_path.exists()
    card = json.loads((model_dir / "model.json").read_text())
    assert card == trained.card
    assert card["task"] == "classification" and card["labels"] == LABELS
    assert card["backbone"] == "efficientnet_lite0"
    assert card["normalization"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    assert card["input"]["name"] == "image" and card["input"]["height"] in (64, 96)
    assert card["outputs"]["scores"]["activation"] == "softmax"
    assert card["thresholds"] == {} and card["metrics"] == {}
    assert card["training"] == trained.choices


def test_test_predictions_are_what_the_exported_model_serves(colour_run):
    request, trained, _ = colour_run
    served = load_predictor(request.workdir / "model").predict_many(request.test)
    assert [p.scores for p in served] == [p.scores for p in trained.test_predictions]


def test_automl_choices_are_recorded(colour_run):
    _, trained, _ = colour_run
    choices = trained.choices
    for key in (
        "plan", "validation_split", "imbalance", "linear_probe", "finetune",
        "chosen_weights", "evaluation", "seed", "frozen", "training_seconds",
    ):  # fmt: skip
        assert key in choices, key
    assert choices["validation_split"]["validation_images"] >= 2
    assert choices["plan"]["train_resolution"] == 64
    assert choices["finetune"]["epochs_run"] == trained.epochs_run == 3
    # Too little work to repay compiling the frozen blocks for ONNX Runtime.
    assert choices["finetune"]["frozen_layers_run_in"] == "pytorch"
    assert set(choices["evaluation"]) >= {"resolution", "resize", "flip_tta", "tried"}
    assert trained.training_seconds > 0
    json.dumps(choices)  # the version stores it as JSON


def test_progress_is_reported_per_epoch_and_per_stage(colour_run):
    _, _, seen = colour_run
    stages = [p.stage for p in seen]
    assert stages[0] == "preparing" and "exporting" in stages
    epochs = [p for p in seen if p.epoch is not None]
    assert [p.epoch for p in epochs] == [1, 2, 3]
    assert all(p.stage == "training" and p.total_epochs == 3 for p in epochs)
    assert all(p.metric_name == "macro_f1" and 0 <= p.metric_value <= 1 for p in epochs)
    assert all(p.loss is not None and p.eta_seconds is not None for p in epochs)


def test_unlearnable_labels_score_near_chance(tmp_path):
    labels = ["a", "b", "c"]
    train = synthetic.random_label_images(tmp_path, 36, labels, seed=0, prefix="train")
    test = synthetic.random_label_images(tmp_path, 45, labels, seed=1, prefix="test")
    trained, _ = _train(synthetic.request(CLASSIFICATION, train, test, tmp_path / "w"),
                        max_epochs=2)  # fmt: skip
    truth = np.array([labels.index(e.labels[0]) for e in test])
    predicted = np.array(
        [labels.index(max(p.scores, key=p.scores.get)) for p in trained.test_predictions]
    )
    assert automl.macro_f1(truth, predicted, 3) < 0.6
    assert (predicted == truth).mean() < 0.6


def test_multilabel_quadrants_are_learned_with_sigmoid_scores(tmp_path):
    train = synthetic.quadrant_images(tmp_path, 40, seed=0, prefix="train")
    test = synthetic.quadrant_images(tmp_path, 20, seed=1, prefix="test")
    trained, _ = _train(synthetic.request(MULTILABEL, train, test, tmp_path / "w"), max_epochs=3)
    assert trained.card["task"] == "multilabel"
    assert trained.card["outputs"]["scores"]["activation"] == "sigmoid"
    assert trained.choices["imbalance"]["method"] == "bce_pos_weight"
    labels = trained.card["labels"]
    truth = np.array([[label in e.labels for label in labels] for e in test], float)
    scores = np.array([[p.scores[label] for label in labels] for p in trained.test_predictions])
    assert automl.mean_average_precision(truth, scores) > 0.85


def test_same_seed_same_model(tmp_path):
    train = synthetic.color_images(tmp_path, 6, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 2, LABELS, seed=1, prefix="test")
    runs = [
        _train(synthetic.request(CLASSIFICATION, train, test, tmp_path / f"w{i}"), max_epochs=2)[0]
        for i in range(2)
    ]
    assert [p.scores for p in runs[0].test_predictions] == [
        p.scores for p in runs[1].test_predictions
    ]
    first, second = (r.onnx_path.read_bytes() for r in runs)
    assert first == second


def test_fixed_defaults_train_without_automl(tmp_path):
    train = synthetic.color_images(tmp_path, 6, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 2, LABELS, seed=1, prefix="test")
    request = synthetic.request(CLASSIFICATION, train, test, tmp_path / "w")
    trained, _ = _train(request, search=False, max_epochs=2)
    assert trained.choices["automl"] is False
    assert trained.choices["validation_split"]["validation_images"] == 0
    assert "linear_probe" not in trained.choices
    assert trained.choices["evaluation"]["flip_tta"] is False
    assert trained.epochs_run == 2 and len(trained.test_predictions) == 4


def test_an_exhausted_budget_still_yields_a_model(tmp_path):
    train = synthetic.color_images(tmp_path, 6, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 2, LABELS, seed=1, prefix="test")
    request = synthetic.request(CLASSIFICATION, train, test, tmp_path / "w", time_budget_s=0.01)
    trained, _ = _train(request, search=False)
    assert trained.choices["finetune"]["stopped_by"] == "budget"
    assert trained.choices["finetune"]["steps"] >= 1
    assert trained.onnx_path.exists() and len(trained.test_predictions) == 4


def test_compiled_frozen_blocks_train_the_same_model_as_pytorch(tmp_path, monkeypatch):
    """On a CPU with enough work, the frozen early blocks run in ONNX Runtime during the
    fine-tune; the predictions must be those of the all-PyTorch run."""
    from labelgate.backends.local.training.learners import selection

    train = synthetic.color_images(tmp_path, 12, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 4, LABELS, seed=1, prefix="test")
    runs = {}
    for min_work in (1e9, 0):
        monkeypatch.setattr(selection, "COMPILE_MIN_WORK", min_work)
        request = synthetic.request(CLASSIFICATION, train, test, tmp_path / f"w{min_work}")
        trained, _ = _train(request, max_epochs=2)
        runs[trained.choices["finetune"]["frozen_layers_run_in"]] = trained
    assert set(runs) == {"pytorch", "onnxruntime"}
    for a, b in zip(runs["pytorch"].test_predictions, runs["onnxruntime"].test_predictions,
                    strict=True):  # fmt: skip
        for label, score in a.scores.items():
            assert abs(score - b.scores[label]) < 2e-3


def test_with_no_time_for_fine_tuning_the_probe_is_the_model(tmp_path):
    train = synthetic.color_images(tmp_path, 12, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 2, LABELS, seed=1, prefix="test")
    request = synthetic.request(CLASSIFICATION, train, test, tmp_path / "w", time_budget_s=0.01)
    trained, _ = _train(request)
    assert trained.choices["validation_split"]["validation_images"] >= 4
    assert trained.choices["finetune"] == {"skipped": "no time left in the budget"}
    assert trained.choices["chosen_weights"] == "linear_probe"
    # No time for settings that need a validation pass: only the probe's own resolution,
    # whose logits (both orientations) the probe already computed, is compared.
    probe_resolution = trained.choices["linear_probe"]["resolution"]
    assert {key.split("/")[0] for key in trained.choices["evaluation"]["tried"]} == {
        str(probe_resolution)}
    assert trained.epochs_run == 0 and len(trained.test_predictions) == 4


def test_the_ensemble_of_fine_tune_and_probe_is_weighed_and_recorded(colour_run):
    _, trained, _ = colour_run
    ensemble = trained.choices["ensemble"]
    assert ensemble["members"] == ["finetune", "linear_probe"]
    assert ensemble["combine"] == "mean log-probabilities"
    assert ensemble["chosen"] == trained.choices["chosen_weights"].startswith("ensemble")
    from labelgate.backends.local.training.learners.classification import ENSEMBLE_MARGIN

    assert ensemble["chosen"] == (
        ensemble["val_metric"] > ensemble["best_member_val_metric"] + ENSEMBLE_MARGIN)


def test_a_chosen_ensemble_is_exported_and_served_as_one_graph(tmp_path, monkeypatch):
    from labelgate.backends.local.training.learners import classification

    monkeypatch.setattr(classification, "ENSEMBLE_MARGIN", -1.0)  # always take it
    train = synthetic.color_images(tmp_path, 12, LABELS, seed=0, prefix="train")
    test = synthetic.color_images(tmp_path, 4, LABELS, seed=1, prefix="test")
    request = synthetic.request(CLASSIFICATION, train, test, tmp_path / "w")
    trained, _ = _train(request, max_epochs=2)
    assert trained.choices["chosen_weights"] == "ensemble(finetune+linear_probe)"
    served = load_predictor(request.workdir / "model").predict_many(request.test)
    assert [p.scores for p in served] == [p.scores for p in trained.test_predictions]
    for prediction in served:
        assert abs(sum(prediction.scores.values()) - 1.0) < 1e-4


def test_log_probability_mean_is_the_normalized_geometric_mean():
    import torch

    from labelgate.backends.local.training.learners.classification import LogitEnsemble
    from labelgate.backends.local.training.learners.classifier_export import ProbabilityNet

    class Fixed(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = torch.tensor([logits])

        def forward(self, x):
            return self.logits

    a, b = [2.0, 0.0, -1.0], [0.0, 1.0, 0.5]
    ensemble = ProbabilityNet(LogitEnsemble([Fixed(a), Fixed(b)], multilabel=False),
                              multilabel=False, flip_tta=False)
    got = ensemble(torch.zeros(1)).numpy()[0]
    pa, pb = (torch.softmax(torch.tensor(v), 0).numpy() for v in (a, b))
    geometric = np.sqrt(pa * pb)
    np.testing.assert_allclose(got, geometric / geometric.sum(), rtol=1e-5)
