"""The labelgate extensions over real gRPC: WatchProjectVersion and ExportProjectVersion
through the gateway (client -> loopback -> interceptor -> router -> local backend), their
metrics, and the CLI commands on top (`watch-project-version`, `export-model`,
`create-project-version --wait`)."""

from __future__ import annotations

import json
import urllib.request
import zipfile
from collections.abc import AsyncIterator, Iterator

import pytest

from labelgate import errors, shapes
from labelgate.backends.base import BackendBase, undefined_operations
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.e2e.blobs import put_blob
from tests.training_jobs import data
from tests.training_jobs.fake_learner import EPOCH_SECONDS_ENV, EPOCHS_ENV, MODE_ENV

BUCKET, OUT = "ext-data", "ext-out"
COMPLETED = pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("gateway"), shutdown_grace_seconds=1,
                        backends={"local": {"training_threads": 1, "training_learner": "fake"}})
    with running_gateway(settings) as gw:
        yield gw


@pytest.fixture
def client(gateway) -> Iterator[Client]:
    with Client(gateway.address) as c:
        yield c


_images = iter(range(10**6))


def _project(client: Client, gateway, name: str) -> str:
    project = client.create_project(project_name=name).project_arn
    for kind, count in (("TRAIN", 3), ("TEST", 1)):
        lines = []
        for label in ("red", "green") * count:
            key = f"{name}/{next(_images)}.png"
            put_blob(gateway, BUCKET, key, data.png(data.COLOURS[label]))
            lines.append(data.classification(f"s3://{BUCKET}/{key}", label))
        put_blob(gateway, BUCKET, f"{name}-{kind}.manifest", data.manifest(lines))
        arn = client.create_dataset(project_arn=project, dataset_type=kind, dataset_source={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET,
                                                 "Name": f"{name}-{kind}.manifest"}}},
        ).dataset_arn
        client.wait_dataset_created(arn, delay=0.05, max_attempts=400)
    return project


def _train(client: Client, gateway, name: str) -> str:
    project = _project(client, gateway, name)
    return client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": OUT, "S3KeyPrefix": name}).project_version_arn


def test_the_extensions_are_server_streaming_and_not_aws_operations():
    assert {"WatchProjectVersion", "ExportProjectVersion", "GetInferenceUsage"} <= set(
        shapes.STREAMING_OPERATIONS)
    assert not set(shapes.STREAMING_OPERATIONS) & set(shapes.OPERATIONS)
    methods = shapes.SERVICE.methods_by_name
    for name in shapes.STREAMING_OPERATIONS:
        assert methods[name].server_streaming and not methods[name].client_streaming


def test_watch_streams_progress_until_training_ends(client, gateway, monkeypatch):
    monkeypatch.setenv(EPOCH_SECONDS_ENV, "0.6")
    arn = _train(client, gateway, "watch")
    messages = list(client.watch_project_version(arn))
    assert messages[0].status == pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS
    assert messages[-1].status == COMPLETED
    assert messages[-1].status_message == "The model is ready to run."
    assert any(m.stage == "training" and m.total_epochs == 3 for m in messages)


def test_export_writes_the_bundle_to_a_file_or_into_a_directory(client, gateway, tmp_path):
    arn = _train(client, gateway, "export")
    list(client.watch_project_version(arn))
    seen: list[tuple[int, int | None]] = []
    path = client.export_project_version(arn, tmp_path, on_progress=lambda *a: seen.append(a))
    assert path == tmp_path / "export-v1.zip"
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    with zipfile.ZipFile(path) as archive:
        assert {"model.onnx", "model.json", "EvaluationResultSummary-export-v1.json"} <= set(
            archive.namelist())
    named = client.export_project_version(arn, tmp_path / "mine.zip")
    assert named.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export-v1.zip", "mine.zip"]


