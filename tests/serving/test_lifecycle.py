"""StartProjectVersion / StopProjectVersion over real gRPC (serving.md §1.4-§1.6, §5.1)."""

from __future__ import annotations

import pytest

from labelgate import errors
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.v1 import custom_labels_pb2 as pb
from tests.serving.conftest import COLOURS, DATABASES, Serving, png

RUNNING = pb.PROJECT_VERSION_STATUS_RUNNING
STOPPED = pb.PROJECT_VERSION_STATUS_STOPPED


def test_start_goes_starting_then_running_and_stop_goes_stopping_then_stopped(
        serving: Serving) -> None:
    arn = serving.classifier(serving.project("life"))
    response = serving.client.start_project_version(project_version_arn=arn,
                                                    min_inference_units=1)
    assert response.status == pb.PROJECT_VERSION_STATUS_STARTING
    assert serving.describe(arn).status in (pb.PROJECT_VERSION_STATUS_STARTING, RUNNING)
    serving.client.wait_running(_project_arn(serving, arn), arn.split("/")[3], delay=0.05,
                                max_attempts=1200)
    desc = serving.describe(arn)
    assert desc.status == RUNNING
    assert desc.status_message == "The model is running."
    assert desc.min_inference_units == 1
    assert not desc.HasField("max_inference_units")
    labels = serving.detect(arn, png(COLOURS["red"])).custom_labels
    assert [c.name for c in labels] == ["red"]

    assert serving.client.stop_project_version(project_version_arn=arn).status == \
        pb.PROJECT_VERSION_STATUS_STOPPING
    assert serving.describe(arn).status in (pb.PROJECT_VERSION_STATUS_STOPPING, STOPPED)
    serving.client.wait_stopped(_project_arn(serving, arn), arn.split("/")[3], delay=0.05,
                                max_attempts=1200)
    assert serving.describe(arn).status_message == "The model is stopped."
    with pytest.raises(errors.ResourceNotReadyException):
        serving.detect(arn, png(COLOURS["red"]))
    # A stopped model starts again, with new inference units.
    serving.start(arn, 2, 3)
    desc = serving.describe(arn)
    assert (desc.min_inference_units, desc.max_inference_units) == (2, 3)
    serving.stop(arn)


@pytest.mark.parametrize("database", DATABASES, indirect=True)
def test_start_and_stop_commit_their_statuses_in_the_store(make_serving) -> None:
    serving = make_serving()
    arn = serving.classifier(serving.project("stored"))

    def stored() -> tuple[str, str, int | None, int | None]:
        """The version's row as the store holds it (a fresh session, not the service)."""
        def read(session) -> tuple[str, str, int | None, int | None]:
            row = session.query(ProjectVersion).filter(ProjectVersion.arn == arn).one()
            return (row.status, row.status_message, row.min_inference_units,
                    row.max_inference_units)

        return serving.backend.db.run_sync(read)

    assert stored()[0] == "TRAINING_COMPLETED"
    serving.start(arn, 1, 2)
    assert stored() == ("RUNNING", "The model is running.", 1, 2)
    serving.stop(arn)
    assert serving.describe(arn).status == STOPPED
    assert stored()[:2] == ("STOPPED", "The model is stopped.")


def _project_arn(serving: Serving, arn: str) -> str:
    name = arn.split("/")[1]
    (project,) = [p for p in serving.client.describe_projects(project_names=[name])
                  .project_descriptions]
    return project.project_arn


def test_a_model_trained_by_the_trainer_starts_and_detects(serving: Serving) -> None:
    from tests.serving.conftest import BUCKET

    project = serving.project("trained")
    lines = []
    for i, label in enumerate(["red", "green", "blue"] * 2):
        key = f"train/{i}.png"
        serving.put(key, png(COLOURS[label]))
        lines.append({"source-ref": f"s3://{BUCKET}/{key}", "c": 0, "c-metadata": {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification", "job-name": "labeling-job/c"}})
    import json

    for kind, part in (("TRAIN", lines), ("TEST", lines[:3])):
        key = f"{kind}.manifest"
        serving.put(key, "".join(json.dumps(x) + "\n" for x in part).encode())
        dataset = serving.client.create_dataset(
            project_arn=project, dataset_type=kind,
            dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET,
                                                                 "Name": key}}}).dataset_arn
        serving.client.wait_dataset_created(dataset, delay=0.05, max_attempts=1200)
    arn = serving.client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": "serve-out", "S3KeyPrefix": "runs"}).project_version_arn
    serving.client.wait_training_completed(project, "v1", delay=0.1, max_attempts=600)
    serving.start(arn)
    for label in ("red", "green", "blue"):
        found = serving.detect(arn, png(COLOURS[label]), min_confidence=50).custom_labels
        assert [c.name for c in found] == [label]
    serving.stop(arn)


