"""CreateProjectVersion's TrainingBudgetSeconds (a labelgate extension), client to trainer.

A real gateway with the local backend; the test learner stands in for the real one, and the
job file the gateway hands each worker shows the budget the worker was given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelgate import errors
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.client.samples import classification_manifest, put_sample_images

GATEWAY_BUDGET_S = 300.0
OUTPUT = {"S3Bucket": "e2e-bucket", "S3KeyPrefix": "runs"}
FAST = {"delay": 0.05, "max_attempts": 1200}


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    settings = Settings(
        data_dir=tmp_path / "data", port=0, metrics_port=0, shutdown_grace_seconds=1.0,
        backends={"local": {"training_time_budget_seconds": GATEWAY_BUDGET_S,
                            "training_threads": 1, "training_learner": "fake"}},
    )
    with running_gateway(settings) as gw:
        yield gw


@pytest.fixture
def client(gateway) -> Iterator[Client]:
    with Client(gateway.address) as c:
        yield c


def _project_with_training_data(client: Client, gateway) -> str:
    manifest = classification_manifest(10)
    put_sample_images(gateway.data_dir, manifest)
    (Path(gateway.data_dir) / "s3" / "e2e-bucket" / "train.manifest").write_bytes(manifest)
    project = client.create_project(project_name="budget").project_arn
    dataset = client.create_dataset(
        project_arn=project, dataset_type="TRAIN",
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": "e2e-bucket",
                                                             "Name": "train.manifest"}}},
    ).dataset_arn
    client.wait_dataset_created(dataset, **FAST)
    return project


def _worker_budgets(data_dir: Path) -> dict[str, float | None]:
    """version name -> the time budget in the job file its worker was started on."""
    out = {}
    for path in (Path(data_dir) / "training").glob("*/job.json"):
        job = json.loads(path.read_text())
        out[job["version_name"]] = job["request"]["settings"]["time_budget_s"]
    return out


@pytest.mark.slow
def test_a_version_budget_replaces_the_gateway_budget_for_that_version_only(client, gateway):
    project = _project_with_training_data(client, gateway)
    client.create_project_version(project_arn=project, version_name="own",
                                  output_config=OUTPUT, training_budget_seconds=90)
    client.create_project_version(project_arn=project, version_name="default",
                                  output_config=OUTPUT)
    done = client.wait_training_completed(project, ["own", "default"], **FAST)
    assert {d.status for d in done.project_version_descriptions} == {
        pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED}
    assert _worker_budgets(gateway.data_dir) == {"own": 90.0, "default": GATEWAY_BUDGET_S}


@pytest.mark.parametrize("budget, rule", [
    (59, "greater than or equal to 60"), (0, "greater than or equal to 60"),
    (-5, "greater than or equal to 60"), (86_401, "less than or equal to 86400"),
])
def test_a_budget_out_of_range_is_a_validation_exception(client, budget, rule):
    project = client.create_project(project_name="budget").project_arn
    with pytest.raises(errors.ValidationException) as caught:
        client.create_project_version(project_arn=project, version_name="v1",
                                      output_config=OUTPUT, training_budget_seconds=budget)
    assert caught.value.message == (
        f"1 validation error detected: Value '{budget}' at 'trainingBudgetSeconds' failed to "
        f"satisfy constraint: Member must have value {rule}")
    assert not client.describe_project_versions(project_arn=project).project_version_descriptions