def test_unknown_and_untrained_versions_are_aws_errors(client, gateway, monkeypatch, tmp_path):
    monkeypatch.setenv(EPOCHS_ENV, "2")
    monkeypatch.setenv(EPOCH_SECONDS_ENV, "1.5")
    arn = _train(client, gateway, "errors")
    with pytest.raises(errors.ResourceNotReadyException):
        client.export_project_version(arn, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind
    missing = arn.replace("/v1/", "/nope/")
    with pytest.raises(errors.ResourceNotFoundException):
        list(client.watch_project_version(missing))
    with pytest.raises(errors.ResourceNotFoundException):
        client.export_project_version(missing, tmp_path)
    with pytest.raises(errors.InvalidParameterException):
        list(client.watch_project_version(""))
    assert list(client.watch_project_version(arn))[-1].status == COMPLETED


def test_streaming_calls_are_counted_on_the_metrics_page(client, gateway):
    arn = _train(client, gateway, "metrics")
    list(client.watch_project_version(arn))
    page = urllib.request.urlopen(gateway.metrics_url, timeout=10).read().decode()
    assert 'labelgate_requests_total{backend="local",code="OK",method="WatchProjectVersion"}' \
        in page
    assert 'labelgate_stream_messages_total{backend="local",method="WatchProjectVersion"}' \
        in page
    assert 'labelgate_training_jobs_total{status="TRAINING_COMPLETED"}' in page
    assert "labelgate_training_seconds_total" in page


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_create_with_wait_shows_progress_and_export_model_writes_the_zip(
        client, gateway, cli, tmp_path):
    project = _project(client, gateway, "cli")
    created = cli("create-project-version", "--endpoint", gateway.address,
                  "--project-arn", project, "--version-name", "v1",
                  "--output-config", f"S3Bucket={OUT},S3KeyPrefix=cli", "--wait")
    assert created.code == 0, created.err
    arn = json.loads(created.out)["ProjectVersionArn"]
    lines = created.err.splitlines()  # not a terminal: one plain line per change
    assert any("TRAINING_COMPLETED" in line for line in lines)
    assert all("\r" not in line for line in lines)

    watched = cli("watch-project-version", "--endpoint", gateway.address,
                  "--project-version-arn", arn)
    assert watched.code == 0
    assert json.loads(watched.out) == {"ProjectVersionArn": arn, "Status": "TRAINING_COMPLETED",
                                       "StatusMessage": "The model is ready to run."}

    target = tmp_path / "model.zip"
    exported = cli("export-model", "--endpoint", gateway.address, "--project-version-arn", arn,
                   "--output", target)
    assert exported.code == 0, exported.err
    assert exported.out.strip() == str(target)
    assert "model.onnx" in zipfile.ZipFile(target).namelist()


def test_cli_reports_a_failed_training_and_a_missing_model(client, gateway, cli, monkeypatch,
                                                           tmp_path):
    monkeypatch.setenv(MODE_ENV, "crash")
    project = _project(client, gateway, "clifail")
    failed = cli("create-project-version", "--endpoint", gateway.address,
                 "--project-arn", project, "--version-name", "v1",
                 "--output-config", f"S3Bucket={OUT}", "--wait")
    assert failed.code == 255
    assert "failed: Amazon Rekognition experienced a service issue. Training stopped with an " \
           "error: the fake learner was told to crash." in failed.err
    (desc,) = client.describe_project_versions(
        project_arn=project).project_version_descriptions
    missing = cli("export-model", "--endpoint", gateway.address,
                  "--project-version-arn", desc.project_version_arn, "--output", tmp_path)
    assert missing.code == 254
    assert "ResourceNotReadyException" in missing.err


# --- the gateway's envelope around streams ----------------------------------------------------


class _BrokenStreams(BackendBase):
    """Streams one message, then fails unexpectedly; the second extension is missing."""

    name = "broken"

    def owns_arn(self, arn: str) -> bool:
        return True

    async def _watch(self) -> AsyncIterator[pb.WatchProjectVersionResponse]:
        yield pb.WatchProjectVersionResponse(project_version_arn="arn:x", stage="training")
        raise RuntimeError("a secret detail that must not reach the caller")

    def watch_project_version(self, request, context):
        return self._watch()


_BrokenStreams.unimplemented = undefined_operations(_BrokenStreams)


def test_a_stream_that_breaks_ends_with_internal_error_and_no_detail():
    with running_gateway(backends={"broken": _BrokenStreams()}, default_backend="broken",
                         metrics_port=0) as gw, Client(gw.address) as c:
        stream = c.watch_project_version("arn:x")
        assert next(stream).stage == "training"
        with pytest.raises(errors.InternalServerError) as caught:
            next(stream)
        assert "secret" not in str(caught.value)
        assert caught.value.request_id
        with pytest.raises(errors.LabelgateError, match="not implemented"):
            c.export_project_version("arn:x", "unused.zip")
