"""A training job end to end on the local backend, with the tiny test learner: the worker
process, the published outputs, the recorded progress and results, failures, restarts."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile

import pytest

from labelgate.backends.local.core import processes
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.backends.local.training.inputs import DatasetInput, TrainingInputs
from labelgate.errors import ResourceNotFoundException, ResourceNotReadyException
from labelgate.shapes import to_aws
from labelgate.v1 import custom_labels_pb2 as pb
from tests.local.conftest import Local
from tests.training_jobs import data
from tests.training_jobs.conftest import DATABASES, IMAGES, OUT, Jobs
from tests.training_jobs.fake_learner import EPOCH_SECONDS_ENV, EPOCHS_ENV, MODE_ENV

COMPLETED = "The model is ready to run."
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."
MODELS = "labelgate-models"


def classification_project(jobs: Jobs, *, test: bool = True) -> str:
    project = jobs.project()
    jobs.dataset(project, "TRAIN", jobs.cls_lines(*["red", "green", "blue"] * 4))
    if test:
        jobs.dataset(project, "TEST", jobs.cls_lines(*["red", "green", "blue"] * 2))
    return project


def export_zip(jobs: Jobs, arn: str) -> zipfile.ZipFile:
    chunks = jobs.collect("export_project_version",
                          pb.ExportProjectVersionRequest(project_version_arn=arn))
    assert chunks[0].file_name == "p-v1.zip"
    payload = b"".join(c.data for c in chunks)
    assert len(payload) == chunks[0].total_bytes
    return zipfile.ZipFile(io.BytesIO(payload))


# --- success -------------------------------------------------------------------------------------


@pytest.mark.parametrize("database", DATABASES, indirect=True)
def test_a_trained_version_has_every_result_field_and_file(jobs):
    project = classification_project(jobs)
    desc = jobs.train(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, desc.status_message
    assert desc.status_message == COMPLETED
    assert desc.billable_training_time_in_seconds >= 1
    assert desc.training_end_timestamp.ToDatetime() >= desc.creation_timestamp.ToDatetime()

    described = to_aws(desc)
    summary_key = "runs/EvaluationResultSummary-p-v1.json"
    assert described["EvaluationResult"] == {
        "F1Score": 1.0, "Summary": {"S3Object": {"Bucket": OUT, "Name": summary_key}}}
    assert described["TrainingDataResult"]["Output"] == {"Assets": [{"GroundTruthManifest": {
        "S3Object": {"Bucket": OUT, "Name": "runs/v1/evaluation/training_snapshot.manifest"}}}]}
    assert described["TestingDataResult"]["Output"] == {"Assets": [{"GroundTruthManifest": {
        "S3Object": {"Bucket": OUT, "Name": "runs/v1/evaluation/testing_snapshot.manifest"}}}],
        "AutoCreate": False}
    assert "Validation" in described["TrainingDataResult"]  # validation's stay

    summary = jobs.read_json(OUT, summary_key)
    assert summary["EvaluationDetails"]["ProjectVersionArn"] == desc.project_version_arn
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] == 12
    assert summary["EvaluationDetails"]["NumberOfTestingImages"] == 6
    outputs = {info.key for info in jobs.blobs.list(OUT, "runs/v1/evaluation/")}
    assert "runs/v1/evaluation/report/index.html" in outputs
    testing = jobs.blobs.read(OUT, "runs/v1/evaluation/testing_snapshot.manifest").decode()
    assert len(testing.splitlines()) == 6

    row = jobs.row(desc.project_version_arn)
    assert row.worker_pid is None and row.worker_host is None and row.pending_job is None
    assert row.training_progress["stage"] == "exporting"
    bundle = row.model_bundle
    assert bundle["bucket"] == MODELS
    assert bundle["prefix"] == f"p/v1/{desc.project_version_arn.rsplit('/', 1)[1]}/"
    assert {"model.onnx", "model.json", "EvaluationResultSummary-p-v1.json",
            "report/index.html"} <= set(bundle["files"])
    card = jobs.read_json(MODELS, bundle["prefix"] + "model.json")
    assert card["task"] == "classification"
    assert card["labels"] == ["blue", "green", "red"]
    assert card["onnx_file"] == "model.onnx"
    assert set(card["thresholds"]) == {"blue", "green", "red"}
    assert card["metrics"]["F1Score"] == 1.0

    # The job's folder keeps the job and the log only.
    assert sorted(p.name for p in jobs.job_dir(desc.project_version_arn).iterdir()) == [
        "job.json", "worker.log"]


def test_export_hands_back_the_bundle_as_a_zip(jobs):
    desc = jobs.train(classification_project(jobs))
    archive = export_zip(jobs, desc.project_version_arn)
    names = set(archive.namelist())
    assert {"model.onnx", "model.json", "EvaluationResultSummary-p-v1.json",
            "report/index.html"} <= names
    card = json.loads(archive.read("model.json"))
    assert card["metrics"]["F1Score"] == 1.0
    import onnx

    onnx.checker.check_model(onnx.load_from_string(archive.read("model.onnx")))


def test_export_of_an_unknown_or_untrained_version_is_refused(jobs, monkeypatch):
    project = classification_project(jobs)
    with pytest.raises(ResourceNotFoundException):
        jobs.collect("export_project_version", pb.ExportProjectVersionRequest(
            project_version_arn=f"{project.rsplit('/', 1)[0]}/version/none/1"))
    monkeypatch.setenv(MODE_ENV, "crash")
    failed = jobs.train(project)
    assert failed.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    with pytest.raises(ResourceNotReadyException):
        jobs.collect("export_project_version",
                     pb.ExportProjectVersionRequest(project_version_arn=failed.project_version_arn))


def test_without_a_test_dataset_the_training_set_is_split_80_20(jobs):
    project = classification_project(jobs, test=False)
    desc = jobs.train(project)
    assert desc.status_message == COMPLETED
    described = to_aws(desc)
    assert described["TestingDataResult"]["Output"]["AutoCreate"] is True
    assert described["TestingDataResult"]["Input"] == {"AutoCreate": True}
    summary = jobs.read_json(OUT, "runs/EvaluationResultSummary-p-v1.json")
    details = summary["EvaluationDetails"]
    assert (details["NumberOfTrainingImages"], details["NumberOfTestingImages"]) == (9, 3)
    training = jobs.blobs.read(OUT, "runs/v1/evaluation/training_snapshot.manifest").decode()
    testing = jobs.blobs.read(OUT, "runs/v1/evaluation/testing_snapshot.manifest").decode()
    refs = lambda text: {json.loads(line)["source-ref"] for line in text.splitlines()}  # noqa: E731
    assert not refs(training) & refs(testing)  # images taken for testing are not trained on


def test_several_labels_on_an_image_train_a_multilabel_model(jobs):
    project = jobs.project()
    combos = [("red",), ("blue",), ("red", "blue")] * 4
    jobs.dataset(project, "TRAIN",
                 [data.classification(jobs.image(*c), *c) for c in combos])
    jobs.dataset(project, "TEST",
                 [data.classification(jobs.image(*c), *c) for c in combos[:3]])
    desc = jobs.train(project)
    assert desc.status_message == COMPLETED
    card = json.loads(export_zip(jobs, desc.project_version_arn).read("model.json"))
    assert card["task"] == "multilabel"


def test_boxes_train_a_detector_and_bad_boxes_are_left_out(jobs):
    project = jobs.project()
    lines = [data.detection(jobs.image("red"), [("bolt", 4, 4, 30, 30)]) for _ in range(5)]
    bad = data.detection(jobs.image("red"), [("bolt", 4, 4, 30, 30), ("bolt", 50, 50, 30, 30)])
    jobs.dataset(project, "TRAIN", [*lines, bad])
    jobs.dataset(project, "TEST",
                 [data.detection(jobs.image("red"), [("bolt", 4, 4, 30, 30)]) for _ in range(2)])
    desc = jobs.train(project)
    assert desc.status_message == COMPLETED
    job = json.loads((jobs.job_dir(desc.project_version_arn) / "job.json").read_text())
    assert job["request"]["task"] == "detection"
    boxes = [e["boxes"] for e in job["request"]["train"]]
    assert boxes[-1] == [{"label": "bolt", "left": 4.0, "top": 4.0, "width": 30.0,
                          "height": 30.0}]  # the off-frame box carried errors: left out


# --- progress ------------------------------------------------------------------------------------


def test_progress_is_recorded_and_watch_streams_it_to_the_end(jobs, monkeypatch):
    monkeypatch.setenv(EPOCHS_ENV, "3")
    monkeypatch.setenv(EPOCH_SECONDS_ENV, "0.7")
    arn = jobs.create(classification_project(jobs))
    messages = jobs.collect("watch_project_version",
                            pb.WatchProjectVersionRequest(project_version_arn=arn))
    assert messages[0].status == pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS
    last = messages[-1]
    assert last.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    assert last.status_message == COMPLETED
    assert last.elapsed_seconds > 0
    epochs = [m for m in messages if m.stage == "training"]
    assert epochs and epochs[-1].total_epochs == 3
    # Progress is written at most every 0.5 s, so under load an epoch may be folded into
    # the next report; what must hold is that epochs arrive in order while it trains.
    seen = [m.epoch for m in epochs]
    assert seen == sorted(seen) and len(set(seen)) >= 2, seen
    assert epochs[-1].loss == pytest.approx(1 / 3)
    assert epochs[-1].metric_name == "accuracy"
    assert all(m.project_version_arn == arn for m in messages)
    stages = [m.stage for m in messages]
    assert stages.index("training") < stages.index("exporting")


def test_watching_a_finished_or_unknown_version(jobs):
    desc = jobs.train(classification_project(jobs))
    (only,) = jobs.collect("watch_project_version", pb.WatchProjectVersionRequest(
        project_version_arn=desc.project_version_arn))
    assert only.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    with pytest.raises(ResourceNotFoundException):
        jobs.collect("watch_project_version", pb.WatchProjectVersionRequest(
            project_version_arn=desc.project_version_arn + "0"))


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, how", [
    ("crash", "Training stopped with an error: the fake learner was told to crash."),
    ("exit", "The training worker exited with code 3 before it finished."),
    ("kill", "The training worker was killed (SIGKILL), most likely because the machine ran "
             "out of memory."),
    ("oom", "The training worker ran out of memory."),
    ("bad-image", "Training stopped with an error: cannot identify image file "
                  "'s3://imgs/"),
])
def test_a_worker_that_dies_fails_the_version_with_a_clear_message(jobs, monkeypatch, mode,
                                                                   how, caplog):
    monkeypatch.setenv(MODE_ENV, mode)
    with caplog.at_level(logging.WARNING, logger="labelgate"):
        desc = jobs.train(classification_project(jobs))
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    message = desc.status_message
    assert message.startswith(f"{SERVICE_ISSUE} {how}"), message
    assert message.endswith("The gateway's log has the details."), message
    # Nothing of the server's own: no path (the job folder, the image copies), no traceback.
    log_path = jobs.job_dir(desc.project_version_arn) / "worker.log"
    assert str(jobs.job_dir(desc.project_version_arn).parent) not in message
    assert "/" not in re.sub(r"s3://\S+", "", message)
    assert "Traceback" not in message and "worker.log" not in message
    assert desc.HasField("training_end_timestamp")
    assert not desc.HasField("billable_training_time_in_seconds")
    assert not desc.HasField("evaluation_result")
    # The operator's side: the gateway's log repeats the worker log's last lines.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert desc.project_version_arn in logged and "last lines of" in logged
    if mode == "crash":
        assert "the fake learner was told to crash" in log_path.read_text()
        assert "the fake learner was told to crash" in logged
    assert jobs.row(desc.project_version_arn).worker_pid is None


# --- stopping and restarting ---------------------------------------------------------------------


def _running_worker(jobs: Jobs, arn: str) -> int:
    return jobs.until(lambda: jobs.row(arn).worker_pid, "the worker to start")


def test_close_stops_the_worker_and_the_next_start_trains_again(jobs, make_jobs, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "hang")
    project = classification_project(jobs)
    arn = jobs.create(project)
    pid = _running_worker(jobs, arn)
    jobs.until(lambda: (jobs.row(arn).training_progress or {}).get("stage") == "training",
               "progress from the worker")
    jobs.run(jobs.backend.training.close())
    assert not processes.is_worker_for(pid, jobs.job_dir(arn) / "job.json")
    row = jobs.row(arn)
    assert row.status == "TRAINING_IN_PROGRESS" and row.worker_pid is None

    monkeypatch.delenv(MODE_ENV)
    restarted = make_jobs()
    restarted.wait()
    assert restarted.describe(project).status_message == COMPLETED
    # The interrupted attempt's log is kept beside the new one.
    assert sorted(p.name for p in jobs.job_dir(arn).iterdir()) == [
        "job.json", "worker.log", "worker.previous.log"]
    assert f"worker {pid} starting" in (jobs.job_dir(arn) / "worker.previous.log").read_text()


@pytest.mark.parametrize("database", DATABASES, indirect=True)
def test_a_restart_stops_a_worker_left_behind_and_resumes_the_job(jobs, make_jobs):
    project = classification_project(jobs)
    arn = _seed_training_version(jobs, project, attempts=1)
    job_path = jobs.job_dir(arn) / "job.json"
    # What a gateway killed mid-training leaves: its worker, still running on the job.
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                               processes.WORKER_MODULE, str(job_path)])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        def work(session):
            version = session.get(ProjectVersion, jobs.row(arn).id)
            version.worker_pid, version.worker_host = orphan.pid, processes.this_host()

        jobs.backend.db.run_sync(work)
        jobs.until(lambda: processes.is_worker_for(orphan.pid, job_path), "the orphan to run")
        restarted = make_jobs()
        orphan.wait(timeout=10)
        assert not processes.is_worker_for(orphan.pid, job_path)
        restarted.wait()
        assert restarted.describe(project).status_message == COMPLETED
        assert stranger.poll() is None  # a pid that is not the job's worker is left alone
    finally:
        for process in (orphan, stranger):
            process.kill()
            process.wait()


def _seed_training_version(jobs: Jobs, project: str, attempts: int) -> str:
    """A version as a gateway that died in the training stage leaves it."""
    train, test = jobs.run(_dataset_inputs(jobs))
    return Local(jobs.backend, jobs.runner).add_version(
        project, "v1", status="TRAINING_IN_PROGRESS", output_config={"S3Bucket": OUT},
        pending_job={"stage": "training", "inputs": TrainingInputs(train, test).to_json(),
                     "attempts": attempts},
    )


async def _dataset_inputs(jobs: Jobs) -> tuple[DatasetInput, DatasetInput]:
    from sqlalchemy import select

    from labelgate.backends.local.store.tables import Dataset

    rows = await jobs.backend.db.run(lambda s: list(s.execute(
        select(Dataset.id, Dataset.arn, Dataset.dataset_type).order_by(Dataset.id))))
    by_type = {kind: DatasetInput(i, a) for i, a, kind in rows}
    return by_type["TRAIN"], by_type["TEST"]


def test_a_job_interrupted_too_often_is_failed_not_resumed(jobs, make_jobs):
    project = classification_project(jobs)
    _seed_training_version(jobs, project, attempts=3)
    restarted = make_jobs()
    restarted.wait()
    desc = restarted.describe(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == (f"{SERVICE_ISSUE} Training was interrupted 3 times; it is "
                                   "not started again. The gateway's log has the details.")


def test_a_second_job_waits_for_the_free_worker_slot(jobs, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "hang")
    project = classification_project(jobs)
    first = jobs.create(project, "v1")
    _running_worker(jobs, first)
    second = jobs.create(project, "v2")
    jobs.until(lambda: (jobs.row(second).training_progress or {}).get("stage") == "queued",
               "the second job to queue")
    assert jobs.row(second).worker_pid is None
    jobs.run(jobs.backend.training.close())


def test_deleting_a_version_removes_its_model_and_job_folder(jobs):
    desc = jobs.train(classification_project(jobs))
    arn = desc.project_version_arn
    prefix = jobs.row(arn).model_bundle["prefix"]
    folder = jobs.job_dir(arn)
    jobs.call("delete_project_version", pb.DeleteProjectVersionRequest(project_version_arn=arn))
    assert list(jobs.blobs.list(MODELS, prefix)) == []
    assert not folder.exists()
    assert jobs.blobs.exists(OUT, "runs/EvaluationResultSummary-p-v1.json")  # the user's


def test_images_are_linked_not_copied_from_the_local_blob_store(jobs, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "hang")
    arn = jobs.create(classification_project(jobs))
    _running_worker(jobs, arn)
    images = list((jobs.job_dir(arn) / "images").iterdir())
    assert len(images) == 18
    source = jobs.blobs.root / IMAGES / "img" / "00001.png"
    assert any(os.path.samefile(source, image) for image in images)
    jobs.run(jobs.backend.training.close())


def test_images_gone_after_validation_fail_with_error_failed_images_s3_copy(jobs, monkeypatch):
    """ERROR_FAILED_IMAGES_S3_COPY (training.md §2.4 row 11): the images passed validation but
    the job cannot copy them: here each one is deleted from the blob store just before its
    copy, as a user emptying the bucket mid-training would."""
    from labelgate.backends.local.blobs.stores import parse_s3_uri
    from labelgate.backends.local.training import examples

    real = examples.materialize

    def vanish_then_copy(blobs, source_ref, directory):
        jobs.blobs.delete(*parse_s3_uri(source_ref))
        return real(blobs, source_ref, directory)

    monkeypatch.setattr(examples, "materialize", vanish_then_copy)
    desc = jobs.train(classification_project(jobs))
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    # AWS's sentence, then which image (by its s3:// name, never the server's path) and why.
    assert re.fullmatch(r"Failed to copy images from S3 bucket\. Cannot read the image "
                        r"s3://imgs/\S+: .+\.", desc.status_message), desc.status_message
    assert str(jobs.job_dir(desc.project_version_arn).parent) not in desc.status_message
    assert desc.HasField("manifest_summary")  # validation passed and its files stay
    assert not desc.HasField("evaluation_result")
