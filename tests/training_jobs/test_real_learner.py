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

from labelgate.backends.local.training.worker import TEST_LEARNER_ENV
from labelgate.v1 import custom_labels_pb2 as pb
from tests.training_jobs import data
from tests.training_jobs.conftest import OUT, Jobs

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def real_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_LEARNER_ENV, raising=False)


def test_the_real_learner_trains_evaluates_and_exports_a_classifier(make_jobs):
    jobs: Jobs = make_jobs({"training_time_budget_seconds": 60})
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


def test_the_real_learner_trains_a_detector_from_boxes(make_jobs):
    jobs: Jobs = make_jobs({"training_time_budget_seconds": 10})
    project = jobs.project()

    def lines(count: int) -> list[dict]:
        out = []
        for i in range(count):
            ref = _square_image(jobs, left=8 + 3 * i % 24, top=10 + 5 * i % 20)
            out.append(data.detection(ref, [("square", 8 + 3 * i % 24, 10 + 5 * i % 20, 24, 24)],
                                      96, 96))
        return out

    jobs.dataset(project, "TRAIN", lines(8))
    jobs.dataset(project, "TEST", lines(2))
    desc = jobs.train(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, (
        desc.status_message,
        (jobs.job_dir(desc.project_version_arn) / "worker.log").read_text()[-3000:])
    summary = jobs.read_json(OUT, "runs/EvaluationResultSummary-p-v1.json")
    assert summary["EvaluationDetails"]["Labels"] == ["square"]
    assert "AveragePrecision" in summary["AggregatedEvaluationResults"]
    card = jobs.read_json("labelgate-models",
                          jobs.row(desc.project_version_arn).model_bundle["prefix"] + "model.json")
    assert card["task"] == "detection" and card["thresholds"].keys() == {"square"}


def _square_image(jobs: Jobs, left: int, top: int) -> str:
    image = Image.new("RGB", (96, 96), (240, 240, 240))
    image.paste((200, 20, 20), (left, top, left + 24, top + 24))
    out = io.BytesIO()
    image.save(out, format="PNG")
    jobs._images += 1
    key = f"img/square-{jobs._images:05}.png"
    jobs.blobs.put("imgs", key, out.getvalue())
    return f"s3://imgs/{key}"
