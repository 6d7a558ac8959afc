"""The whole story on an S3-protocol blob store (a real moto_server on loopback): every byte
the gateway reads or writes goes through boto3, none through a local folder.

Manifests and images live in a bucket; CreateDataset imports them; CreateProjectVersion
trains with the real learner (torch, EfficientNet-Lite0, tiny generated images, a short
budget) for each task kind: classification, multi-label, object detection; the evaluation
files land in the output bucket at the OutputConfig prefix; StartProjectVersion runs the
model and DetectCustomLabels finds the labels in an image named by `S3Object`.

The metadata lives in PostgreSQL whenever the suite has one (CI always does): S3 with
PostgreSQL is what a team that outgrew one disk runs; without a server, SQLite.

One server, one gateway and one project per task kind for the module. The three trainings
are all started by the module fixture (they queue behind one worker slot), so while one
test checks and serves its model the next model is already training.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.conftest import POSTGRES_URL_ENV, _postgres_required
from tests.e2e.stoppable_s3 import stoppable_s3_server
from tests.fixtures_s3 import CREDENTIALS, REGION
from tests.local.conftest import _postgres_schema
from tests.training_jobs import data

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DATA, OUT = "story-data", "story-out"
WAIT = {"delay": 0.1, "max_attempts": 600}
TRAINING_DEADLINE_S = 280.0
SIDE = 64  # the smallest side Custom Labels accepts: the least work for the learner
# Multi-label images: each label paints its own band, so "both" is visibly both.
BANDS = {"red": 0, "blue": 1}
SQUARE = 24  # detection: a red square on a light background


# --- the data ------------------------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _solid(label: str, shade: int = 0) -> bytes:
    return data.png(data.COLOURS[label], shade=shade)


def _banded(labels: tuple[str, ...], shade: int = 0) -> bytes:
    """One vertical band per label (a single label fills the image)."""
    image = Image.new("RGB", (SIDE, SIDE))
    width = SIDE // len(labels)
    for i, label in enumerate(sorted(labels, key=BANDS.__getitem__)):
        r, g, b = data.COLOURS[label]
        image.paste((min(255, r + shade), min(255, g + shade), min(255, b + shade)),
                    (i * width, 0, SIDE if i == len(labels) - 1 else (i + 1) * width, SIDE))
    return _png(image)


def _square(left: int, top: int) -> bytes:
    image = Image.new("RGB", (96, 96), (240, 240, 240))
    image.paste((200, 20, 20), (left, top, left + SQUARE, top + SQUARE))
    return _png(image)


@dataclass
class Bucket:
    """The data bucket, seen through boto3 directly (not through the gateway)."""

    s3: Any
    count: int = 0

    def image(self, kind: str, body: bytes) -> str:
        self.count += 1
        key = f"images/{kind}/{self.count:04}.png"
        self.s3.put_object(Bucket=DATA, Key=key, Body=body)
        return f"s3://{DATA}/{key}"

    def manifest(self, name: str, lines: list[dict]) -> dict:
        key = f"manifests/{name}.manifest"
        self.s3.put_object(Bucket=DATA, Key=key, Body=data.manifest(lines))
        return {"GroundTruthManifest": {"S3Object": {"Bucket": DATA, "Name": key}}}


def _classification_lines(bucket: Bucket, per_label: int) -> list[dict]:
    return [data.classification(bucket.image("cls", _solid(label, shade=i)), label)
            for i in range(per_label) for label in ("red", "green", "blue")]


def _multilabel_lines(bucket: Bucket, per_set: int) -> list[dict]:
    sets = [("red",), ("blue",), ("red", "blue")]
    return [data.classification(bucket.image("multi", _banded(labels, shade=i)), *labels)
            for i in range(per_set) for labels in sets]


def _square_at(i: int) -> tuple[int, int]:
    return 8 + (7 * i) % 56, 6 + (11 * i) % 58


def _detection_lines(bucket: Bucket, count: int, first: int = 0) -> list[dict]:
    lines = []
    for i in range(first, first + count):
        left, top = _square_at(i)
        ref = bucket.image("det", _square(left, top))
        lines.append(data.detection(ref, [("square", left, top, SQUARE, SQUARE)], 96, 96))
    return lines


def _prefix(kind: str) -> str:
    """Each project's own OutputConfig prefix: the versions are all called v1, and
    `{prefix}/v1/...` is where a version's validation and evaluation files go."""
    return f"runs/{kind}"


