"""The real learner (ml/, torch) and evaluation through the whole job: CreateProjectVersion
-> worker process -> EfficientNet-Lite0 fine-tune on tiny generated images -> ONNX ->
evaluation -> published files. Slow (torch in a worker on a small CPU), so a few small runs."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from labelgate.backends.local.inference.predictor import load_predictor
from labelgate.v1 import custom_labels_pb2 as pb
from tests.training_jobs import data
from tests.training_jobs.conftest import OUT, Jobs

pytestmark = pytest.mark.slow


def test_the_real_learner_trains_evaluates_and_exports_a_classifier(make_jobs):
    jobs: Jobs = make_jobs({"training_time_budget_seconds": 60, "training_learner": "automl"})
    project = jobs.project()
    labels = ["red", "green", "blue"]
    jobs.dataset(project, "TRAIN", jobs.cls_lines(*labels * 8))
    jobs.dataset(project, "TEST", jobs.cls_lines(*labels * 2))
    arn = jobs.create(project)
    messages = jobs.collect("watch_project_version",
                            pb.WatchProjectVersionRequest(project_version_arn=arn))
    desc = jobs.describe(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, (
        desc.status_message, (jobs.job_dir(arn) / "worker.log").read_text()[-3000:])
    assert messages[-1].status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    assert any(m.stage == "training" and m.HasField("epoch") for m in messages)

    summary = jobs.read_json(OUT, "runs/EvaluationResultSummary-p-v1.json")
    assert summary["EvaluationDetails"]["Labels"] == sorted(labels)
    assert desc.evaluation_result.f1_score == pytest.approx(
        summary["AggregatedEvaluationResults"]["F1Score"])
    assert desc.evaluation_result.f1_score > 0.5  # solid colours: far above chance (1/3)

    chunks = jobs.collect("export_project_version",
                          pb.ExportProjectVersionRequest(project_version_arn=arn))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(c.data for c in chunks)))
    card = json.loads(archive.read("model.json"))
    assert card["task"] == "classification" and card["labels"] == sorted(labels)
    assert set(card["thresholds"]) == set(labels)
    assert card["metrics"]["F1Score"] == pytest.approx(desc.evaluation_result.f1_score)

    # The exported model alone predicts the colour of a fresh image.
    session = ort.InferenceSession(archive.read("model.onnx"),
                                   providers=["CPUExecutionProvider"])
    spec = card["input"]
    image = Image.new("RGB", (spec["width"], spec["height"]), data.COLOURS["green"])
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    mean = np.array(card["normalization"]["mean"], dtype=np.float32)
    std = np.array(card["normalization"]["std"], dtype=np.float32)
    tensor = ((pixels - mean) / std).transpose(2, 0, 1)[None]
    (scores,) = session.run(None, {spec["name"]: tensor})[:1]
    assert card["labels"][int(np.argmax(scores[0]))] == "green"


def test_the_real_learner_trains_a_detector_from_boxes(make_jobs, tmp_path):
    jobs: Jobs = make_jobs({"training_time_budget_seconds": DETECTOR_BUDGET_S,
                               "training_learner": "automl"})
    project = jobs.project()
    rng = np.random.default_rng(0)

    def lines(count: int) -> list[dict]:
        out = []
        for _ in range(count):
            png, box = _square_png(rng)
            ref = _put(jobs, png)
            out.append(data.detection(ref, [("square", *box)], 96, 96))
        return out

    jobs.dataset(project, "TRAIN", lines(16))
    jobs.dataset(project, "TEST", lines(4))
    desc = jobs.train(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, (
        desc.status_message,
        (jobs.job_dir(desc.project_version_arn) / "worker.log").read_text()[-3000:])
    summary = jobs.read_json(OUT, "runs/EvaluationResultSummary-p-v1.json")
    assert summary["EvaluationDetails"]["Labels"] == ["square"]
    bundle = jobs.row(desc.project_version_arn).model_bundle
    card = jobs.read_json(bundle["bucket"], bundle["prefix"] + "model.json")
    assert card["task"] == "detection" and card["thresholds"].keys() == {"square"}
    trained = {k: card["training"].get(k) for k in ("epochs_run", "stopped_by", "val_map50")}
    aggregated = summary["AggregatedEvaluationResults"]
    # One easy class: the test set's COCO-style AP (IoU 0.50:0.95, a strict measure: an
    # untrained head scores about 0) and F1 are high.
    assert aggregated["AveragePrecision"] >= 0.4, (aggregated, trained)
    assert aggregated["F1Score"] >= 0.75, (aggregated, trained)
    assert desc.evaluation_result.f1_score == pytest.approx(aggregated["F1Score"])
    (square,) = summary["LabelEvaluationResults"]
    assert square["Label"] == "square" and square["NumberOfTestingImages"] == 4

    # The exported model alone finds a fresh square where it is, confidently.
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("model.json", "model.onnx"):
        (model_dir / name).write_bytes(jobs.blobs.read(bundle["bucket"], bundle["prefix"] + name))
    predictor = load_predictor(model_dir)
    for _ in range(3):
        png, (left, top, width, height) = _square_png(rng)
        detections = predictor.predict(png).detections
        assert detections, "no box at all"
        best = max(detections, key=lambda d: d.confidence)
        assert best.label == "square"
        assert best.confidence >= 0.5, (best, trained)
        truth = (left, top, width, height)
        assert _iou((best.left, best.top, best.width, best.height), truth) >= 0.5, (
            best, truth, trained)


DETECTOR_BUDGET_S = 30


def _square_png(rng: np.random.Generator) -> tuple[bytes, tuple[int, int, int, int]]:
    """A red square (random side and place) on a light, slightly noisy 96x96 background,
    and its box (left, top, width, height) in pixels."""
    side = int(rng.integers(20, 33))
    left, top = (int(v) for v in rng.integers(2, 96 - side - 2, 2))
    pixels = np.clip(rng.normal(235, 8, (96, 96, 3)), 0, 255).astype(np.uint8)
    pixels[top:top + side, left:left + side] = (200, 20, 20)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue(), (left, top, side, side)


def _put(jobs: Jobs, png: bytes) -> str:
    jobs._images += 1
    key = f"img/square-{jobs._images:05}.png"
    jobs.blobs.put("imgs", key, png)
    return f"s3://imgs/{key}"


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (left, top, width, height) boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(width, 0) * max(height, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
