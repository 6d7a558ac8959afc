"""The real learner's model, trained and served through the gateway, held to a quality bar.

Every other gateway-level test trains with the mean-colour test learner; this one trains
the real one (EfficientNet-Lite0 AutoML in a worker process) once for the module, over
gRPC: generated but learnable data (circles, squares and triangles in random colours,
sizes and places on noisy backgrounds: only the shape tells the label), datasets imported
from manifests, CreateProjectVersion with a small time budget. Then:

* the evaluation is real: F1 on the test set above a threshold, every label measured;
* StartProjectVersion with the embedded runtime (ONNX Runtime in the gateway's workers),
  DetectCustomLabels on held-out images the model never saw: accuracy above a threshold;
* the same version started on the Triton runtime (the gateway's own tritonserver from
  `make triton-venv`) answers the same held-out images alike: the same labels in the same
  order, with the same confidences (to float noise), so the same accuracy.

Slow: one real training run on CPU (about a minute with a one-thread worker).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from labelgate.backends.local.serving.embedded import EmbeddedRuntime
from labelgate.backends.local.serving.triton import TritonRuntime
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.e2e.blobs import blob_path, put_blob
from tests.serving.conftest import SERVING_CONFIG, Serving
from tests.serving_triton.test_triton_runtime import _install_or_skip
from tests.training_jobs import data as manifest

pytestmark = pytest.mark.slow

LABELS = ("circle", "square", "triangle")
SIZE = 96
TRAIN_PER_LABEL, TEST_PER_LABEL, HELD_OUT_PER_LABEL = 30, 8, 8
BUDGET_S = 45  # the worker's training time budget (training_time_budget_seconds)
TRAIN_DEADLINE_S = 900.0

MIN_F1 = 0.8  # EvaluationResult.F1Score on the TEST dataset (chance: about 0.33)
MIN_ACCURACY = 0.8  # top-1 accuracy on the held-out images, each runtime
CONFIDENCE_TOLERANCE = 0.05  # percentage points between the two runtimes

BUCKET, OUT = "real-in", "real-out"


# -- data -------------------------------------------------------------------------------------


def shape_png(label: str, rng: np.random.Generator) -> bytes:
    """One `label` shape (random colour, size and place) on a noisy grey background. The
    colour says nothing about the label: only the shape does, so colour statistics (the
    test learner's trick) cannot pass the bar, and a real image model must."""
    grey = int(rng.integers(70, 190))
    pixels = np.clip(rng.normal(grey, 22, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    side = int(rng.integers(34, 62))
    left, top = (int(v) for v in rng.integers(2, SIZE - side - 2, 2))
    box = (left, top, left + side, top + side)
    colour = _far_from(grey, rng)
    if label == "circle":
        draw.ellipse(box, fill=colour)
    elif label == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(left + side // 2, top), (left, top + side), (left + side, top + side)],
                     fill=colour)
    # Noise over the shape too: no flat colours to memorize.
    noisy = np.asarray(image).astype(np.int16) + rng.integers(-18, 19, (SIZE, SIZE, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _far_from(grey: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random colour that stands out from a `grey` background."""
    while True:
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if max(abs(c - grey) for c in colour) >= 80:
            return colour  # type: ignore[return-value]


def samples(per_label: int, seed: int) -> list[tuple[str, bytes]]:
    """(label, PNG) pairs, the labels interleaved."""
    rng = np.random.default_rng(seed)
    return [(label, shape_png(label, rng)) for _ in range(per_label) for label in LABELS]


# -- gateways on one data_dir ---------------------------------------------------------------


@contextmanager
def gateway(data_dir: Path, **config: Any) -> Iterator[Serving]:
    """A gateway (local backend, SQLite in data_dir) with `config`; stopped on exit."""
    settings = Settings(data_dir=data_dir, shutdown_grace_seconds=1.0,
                        backends={"local": {**SERVING_CONFIG,
                                            "training_time_budget_seconds": BUDGET_S,
                                            **config}})
    with ExitStack() as stack:
        running = stack.enter_context(running_gateway(settings))
        client = stack.enter_context(Client(running.address))
        yield Serving(running, client, data_dir / "models", stack)


@dataclass(frozen=True)
class Trained:
    data_dir: Path
    project_arn: str
    version_arn: str
    description: pb.ProjectVersionDescription
    summary: dict[str, Any]
    card: dict[str, Any]
    training_seconds: float


def _dataset(serving: Serving, project: str, kind: str, pairs: list[tuple[str, bytes]]) -> None:
    gw = serving.gateway
    lines = []
    for i, (label, png) in enumerate(pairs):
        key = f"{kind.lower()}/{label}-{i:03}.png"
        put_blob(gw, BUCKET, key, png)
        lines.append(json.dumps(manifest.classification(f"s3://{BUCKET}/{key}", label)))
    put_blob(gw, BUCKET, f"{kind}.manifest", ("\n".join(lines) + "\n").encode())
    arn = serving.client.create_dataset(
        project_arn=project, dataset_type=kind,
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET,
                                                             "Name": f"{kind}.manifest"}}},
    ).dataset_arn
    serving.client.wait_dataset_created(arn, delay=0.1, max_attempts=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """One real training run for the module; the gateway that ran it is stopped after."""
    data_dir = tmp_path_factory.mktemp("real-model")
    with gateway(data_dir) as serving:
        client = serving.client
        project = client.create_project(project_name="shapes").project_arn
        _dataset(serving, project, "TRAIN", samples(TRAIN_PER_LABEL, seed=1))
        _dataset(serving, project, "TEST", samples(TEST_PER_LABEL, seed=2))
        started = time.monotonic()
        arn = client.create_project_version(
            project_arn=project, version_name="v1",
            output_config={"S3Bucket": OUT, "S3KeyPrefix": "runs"},
        ).project_version_arn
        desc = serving.until(
            lambda: (d := serving.describe(arn)).status
            != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS and d,
            "the real training run", timeout=TRAIN_DEADLINE_S)
        seconds = time.monotonic() - started
        log = _worker_log(data_dir)
        assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, (
            desc.status_message, log)
        s3 = desc.evaluation_result.summary.s3_object
        summary = json.loads(blob_path(serving.gateway, s3.bucket, s3.name).read_text())
        card = _card(serving, arn)
    yield Trained(data_dir, project, arn, desc, summary, card, seconds)


def _worker_log(data_dir: Path) -> str:
    logs = sorted((data_dir / "training").glob("*/worker.log"))
    return logs[-1].read_text()[-3000:] if logs else "(no worker log)"


# -- held-out detection ---------------------------------------------------------------------


HELD_OUT = samples(HELD_OUT_PER_LABEL, seed=3)
Answer = list[tuple[str, float]]


def _detect_held_out(serving: Serving, arn: str) -> list[Answer]:
    """Every label with its confidence, best first, for each held-out image."""
    answers = []
    for _, data in HELD_OUT:
        labels = serving.detect(arn, data, min_confidence=0).custom_labels
        answers.append([(c.name, c.confidence) for c in labels])
    return answers


def _accuracy(answers: list[Answer]) -> float:
    hits = sum(1 for (label, _), answer in zip(HELD_OUT, answers, strict=True)
               if answer and answer[0][0] == label)
    return hits / len(HELD_OUT)


def _serve(trained: Trained, **config: Any) -> tuple[list[Answer], str]:
    """Start the trained version on a fresh gateway with `config`, detect, stop."""
    with gateway(trained.data_dir, **config) as serving:
        serving.start(trained.version_arn)
        runtime = serving.backend.serving.runtime
        status = serving.describe(trained.version_arn).inference_units_status
        assert status.in_service_inference_units == 1
        answers = _detect_held_out(serving, trained.version_arn)
        serving.stop(trained.version_arn)
        assert serving.describe(trained.version_arn).status == pb.PROJECT_VERSION_STATUS_STOPPED
    return answers, type(runtime).__name__


@pytest.fixture(scope="module")
def embedded_answers(trained: Trained) -> list[Answer]:
    answers, runtime = _serve(trained)
    assert runtime == EmbeddedRuntime.__name__
    return answers


# -- the tests --------------------------------------------------------------------------------


def test_the_real_learner_trains_a_classifier_above_the_quality_bar(trained: Trained) -> None:
    desc, summary = trained.description, trained.summary
    assert desc.evaluation_result.f1_score >= MIN_F1, (summary, _worker_log(trained.data_dir))
    aggregated = summary["AggregatedEvaluationResults"]
    assert aggregated["F1Score"] == pytest.approx(desc.evaluation_result.f1_score)
    assert summary["EvaluationDetails"]["Labels"] == sorted(LABELS)
    assert summary["EvaluationDetails"]["NumberOfTestingImages"] == TEST_PER_LABEL * len(LABELS)
    per_label = {r["Label"]: r for r in summary["LabelEvaluationResults"]}
    assert per_label.keys() == set(LABELS)  # every label measured, none dropped
    for label, result in per_label.items():
        assert result["NumberOfTestingImages"] == TEST_PER_LABEL, label
        assert result["Metrics"]["F1Score"] >= 0.6, (label, result)
    # The real learner ran (not the test learner): the card names the pretrained backbone,
    # and carries the same F1 and a threshold per label.
    card = trained.card
    assert card["task"] == "classification" and card["labels"] == sorted(LABELS)
    assert card["backbone"] == "efficientnet_lite0"
    assert card["thresholds"].keys() == set(LABELS)
    assert card["metrics"]["F1Score"] == pytest.approx(desc.evaluation_result.f1_score)


def _card(serving: Serving, arn: str) -> dict[str, Any]:
    """The model.json of the version's published bundle."""
    backend = serving.backend
    assert backend.db is not None
    bundle = backend.db.run_sync(
        lambda s: s.query(ProjectVersion).filter(ProjectVersion.arn == arn).one().model_bundle)
    return json.loads(backend.blobs.read(bundle["bucket"], bundle["prefix"] + "model.json"))


def test_the_embedded_runtime_serves_it_accurately_on_held_out_images(
        embedded_answers: list[Answer]) -> None:
    assert all(len(answer) == len(LABELS) for answer in embedded_answers)  # min_confidence 0
    accuracy = _accuracy(embedded_answers)
    assert accuracy >= MIN_ACCURACY, list(zip([x for x, _ in HELD_OUT], embedded_answers,
                                              strict=True))


def test_the_triton_runtime_serves_it_alike(trained: Trained,
                                            embedded_answers: list[Answer]) -> None:
    _install_or_skip()
    answers, runtime = _serve(trained, runtime="triton", triton_max_batch_size=4)
    assert runtime == TritonRuntime.__name__
    assert _accuracy(answers) >= MIN_ACCURACY
    assert len(answers) == len(embedded_answers) == len(HELD_OUT)
    for triton, embedded in zip(answers, embedded_answers, strict=True):
        assert [name for name, _ in triton] == [name for name, _ in embedded]
        assert [c for _, c in triton] == pytest.approx([c for _, c in embedded],
                                                       abs=CONFIDENCE_TOLERANCE)
