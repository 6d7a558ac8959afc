"""The job machinery's parts on their own: job.json, the worker's line protocol, the
examples built from validated lines, the trainer settings, the CLI's progress display, and
migration 0003 over existing rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from array import array
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from labelgate.backends.local import LocalBackend
from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.inference.records import Box, Example
from labelgate.backends.local.store.db import MIGRATIONS_DIR, Database
from labelgate.backends.local.training.contract import Progress, TrainingRequest, TrainingSettings
from labelgate.backends.local.training.examples import (
    build_request,
    decide_task,
    read_annotations,
)
from labelgate.backends.local.training.jobfile import (
    JobFileError,
    TrainingJob,
    job_from_json,
    job_to_json,
    read_job,
    write_job,
)
from labelgate.backends.local.training.outputs import BlobLocation
from labelgate.backends.local.training.trainer import TrainerConfig
from labelgate.backends.local.training.validation_stage import ValidatedInputs, ValidatedManifest
from labelgate.backends.local.training.worker_protocol import (
    WorkerError,
    WorkerResult,
    error_line,
    parse_line,
    progress_line,
    result_line,
)
from labelgate.cli._extensions import ProgressView, describe
from labelgate.v1 import custom_labels_pb2 as pb
from tests.training_jobs import data

# --- job.json ------------------------------------------------------------------------------------


def _job(tmp_path: Path) -> TrainingJob:
    example = Example("s3://b/a.png", tmp_path / "a.png", 640, 480, ("bolt",),
                      (Box("bolt", 1.5, 2, 30, 40),))
    request = TrainingRequest("detection", ("bolt",), (example,), (example,), tmp_path / "w",
                              TrainingSettings(seed=7, time_budget_s=60.0, threads=1))
    return TrainingJob(request, "arn:x/version/v1/1", "p", "v1",
                       dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC))


def test_job_file_round_trips_the_training_request(tmp_path):
    job = _job(tmp_path)
    write_job(job, tmp_path / "job.json")
    assert read_job(tmp_path / "job.json") == job
    assert json.loads((tmp_path / "job.json").read_text())["format_version"] == 1


def test_job_file_ignores_unknown_settings_and_refuses_other_documents(tmp_path):
    document = job_to_json(_job(tmp_path))
    document["request"]["settings"]["from_the_future"] = True
    assert job_from_json(document).request.settings.seed == 7
    for broken in ({"format": "other"}, {**document, "format_version": 2},
                   {**document, "request": {}}):
        with pytest.raises(JobFileError):
            job_from_json(broken)


# --- the worker's lines --------------------------------------------------------------------------


def test_progress_lines_round_trip_and_drop_what_json_cannot_say():
    progress = Progress("training", epoch=2, total_epochs=9, loss=math.nan,
                        metric_name="macro_f1", metric_value=0.5, eta_seconds=12.0)
    line = progress_line(progress)
    assert "NaN" not in line
    parsed = parse_line(line)
    assert parsed == Progress("training", 2, 9, None, "macro_f1", 0.5, 12.0)


def test_result_and_error_lines_round_trip():
    result = WorkerResult(0.9, ("output/model/model.onnx",), "output/s.json", "t.manifest",
                          "u.manifest", ("index.html",), "output/report", 3.5, 4, {"k": 1})
    assert parse_line(result_line(result)) == result
    assert parse_line(error_line(WorkerError("ValueError", "bad"))) == WorkerError(
        "ValueError", "bad")


@pytest.mark.parametrize("line", ["", "plain text", "[1]", '{"progress": {"epoch": 1}}',
                                  '{"result": {"f1_score": 1}}', '{"a": 1, "b": 2}',
                                  b"\xff\xfe"])
def test_anything_else_on_stdout_is_not_a_protocol_line(line):
    assert parse_line(line) is None


def test_result_paths_must_stay_in_the_workdir(tmp_path):
    result = WorkerResult(1.0, (), "s", "t", "u")
    assert result.path(tmp_path, "output/x") == (tmp_path / "output" / "x").resolve()
    for escape in ("../x", "/etc/passwd", "."):
        with pytest.raises(ValueError):
            result.path(tmp_path, escape)


# --- examples from validated lines ---------------------------------------------------------------


def _validated(blobs: LocalBlobStore, name: str, lines: list, usable: list[int]
               ) -> ValidatedManifest:
    blobs.put("out", name, data.manifest(lines))
    return ValidatedManifest(BlobLocation("out", name), array("I", usable), frozenset())


def test_only_usable_lines_attributes_and_boxes_become_examples(tmp_path):
    blobs = LocalBlobStore(tmp_path / "s3")
    blobs.put("imgs", "a.png", data.png((200, 0, 0), 96, 80))
    ref = "s3://imgs/a.png"
    good = data.detection(ref, [("bolt", 1, 1, 20, 20), ("nut", 40, 40, 20, 20)], 96, 80)
    good["bb"]["annotations"][1]["errors"] = [{"code": "X", "message": "as validation wrote"}]
    good["bb"]["annotations"][1]["left"] = 90  # off frame: the validator drops it again
    other_kind = data.classification(ref, "red")
    lines = [good, other_kind, data.detection(ref, [("nut", 1, 1, 20, 20)], 96, 80)]
    manifest = _validated(blobs, "train.jsonl", lines, [1, 2])
    (first, second) = read_annotations(blobs, manifest, "OBJECT_LOCALIZATION")
    assert first.labels == ("bolt",) and [b.label for b in first.boxes] == ["bolt"]
    assert second.labels == () and second.boxes == ()  # image-level labels do not count here


def test_the_task_follows_the_labels(tmp_path):
    blobs = LocalBlobStore(tmp_path / "s3")
    single = _validated(blobs, "a.jsonl", [data.classification("s3://i/a.png", "x")], [1])
    multi = _validated(blobs, "b.jsonl", [data.classification("s3://i/a.png", "x", "y")], [1])
    one = read_annotations(blobs, single, "IMAGE_LEVEL_LABELS")
    two = read_annotations(blobs, multi, "IMAGE_LEVEL_LABELS")
    assert decide_task("IMAGE_LEVEL_LABELS", one, one) == "classification"
    assert decide_task("IMAGE_LEVEL_LABELS", one, two) == "multilabel"
    assert decide_task("OBJECT_LOCALIZATION", one) == "detection"


def test_test_images_keep_only_the_model_labels(tmp_path):
    blobs = LocalBlobStore(tmp_path / "s3")
    for name in ("a", "b", "c"):
        blobs.put("imgs", f"{name}.png", data.png((9, 9, 9)))
    train = _validated(blobs, "train.jsonl", [data.classification("s3://imgs/a.png", "x")], [1])
    test = _validated(blobs, "test.jsonl", [data.classification("s3://imgs/b.png", "x", "new"),
                                            data.classification("s3://imgs/c.png", "new")],
                      [1, 2])
    inputs = ValidatedInputs("IMAGE_LEVEL_LABELS", ("x",), train, test, False, None)  # type: ignore[arg-type]
    request = build_request(blobs, inputs, tmp_path / "job", TrainingSettings())
    assert request.task == "multilabel"  # one test image carried two labels
    assert [e.labels for e in request.test] == [("x",)]  # the unknown-only image is dropped
    assert request.test[0].image_path.parent == tmp_path / "job" / "images"
    assert (request.test[0].width, request.test[0].height) == (64, 64)
    assert request.workdir == tmp_path / "job" / "work"


# --- settings ------------------------------------------------------------------------------------


def test_trainer_settings_have_safe_defaults_and_parse_environment_text(tmp_path):
    assert TrainerConfig.from_config({}) == TrainerConfig()
    config = TrainerConfig.from_config({
        "models_bucket": "models", "training_time_budget_seconds": "600",
        "training_device": "cuda:1", "training_threads": "2", "training_seed": "5",
        "training_backbone": "resnet18", "max_training_jobs": "3"})
    assert config.settings() == TrainingSettings(seed=5, time_budget_s=600.0,
                                                 backbone="resnet18", device="cuda:1", threads=2)
    assert (config.models_bucket, config.max_concurrent_jobs) == ("models", 3)
    backend = LocalBackend.from_config({"training_threads": 1}, data_dir=tmp_path)
    assert backend.trainer_config.threads == 1


@pytest.mark.parametrize("key, value", [("training_time_budget_seconds", "soon"),
                                        ("training_time_budget_seconds", "-1"),
                                        ("training_threads", "-2"), ("max_training_jobs", "0"),
                                        ("training_device", "tpu"),
                                        ("training_device_typo", "cpu")])
def test_bad_trainer_settings_stop_the_backend_from_loading(tmp_path, key, value):
    with pytest.raises(ValueError, match=key):
        LocalBackend.from_config({key: value}, data_dir=tmp_path)


# --- the CLI's progress display ------------------------------------------------------------------


def _state(**fields) -> pb.WatchProjectVersionResponse:
    return pb.WatchProjectVersionResponse(
        status=pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS, **fields)


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    states = [_state(stage="validating", elapsed_seconds=1),
              _state(stage="validating", elapsed_seconds=16),  # a heartbeat
              _state(stage="training", epoch=3, total_epochs=12, loss=0.41234,
                     metric_name="macro_f1", metric_value=0.875, eta_seconds=95,
                     elapsed_seconds=61),
              pb.WatchProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED,
                                             elapsed_seconds=3700)]
    plain = io.StringIO()
    view = ProgressView(plain, tty=False)
    for state in states:
        view.update(state)
    view.close()
    lines = plain.getvalue().splitlines()
    assert len(lines) == 3  # the heartbeat changed only the clock
    assert lines[1].endswith("training  epoch 3/12  loss 0.4123  macro_f1 0.8750  eta 1m35s  "
                             "elapsed 1m01s")
    assert lines[2].endswith("TRAINING_COMPLETED  elapsed 1h01m")

    tty = io.StringIO()
    view = ProgressView(tty, tty=True)
    for state in states:
        view.update(state)
    view.close()
    drawn = tty.getvalue()
    assert drawn.count("\r") == 4 and drawn.endswith("\n")
    assert "[######..................]  25%" in drawn
    assert "[########################] 100%" in drawn


def test_describe_names_a_failure_by_its_status():
    failed = pb.WatchProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_TRAINING_FAILED,
                                            status_message="boom", stage="training")
    assert describe(failed) == "TRAINING_FAILED"


# --- migration 0003 ------------------------------------------------------------------------------


def test_migration_0003_adds_the_job_columns_to_existing_versions(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.execute(text(
                "INSERT INTO projects (id, arn, name, feature, status, created_at) VALUES "
                "(1, 'arn:p', 'p', 'CUSTOM_LABELS', 'CREATED', '2026-01-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO project_versions (id, arn, project_id, name, status, "
                "status_message, created_at, billable_training_seconds) VALUES "
                "(1, 'arn:v', 1, 'v1', 'TRAINING_COMPLETED', 'ok', '2026-01-01 00:00:00', 7)"))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        columns = {c["name"] for c in inspect(db.engine).get_columns("project_versions")}
        assert {"training_progress", "progress_updated_at", "worker_pid", "worker_host",
                "evaluation_result", "model_bundle"} <= columns
        with db.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT name, billable_training_seconds, model_bundle, worker_pid "
                "FROM project_versions")).one()
        assert tuple(row) == ("v1", 7, None, None)
    finally:
        db.close()
