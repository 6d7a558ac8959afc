"""The detection learner end to end on tiny generated images (one thread, seconds).

One two-class detector is trained once for the module; the tests check that it finds the
held-out boxes, that its test predictions come from the exported ONNX file and equal torch
eager, the files and card keys, progress reports, and degenerate inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from labelgate.backends.local.inference import load_predictor
from labelgate.backends.local.inference.detector import DetectorPredictor
from labelgate.backends.local.inference.records import ImagePrediction
from labelgate.backends.local.training.contract import Progress, TrainingRequest, TrainingSettings
from labelgate.backends.local.training.learners.detection import (
    DetectorOptions,
    export_and_predict,
    fit_detector,
    predict_records,
    train_detector,
)
from labelgate.backends.local.training.learners.detection_data import load_record
from tests.training_ml_detection.synthetic import make_examples

LABELS = ("blue", "red")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def recall_at(examples, predictions, min_confidence: float) -> float:
    """Share of true boxes with a same-label prediction (IoU >= 0.5) above min_confidence."""
    found = total = 0
    for ex, pred in zip(examples, predictions, strict=True):
        dets = [d for d in pred.detections if d.confidence >= min_confidence]
        used: set[int] = set()
        for b in ex.boxes:
            total += 1
            for i, d in enumerate(dets):
                if i in used or d.label != b.label:
                    continue
                ix = max(0.0, min(b.left + b.width, d.left + d.width) - max(b.left, d.left))
                iy = max(0.0, min(b.top + b.height, d.top + d.height) - max(b.top, d.top))
                inter = ix * iy
                union = b.width * b.height + d.width * d.height - inter
                if inter / union >= 0.5:
                    used.add(i)
                    found += 1
                    break
    return found / max(total, 1)


def f1_at(examples, predictions, min_confidence: float) -> float:
    boxes = sum(len(ex.boxes) for ex in examples)
    kept = sum(1 for p in predictions for d in p.detections if d.confidence >= min_confidence)
    found = recall_at(examples, predictions, min_confidence) * boxes
    return 2 * found / max(kept + boxes, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("det")
    # Two training images without boxes and one empty test image: degenerate cases.
    train = make_examples(root / "train", 34, seed=1, sides=(14, 26), empty=2)
    test = make_examples(root / "test", 12, seed=2, sides=(14, 26), empty=1, prefix="t")
    request = TrainingRequest(
        task="detection",
        labels=LABELS,
        train=tuple(train),
        test=tuple(test),
        workdir=root / "work",
        settings=TrainingSettings(seed=0, time_budget_s=600.0, threads=1),
    )
    reports: list[Progress] = []
    fit = fit_detector(request, reports.append, DetectorOptions(max_epochs=15))
    model = export_and_predict(fit, request, reports.append)
    return request, fit, model, reports


def test_detector_finds_most_held_out_boxes(trained):
    request, _, model, _ = trained
    assert recall_at(request.test, model.test_predictions, 0.3) >= 0.8
    # Few confident false alarms: the low-score tail is there for the threshold sweep.
    assert f1_at(request.test, model.test_predictions, 0.5) >= 0.7


def test_predictions_cover_the_test_set_in_order_including_the_empty_image(trained):
    request, _, model, _ = trained
    refs = [p.source_ref for p in model.test_predictions]
    assert refs == [ex.source_ref for ex in request.test]
    empty = model.test_predictions[-1]
    assert request.test[-1].boxes == ()
    assert all(d.confidence < 0.5 for d in empty.detections)
    for pred in model.test_predictions:
        assert len(pred.detections) <= 100
        for d in pred.detections:
            assert d.label in LABELS
            assert 0.0 <= d.confidence <= 1.0
            assert d.left >= 0 and d.top >= 0 and d.width > 0 and d.height > 0
            assert d.left + d.width <= 96 + 1e-3 and d.top + d.height <= 96 + 1e-3


def test_test_predictions_are_what_the_exported_model_returns(trained):
    request, _, model, _ = trained
    model_dir = model.onnx_path.parent
    predictor = load_predictor(model_dir, threads=1)
    assert isinstance(predictor, DetectorPredictor)
    again = predictor.predict_many(request.test)
    assert again == list(model.test_predictions)


def test_onnx_matches_torch_eager(trained):
    request, fit, model, _ = trained
    label_index = {label: i for i, label in enumerate(LABELS)}
    records = [load_record(ex, label_index, fit.plan.canvas) for ex in request.test]
    fit.model.to("cpu")
    eager = predict_records(fit.model, records, fit.plan.canvas, torch.device("cpu"))
    compared = 0
    for record, (boxes, scores, labels), onnx_pred in zip(
        records, eager, model.test_predictions, strict=True
    ):
        keep = scores >= 0.05  # the tail near the score threshold may differ by rounding
        strong = [d for d in onnx_pred.detections if d.confidence >= 0.05]
        assert len(strong) == int(keep.sum())
        order = np.argsort(-scores[keep], kind="stable")
        for (x1, y1, x2, y2), score, label, d in zip(
            boxes[keep][order], scores[keep][order], labels[keep][order], strong, strict=True
        ):
            assert d.label == LABELS[int(label)]
            assert d.confidence == pytest.approx(float(score), abs=1e-4)
            expected = (
                x1 / record.scale_x,
                y1 / record.scale_y,
                x2 / record.scale_x,
                y2 / record.scale_y,
            )
            got = (d.left, d.top, d.left + d.width, d.top + d.height)
            assert got == pytest.approx(tuple(float(v) for v in expected), abs=1e-2)
            compared += 1
    assert compared > 0


def test_model_files_card_and_choices(trained):
    request, fit, model, _ = trained
    model_dir = request.workdir / "model"
    assert model.onnx_path == model_dir / "model.onnx" and model.onnx_path.is_file()
    card = json.loads((model_dir / "model.json").read_text())
    assert card == json.loads(json.dumps(model.card))
    assert card["format"] == "labelgate-model" and card["format_version"] == 1
    assert card["task"] == "detection"
    assert card["labels"] == list(LABELS)
    assert card["onnx_file"] == "model.onnx"
    assert card["backbone"] == "efficientnet_lite0"
    inp = card["input"]
    assert (inp["name"], inp["layout"], inp["dtype"], inp["color"]) == (
        "image",
        "NCHW",
        "float32",
        "RGB",
    )
    assert (inp["height"], inp["width"]) == fit.plan.canvas == (96, 96)
    assert inp["resize"] == "letterbox_top_left"
    assert card["normalization"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    assert {k: v["name"] for k, v in card["outputs"].items()} == {
        "boxes": "boxes",
        "scores": "scores",
        "labels": "labels",
    }
    assert card["outputs"]["boxes"]["format"] == "xyxy"
    assert card["thresholds"] == {} and card["metrics"] == {}
    choices = model.choices
    assert card["training"] == json.loads(json.dumps(choices))
    for key in (
        "input_size",
        "crop_size",
        "anchor_sizes",
        "aspect_ratios",
        "augmentation",
        "lr",
        "max_epochs",
        "epochs_run",
        "best_epoch",
        "val_map50",
        "class_blind_nms_iou",
        "class_blind_nms_val",
        "stopped_by",
        "reasons",
    ):
        assert key in choices, key
    assert choices["stopped_by"] == "epochs"
    assert model.epochs_run == choices["epochs_run"] == 15
    assert choices["validation_images"] == 3 and choices["training_images"] == 31
    assert choices["val_map50"] > 0.5
    assert set(choices["class_blind_nms_val"]) == {"off", "iou_0.7", "iou_0.5"}
    assert model.training_seconds > 0


def test_progress_reports_each_epoch_with_loss_metric_and_eta(trained):
    _, _, _, reports = trained
    assert reports[0].stage == "preparing"
    epochs = [r for r in reports if r.stage == "training" and not r.message]
    assert [r.epoch for r in epochs] == list(range(1, 16))
    assert all(r.total_epochs == 15 and r.loss is not None for r in epochs)
    assert epochs[-1].metric_name == "mAP@0.5" and epochs[-1].metric_value is not None
    assert epochs[-1].eta_seconds == 0.0 and epochs[0].eta_seconds > 0
    assert [r.stage for r in reports[-2:]] == ["exporting", "evaluating"]


def test_single_class_detector(tmp_path):
    train = make_examples(tmp_path / "train", 24, seed=3, labels=("red",), sides=(14, 26))
    test = make_examples(tmp_path / "test", 8, seed=4, labels=("red",), sides=(14, 26), prefix="t")
    request = TrainingRequest(
        task="detection",
        labels=("red",),
        train=tuple(train),
        test=tuple(test),
        workdir=tmp_path / "work",
        settings=TrainingSettings(seed=0, time_budget_s=600.0, threads=1),
    )
    model = train_detector(request, lambda _: None, DetectorOptions(max_epochs=12))
    assert recall_at(test, model.test_predictions, 0.3) >= 0.8
    assert model.card["labels"] == ["red"]
    # One class: per-class NMS already is class-blind, so "off" is the only candidate, and
    # its validation score is the chosen checkpoint's (the mean of its mAP@0.5 and F1).
    choices = model.choices
    assert choices["class_blind_nms_iou"] is None
    assert list(choices["class_blind_nms_val"]) == ["off"]
    assert choices["class_blind_nms_val"]["off"] == pytest.approx(
        (choices["val_map50"] + choices["val_f1"]) / 2, abs=1e-3)
    assert choices["val_map50"] > 0.5 and choices["val_f1"] > 0.5
    assert [p.source_ref for p in model.test_predictions] == [ex.source_ref for ex in test]
    assert all(isinstance(p, ImagePrediction) for p in model.test_predictions)


def _tiny_request(
    root: Path, budget: float | None, seed: int = 0, device: str = "auto"
) -> TrainingRequest:
    train = make_examples(root / "train", 12, seed=5, sides=(14, 26))
    test = make_examples(root / "test", 2, seed=6, sides=(14, 26), prefix="t")
    return TrainingRequest(
        task="detection",
        labels=LABELS,
        train=tuple(train),
        test=tuple(test),
        workdir=root / "work",
        settings=TrainingSettings(seed=seed, time_budget_s=budget, threads=1, device=device),
    )


def test_same_seed_gives_the_same_weights_when_the_budget_is_not_hit(tmp_path):
    # CPU: CUDA's RoIAlign backward accumulates with atomics, so GPU runs differ slightly.
    request = _tiny_request(tmp_path, budget=600.0, device="cpu")
    options = DetectorOptions(max_epochs=1)
    a = fit_detector(request, lambda _: None, options)
    b = fit_detector(request, lambda _: None, options)
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert a.choices["iterations"] == b.choices["iterations"] == 2


def test_time_budget_stops_training_and_the_fixed_baseline_still_exports(tmp_path):
    request = _tiny_request(tmp_path, budget=1.0)
    model = train_detector(request, lambda _: None, DetectorOptions(automl=False, max_epochs=500))
    assert model.choices["stopped_by"] == "time_budget"
    assert model.choices["reasons"] == {"all": "fixed default hyper-parameters (no AutoML)"}
    assert model.choices["validation_images"] == 0
    assert model.choices["anchor_sizes"] == [[32.0], [64.0], [128.0]]
    assert model.onnx_path.is_file()
    assert len(model.test_predictions) == 2


def test_unknown_backbone_is_refused(tmp_path):
    request = _tiny_request(tmp_path, budget=1.0)
    bad = TrainingRequest(
        task="detection",
        labels=LABELS,
        train=request.train,
        test=request.test,
        workdir=request.workdir,
        settings=TrainingSettings(backbone="resnet18"),
    )
    with pytest.raises(ValueError, match="backbone"):
        train_detector(bad, lambda _: None)