# --- the story's stage -----------------------------------------------------------------------


@dataclass
class Story:
    client: Client
    s3: Any
    endpoint: str
    data_dir: Path
    projects: dict[str, str] = field(default_factory=dict)  # task kind -> project ARN
    datasets: dict[str, list[str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # task kind -> version ARN

    def output_keys(self, prefix: str) -> set[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=OUT, Prefix=f"{prefix}/")
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read_json(self, bucket: str, key: str) -> dict:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        return json.loads(body.read())

    def read_lines(self, bucket: str, key: str) -> list[dict]:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        return [json.loads(line) for line in body.read().decode().splitlines() if line.strip()]

    def trained(self, kind: str) -> pb.ProjectVersionDescription:
        deadline = time.monotonic() + TRAINING_DEADLINE_S
        while True:
            (desc,) = self.client.describe_project_versions(
                project_arn=self.projects[kind], version_names=["v1"]
            ).project_version_descriptions
            if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS:
                return desc
            assert time.monotonic() < deadline, f"{kind} still training: {desc.status_message}"
            time.sleep(0.25)


@contextmanager
def _team_database() -> Iterator[str | None]:
    """A scratch PostgreSQL schema's URL, or None (SQLite) when the suite has no server."""
    if os.environ.get(POSTGRES_URL_ENV):
        with _postgres_schema() as url:
            yield url
        return
    if _postgres_required():
        pytest.fail(f"{POSTGRES_URL_ENV} is not set: the S3 story runs on PostgreSQL in CI")
    yield None


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with stoppable_s3_server() as server, _team_database() as database_url:
        endpoint = server.url
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
        for name in (DATA, OUT):
            s3.create_bucket(Bucket=name)
        bucket = Bucket(s3)
        sources = {
            # 10 images a label (a set): enough for AutoML's validation split, so its linear
            # probe (a sure winner on colours, and quick) is a candidate.
            "classification": (_classification_lines(bucket, 10),
                               _classification_lines(bucket, 2)),
            "multilabel": (_multilabel_lines(bucket, 10), _multilabel_lines(bucket, 2)),
            "detection": (_detection_lines(bucket, 10), _detection_lines(bucket, 3, first=10)),
        }
        local = {
            "blob_store": "s3", "s3_endpoint_url": endpoint, "s3_region": REGION,
            "s3_access_key_id": CREDENTIALS["aws_access_key_id"],
            "s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
            "training_time_budget_seconds": 10, "training_seed": 1,
        }
        if database_url:
            local["database_url"] = database_url
        data_dir = tmp_path_factory.mktemp("whole-story")
        settings = Settings(data_dir=data_dir, backends={"local": local},
                            shutdown_grace_seconds=1)
        with running_gateway(settings) as gateway, Client(gateway.address) as client:
            story = Story(client, s3, endpoint, data_dir)
            for kind, (train, test) in sources.items():
                project = client.create_project(project_name=f"story-{kind}").project_arn
                story.projects[kind] = project
                story.datasets[kind] = [
                    client.create_dataset(
                        project_arn=project, dataset_type=kind_name,
                        dataset_source=bucket.manifest(f"{kind}-{kind_name}", lines),
                    ).dataset_arn
                    for kind_name, lines in (("TRAIN", train), ("TEST", test))
                ]
            for kind, project in story.projects.items():
                for arn in story.datasets[kind]:
                    client.wait_dataset_created(arn, **WAIT)
                story.versions[kind] = client.create_project_version(
                    project_arn=project, version_name="v1",
                    output_config={"S3Bucket": OUT, "S3KeyPrefix": _prefix(kind)},
                ).project_version_arn
            yield story


# --- the checks ------------------------------------------------------------------------------


def _check_imported(story: Story, kind: str, labels: set[str]) -> None:
    for arn in story.datasets[kind]:
        described = story.client.describe_dataset(dataset_arn=arn).dataset_description
        assert described.status == pb.DATASET_STATUS_CREATE_COMPLETE, described.status_message
        stats = described.dataset_stats
        assert stats.error_entries == 0 and stats.labeled_entries == stats.total_entries > 0
        found = {x.label_name for x in story.client.list_dataset_labels(
            dataset_arn=arn).dataset_label_descriptions}
        assert found == labels


def _check_outputs(story: Story, kind: str, desc: pb.ProjectVersionDescription,
                   labels: set[str]) -> dict:
    """The evaluation files are in the output bucket, under the prefix, where the
    description points; returns the evaluation summary."""
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, desc.status_message
    project_name, prefix = f"story-{kind}", _prefix(kind)
    keys = story.output_keys(prefix)
    summary_key = f"{prefix}/EvaluationResultSummary-{project_name}-v1.json"
    assert summary_key in keys, sorted(keys)
    summary_object = desc.evaluation_result.summary.s3_object
    assert (summary_object.bucket, summary_object.name) == (OUT, summary_key)
    summary = story.read_json(OUT, summary_key)
    assert set(summary["EvaluationDetails"]["Labels"]) == labels
    assert desc.evaluation_result.f1_score == pytest.approx(
        summary["AggregatedEvaluationResults"]["F1Score"])

    manifest_summary = desc.manifest_summary.s3_object
    assert manifest_summary.bucket == OUT
    assert manifest_summary.name == f"{prefix}/v1/validation/manifest_summary.json"
    assert manifest_summary.name in keys
    statistics = story.read_json(OUT, manifest_summary.name)["statistics"]
    for side in ("training", "testing"):  # every line was valid
        assert statistics[side]["total_json_lines"] == statistics[side]["valid_json_lines"] > 0
        assert statistics[side]["errors"] == []
    for side in ("training", "testing"):
        assert f"{prefix}/v1/validation/{side}_manifest_with_validation.json" in keys

    for result in (desc.training_data_result, desc.testing_data_result):
        (asset,) = result.output.assets
        snapshot = asset.ground_truth_manifest.s3_object
        assert snapshot.bucket == OUT and snapshot.name.startswith(f"{prefix}/v1/evaluation/")
        assert snapshot.name in keys
        lines = story.read_lines(OUT, snapshot.name)
        assert lines and all(line["source-ref"].startswith(f"s3://{DATA}/") for line in lines)
    # Nothing of the gateway's went to a local folder: the store is S3.
    assert not (story.data_dir / "s3").exists()
    return summary


def _detect(story: Story, kind: str, key: str, body: bytes) -> pb.DetectCustomLabelsResponse:
    story.s3.put_object(Bucket=DATA, Key=key, Body=body)
    return story.client.detect_custom_labels(
        project_version_arn=story.versions[kind],
        image={"S3Object": {"Bucket": DATA, "Name": key}}, min_confidence=0)


def _serve(story: Story, kind: str, check: Callable[[], None]) -> None:
    """Start the model, run `check` against it, stop it again."""
    client, project = story.client, story.projects[kind]
    client.start_project_version(project_version_arn=story.versions[kind],
                                 min_inference_units=1)
    client.wait_running(project, "v1", **WAIT)
    try:
        check()
    finally:
        client.stop_project_version(project_version_arn=story.versions[kind])
        client.wait_stopped(project, "v1", **WAIT)


def test_classification_imports_trains_evaluates_and_detects_from_s3(story):
    labels = {"red", "green", "blue"}
    _check_imported(story, "classification", labels)
    _check_outputs(story, "classification", story.trained("classification"), labels)

    def check() -> None:
        found = _detect(story, "classification", "probe/green.png", _solid("green", shade=3))
        names = [label.name for label in found.custom_labels]
        assert names and names[0] == "green", found

    _serve(story, "classification", check)


def test_multilabel_imports_trains_evaluates_and_detects_from_s3(story):
    labels = {"red", "blue"}
    _check_imported(story, "multilabel", labels)
    _check_outputs(story, "multilabel", story.trained("multilabel"), labels)

    def check() -> None:
        found = _detect(story, "multilabel", "probe/red.png", _banded(("red",), shade=3))
        confidence = {label.name: label.confidence for label in found.custom_labels}
        assert set(confidence) <= labels and confidence, found
        assert max(confidence, key=confidence.__getitem__) == "red", found

    _serve(story, "multilabel", check)


def test_object_detection_imports_trains_evaluates_and_detects_from_s3(story):
    _check_imported(story, "detection", {"square"})
    summary = _check_outputs(story, "detection", story.trained("detection"), {"square"})
    assert "AveragePrecision" in summary["AggregatedEvaluationResults"]

    def check() -> None:
        left, top = _square_at(3)
        found = _detect(story, "detection", "probe/square.png", _square(left, top))
        assert found.custom_labels, found
        for label in found.custom_labels:
            assert label.name == "square"
            box = label.geometry.bounding_box
            assert 0 <= box.left <= 1 and 0 <= box.top <= 1 and 0 < box.width <= 1, label

    _serve(story, "detection", check)
