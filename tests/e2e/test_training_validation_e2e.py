"""CreateProjectVersion end to end: client -> gRPC on loopback -> gateway -> local backend's
validation stage -> the output files in the gateway's blob store.

A version whose data passes validation goes on to train (here with the tiny test learner of
tests/training_jobs, in a worker process) and ends TRAINING_COMPLETED; one whose data fails
ends TRAINING_FAILED with the content error's message. Both leave manifest_summary.json
where DescribeProjectVersions points.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from labelgate import errors
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.e2e.blobs import blob_path, put_blob

BUCKET = "e2e-train"
OUT = "e2e-out"
DEADLINE_S = 60.0


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[object]:
    """The e2e gateway, its workers on the test learner."""
    settings = Settings(data_dir=tmp_path / "data", shutdown_grace_seconds=1.0,
                        backends={"local": {"training_learner": "fake"}})
    with running_gateway(settings) as gw:
        yield gw


def _put(gateway, key: str, data: bytes) -> None:
    put_blob(gateway, BUCKET, key, data)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 72), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _lines(gateway, name: str, labels: list[str]) -> list[dict]:
    lines = []
    for i, label in enumerate(labels):
        key = f"{name}/img{i}.png"
        _put(gateway, key, _png())
        lines.append({
            "source-ref": f"s3://{BUCKET}/{key}",
            "kind": 0,
            "kind-metadata": {
                "confidence": 1, "class-name": label, "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00",
                "type": "groundtruth/image-classification", "job-name": "labeling-job/kind",
            },
        })
    return lines


def _dataset(client: Client, gateway, project: str, kind: str, lines: list[dict]) -> None:
    key = f"{project.split('/')[1]}-{kind}.manifest"
    _put(gateway, key, "".join(json.dumps(line) + "\n" for line in lines).encode())
    arn = client.create_dataset(
        project_arn=project, dataset_type=kind,
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
    ).dataset_arn
    client.wait_dataset_created(arn, delay=0.05, max_attempts=400)


def _wait_trained(client: Client, project: str, name: str) -> pb.ProjectVersionDescription:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        (desc,) = client.describe_project_versions(
            project_arn=project, version_names=[name]
        ).project_version_descriptions
        if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS:
            return desc
        assert time.monotonic() < deadline, "training did not end"
        time.sleep(0.05)


def _summary(gateway, desc: pb.ProjectVersionDescription) -> dict:
    s3 = desc.manifest_summary.s3_object
    return json.loads(blob_path(gateway, s3.bucket, s3.name).read_text())


def test_valid_datasets_pass_validation_and_train(client, gateway):
    project = client.create_project(project_name="tv-valid").project_arn
    _dataset(client, gateway, project, "TRAIN", _lines(gateway, "valid-train", ["a", "b"] * 3))
    _dataset(client, gateway, project, "TEST", _lines(gateway, "valid-test", ["a", "b"]))
    arn = client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": OUT, "S3KeyPrefix": "runs"}, tags={"k": "v"},
    ).project_version_arn
    assert arn.split("/")[3] == "v1"

    desc = _wait_trained(client, project, "v1")
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, desc.status_message
    assert desc.status_message == "The model is ready to run."
    assert desc.manifest_summary.s3_object.bucket == OUT
    assert desc.manifest_summary.s3_object.name == "runs/v1/validation/manifest_summary.json"
    assert desc.HasField("training_end_timestamp")
    assert desc.billable_training_time_in_seconds >= 1
    assert desc.evaluation_result.summary.s3_object.name == (
        "runs/EvaluationResultSummary-tv-valid-v1.json")
    assert _summary(gateway, desc) == {
        "statistics": {
            side: {"use_case": "IMAGE_LEVEL_LABELS", "total_json_lines": n,
                   "valid_json_lines": n, "invalid_json_lines": 0, "ignored_json_lines": 0,
                   "error_json_line_indices": [], "errors": []}
            for side, n in (("training", 6), ("testing", 2))
        },
        "errors": [],
    }
    for result, count in ((desc.training_data_result, 6), (desc.testing_data_result, 2)):
        s3 = result.validation.assets[0].ground_truth_manifest.s3_object
        assert len(blob_path(gateway, s3.bucket, s3.name).read_text().splitlines()) == count


def test_a_content_error_fails_training_with_its_message(client, gateway):
    project = client.create_project(project_name="tv-overlap").project_arn
    _dataset(client, gateway, project, "TRAIN", _lines(gateway, "ov-train", ["a", "b", "c"]))
    _dataset(client, gateway, project, "TEST", _lines(gateway, "ov-test", ["x", "y"]))
    client.create_project_version(project_arn=project, version_name="v1",
                                  output_config={"S3Bucket": OUT, "S3KeyPrefix": "ov"})
    desc = _wait_trained(client, project, "v1")
    message = "Less than 50% label overlap between the training and testing manifest files."
    assert desc.status_message == message
    assert _summary(gateway, desc)["errors"] == [
        {"code": "ERROR_INSUFFICIENT_LABEL_OVERLAP", "message": message}
    ]


def test_request_errors_come_back_as_their_aws_exceptions(client, gateway):
    project = client.create_project(project_name="tv-errors").project_arn
    output = {"S3Bucket": OUT}
    with pytest.raises(errors.InvalidParameterException):
        client.create_project_version(project_arn=project, version_name="v1",
                                      output_config=output)
    _dataset(client, gateway, project, "TRAIN", _lines(gateway, "err-train", ["a", "b"] * 2))
    client.create_project_version(project_arn=project, version_name="v1", output_config=output)
    with pytest.raises(errors.ResourceInUseException):
        client.create_project_version(project_arn=project, version_name="v1",
                                      output_config=output)
    missing = project.replace("tv-errors", "tv-never")
    with pytest.raises(errors.ResourceNotFoundException):
        client.create_project_version(project_arn=missing, version_name="v1",
                                      output_config=output)
    _wait_trained(client, project, "v1")