def test_start_errors(serving: Serving) -> None:
    project = serving.project("start-errors")
    arn = serving.classifier(project)
    missing = arn.rsplit("/", 1)[0] + "/1"
    with pytest.raises(errors.ResourceNotFoundException):
        serving.client.start_project_version(project_version_arn=missing,
                                             min_inference_units=1)
    with pytest.raises(errors.InvalidParameterException):
        serving.client.start_project_version(project_version_arn=arn, min_inference_units=2,
                                             max_inference_units=1)
    with pytest.raises(errors.LimitExceededException):
        serving.client.start_project_version(project_version_arn=arn, min_inference_units=1,
                                             max_inference_units=1000)
    with pytest.raises(errors.ResourceInUseException):  # not running
        serving.client.stop_project_version(project_version_arn=arn)
    serving.start(arn)
    with pytest.raises(errors.ResourceInUseException):  # already running
        serving.client.start_project_version(project_version_arn=arn, min_inference_units=1)
    # A running model cannot be deleted, nor its project (serving.md §3.1, §5.1).
    with pytest.raises(errors.ResourceInUseException):
        serving.client.delete_project_version(project_version_arn=arn)
    with pytest.raises(errors.ResourceInUseException):
        serving.client.delete_project(project_arn=project)
    serving.stop(arn)
    with pytest.raises(errors.ResourceInUseException):  # already stopped
        serving.client.stop_project_version(project_version_arn=arn)
    serving.client.delete_project_version(project_version_arn=arn)


def test_a_model_that_cannot_load_ends_failed_with_a_message(serving: Serving) -> None:
    project = serving.project("broken")
    directory = serving.tmp / "broken"
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(b"not an onnx file")
    (directory / "model.json").write_text(
        '{"format": "labelgate-model", "format_version": 1, "task": "classification", '
        '"labels": ["a"], "input": {"name": "x", "height": 1, "width": 1, '
        '"resize": "stretch"}, "normalization": {"mean": [0,0,0], "std": [1,1,1]}}')
    arn = serving.install(project, "v1", {"model.onnx": directory / "model.onnx",
                                          "model.json": directory / "model.json"})
    serving.client.start_project_version(project_version_arn=arn, min_inference_units=1)
    serving.until(lambda: serving.describe(arn).status == pb.PROJECT_VERSION_STATUS_FAILED,
                  "FAILED")
    assert serving.describe(arn).status_message.startswith("The model could not start: ")
    with pytest.raises(errors.ResourceNotReadyException):
        serving.detect(arn, png(COLOURS["red"]))


@pytest.mark.parametrize("database", DATABASES, indirect=True)
def test_running_models_come_back_after_a_gateway_restart(make_serving, tmp_path) -> None:
    first = make_serving(data_dir=tmp_path / "restart")
    arn = first.classifier(first.project("restart"))
    first.start(arn, 1, 2)
    stopped = first.classifier(first.project("restart-stopped"))
    first.close()

    second = make_serving(data_dir=tmp_path / "restart")
    second.until(lambda: second.describe(arn).status == RUNNING, "RUNNING after restart")
    desc = second.describe(arn)
    assert (desc.min_inference_units, desc.max_inference_units) == (1, 2)
    assert [c.name for c in second.detect(arn, png(COLOURS["blue"])).custom_labels] == ["blue"]
    assert second.describe(stopped).status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    second.stop(arn)


def test_stopping_a_starting_model_ends_stopped(serving: Serving) -> None:
    arn = serving.classifier(serving.project("quick-stop"))
    serving.client.start_project_version(project_version_arn=arn, min_inference_units=2)
    assert serving.client.stop_project_version(project_version_arn=arn).status == \
        pb.PROJECT_VERSION_STATUS_STOPPING
    serving.until(lambda: serving.describe(arn).status == STOPPED, "STOPPED")
    serving.on_loop(serving.backend.serving.wait_idle())
    assert not serving.backend.serving.runtime._pools  # nothing left loaded
    serving.start(arn)  # and it starts again normally
    serving.stop(arn)


def test_only_a_trained_model_starts(serving: Serving) -> None:
    arn = serving.classifier(serving.project("untrained"))

    def fail(session) -> None:
        session.query(ProjectVersion).filter(ProjectVersion.arn == arn).one().status = \
            "TRAINING_FAILED"

    serving.backend.db.run_sync(fail)
    with pytest.raises(errors.InvalidParameterException):
        serving.client.start_project_version(project_version_arn=arn, min_inference_units=1)
