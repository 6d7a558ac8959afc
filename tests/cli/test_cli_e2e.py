"""`labelgate` against a real gateway with the local backend."""

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from labelgate.cli._parser import EXIT_PARAM, EXIT_SERVICE
from tests.client.samples import classification_manifest, put_sample_images

testing = pytest.importorskip("labelgate.server.testing")


@pytest.fixture(scope="module")
def gateway() -> Iterator[object]:
    with testing.running_gateway() as gw:
        yield gw


@pytest.fixture
def run(cli, gateway):
    """`labelgate --endpoint GATEWAY ARGS...`, parsed as JSON when it printed something."""

    def call(*argv: str):
        result = cli("--endpoint", gateway.address, *argv)
        result.json = json.loads(result.out) if result.out else None
        return result

    return call


def test_create_project_then_describe_projects(run):
    created = run("create-project", "--project-name", "e2e-cli-project")
    assert created.code == 0, created.err
    arn = created.json["ProjectArn"]
    described = run("describe-projects", "--project-names", "e2e-cli-project")
    assert described.code == 0, described.err
    (project,) = described.json["ProjectDescriptions"]
    assert project["ProjectArn"] == arn
    assert project["Status"] == "CREATED"
    assert project["CreationTimestamp"].endswith("+00:00")  # ISO 8601, as the AWS CLI prints


def test_duplicate_project_prints_one_line_and_exits_254(run):
    assert run("create-project", "--project-name", "e2e-cli-dup").code == 0
    again = run("create-project", "--project-name", "e2e-cli-dup")
    assert again.code == EXIT_SERVICE == 254
    assert again.err.startswith("ResourceInUseException: ")
    assert again.err.count("\n") == 1
    assert again.out == ""


def test_invalid_project_name_is_a_service_validation_error(run):
    result = run("create-project", "--project-name", "has spaces")
    assert result.code == EXIT_SERVICE
    assert result.err.split(":")[0] in ("ValidationException", "InvalidParameterException")


def test_create_dataset_from_a_local_manifest_then_list(run, gateway, tmp_path):
    manifest = tmp_path / "train.manifest"
    manifest.write_bytes(classification_manifest(6))
    put_sample_images(gateway.data_dir, classification_manifest(6))
    project = run("create-project", "--project-name", "e2e-cli-dataset").json["ProjectArn"]
    created = run("create-dataset", "--project-arn", project, "--dataset-type", "TRAIN",
                  "--manifest", str(manifest), "--wait-delay", "0.05")
    assert created.code == 0, created.err
    dataset = created.json["DatasetArn"]
    assert "/dataset/train/" in dataset

    described = run("describe-dataset", "--dataset-arn", dataset)
    assert described.json["DatasetDescription"]["Status"] == "UPDATE_COMPLETE"
    assert described.json["DatasetDescription"]["DatasetStats"]["TotalEntries"] == 6

    entries = run("list-dataset-entries", "--dataset-arn", dataset, "--max-results", "100")
    assert entries.code == 0, entries.err
    assert len(entries.json["DatasetEntries"]) == 6
    cats = run("list-dataset-entries", "--dataset-arn", dataset, "--contains-labels", "cat")
    assert len(cats.json["DatasetEntries"]) == 3
    labels = run("list-dataset-labels", "--dataset-arn", dataset)
    assert labels.code == 0, labels.err
    assert sorted(d["LabelName"] for d in labels.json["DatasetLabelDescriptions"]) == [
        "cat", "dog"]

    waited = run("wait", "dataset-updated", "--dataset-arn", dataset, "--delay", "0.05")
    assert (waited.code, waited.out) == (0, "")


def test_second_train_dataset_is_refused(run):
    project = run("create-project", "--project-name", "e2e-cli-two").json["ProjectArn"]
    assert run("create-dataset", "--project-arn", project, "--dataset-type", "TRAIN",
               "--wait", "--wait-delay", "0.05").code == 0
    again = run("create-dataset", "--project-arn", project, "--dataset-type", "TRAIN")
    assert again.code == EXIT_SERVICE
    assert again.err.count("\n") == 1


def test_missing_required_option_exits_252_without_calling(run):
    result = run("list-dataset-entries")
    assert result.code == EXIT_PARAM
    assert "--dataset-arn" in result.err


@pytest.mark.slow
def test_console_script_in_a_subprocess(gateway):
    command = [sys.executable, "-c", "import sys; from labelgate.cli.main import main; "
               "sys.exit(main())", "--endpoint", gateway.address]
    ok = subprocess.run([*command, "create-project", "--project-name", "e2e-cli-proc"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ProjectArn"]
    dup = subprocess.run([*command, "create-project", "--project-name", "e2e-cli-proc"],
                         capture_output=True, text=True, timeout=60)
    assert dup.returncode == 254
    assert dup.stderr.startswith("ResourceInUseException: ")
    assert dup.stderr.count("\n") == 1


def test_training_budget_out_of_range_is_a_validation_error_exit_254(run):
    project = run("create-project", "--project-name", "e2e-cli-budget").json["ProjectArn"]
    result = run("create-project-version", "--project-arn", project, "--version-name", "v1",
                 "--output-config", "S3Bucket=out,S3KeyPrefix=runs",
                 "--training-budget-seconds", "10")
    assert result.code == EXIT_SERVICE
    assert result.err == ("ValidationException: 1 validation error detected: Value '10' at "
                          "'trainingBudgetSeconds' failed to satisfy constraint: Member must "
                          "have value greater than or equal to 60\n")
