"""An S3 outage in the middle of a job, on the S3-protocol blob store (a real moto_server
that the test stops while the gateway reads from it).

The job ends with a status message that says the store was unreachable and names its
endpoint (never a server path or a traceback), not with a data error; nothing else is lost:
the records that were complete stay complete, the failed one can be deleted, and once the
store is back the same work succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from labelgate import errors
from labelgate.backends.local.blobs.stores import S3BlobStore
from labelgate.backends.local.training import examples
from labelgate.client import Client, WaiterError
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.e2e.stoppable_s3 import StoppableS3, stoppable_s3_server
from tests.fixtures_s3 import CREDENTIALS, REGION
from tests.training_jobs import data

pytestmark = pytest.mark.slow

DATA, OUT = "outage-data", "outage-out"
LABELS = ("red", "green")
WAIT = {"delay": 0.05, "max_attempts": 600}
DEADLINE_S = 60.0


def _lines(kind: str, per_label: int) -> dict[str, tuple[list[dict], dict[str, bytes]]]:
    lines, images = [], {}
    for i in range(per_label):
        for label in LABELS:
            key = f"images/{kind}/{label}-{i}.png"
            images[key] = data.png(data.COLOURS[label], shade=i)
            lines.append(data.classification(f"s3://{DATA}/{key}", label))
    return {f"manifests/{kind}.manifest": (lines, images)}


#: Every object the tests start from: manifest key -> (its lines, its images).
OBJECTS = {**_lines("train", 6), **_lines("test", 3)}


def _seed(url: str) -> None:
    """The buckets and every object, through boto3 (moto keeps them in memory only)."""
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, **CREDENTIALS)
    for bucket in (DATA, OUT):
        s3.create_bucket(Bucket=bucket)
    for key, (lines, images) in OBJECTS.items():
        s3.put_object(Bucket=DATA, Key=key, Body=data.manifest(lines))
        for image_key, body in images.items():
            s3.put_object(Bucket=DATA, Key=image_key, Body=body)


def _source(kind: str) -> dict:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": DATA,
                                                 "Name": f"manifests/{kind}.manifest"}}}


@dataclass
class Outage:
    server: StoppableS3
    client: Client
    data_dir: Path

    def restart(self) -> None:
        """The store comes back at the same endpoint (empty, as moto starts), re-seeded."""
        port = self.server.port
        self._restarted = stoppable_s3_server(port)
        self.server = self._restarted.__enter__()
        _seed(self.server.url)

    def assert_unreachable_message(self, message: str) -> None:
        assert f"The S3 store at {self.server.url} was unreachable" in message, message
        for data_error in ("ERROR_", "manifest file", "Failed to copy images"):
            assert data_error not in message, message
        assert str(self.data_dir) not in message and "Traceback" not in message, message


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[Outage]:
    with stoppable_s3_server() as server:
        _seed(server.url)
        local = {"blob_store": "s3", "s3_endpoint_url": server.url, "s3_region": REGION,
                 "s3_access_key_id": CREDENTIALS["aws_access_key_id"],
                 "s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
                 "training_learner": "fake"}
        settings = Settings(data_dir=tmp_path, backends={"local": local},
                            shutdown_grace_seconds=1)
        with running_gateway(settings) as gateway, Client(gateway.address) as client:
            state = Outage(server, client, tmp_path)
            try:
                yield state
            finally:
                restarted = getattr(state, "_restarted", None)
                if restarted is not None:
                    restarted.__exit__(None, None, None)


def _stop_before(server_of: Callable[[], StoppableS3], call: Callable[..., Any],
                 when: Callable[..., bool]) -> Callable[..., Any]:
    """`call`, except that the first call for which `when(...)` holds stops the store first."""
    lock, done = threading.Lock(), threading.Event()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not done.is_set() and when(*args, **kwargs):
            with lock:
                if not done.is_set():
                    server_of().stop()
                    done.set()
        return call(*args, **kwargs)

    return wrapper


def _entries(client: Client, arn: str) -> int:
    return sum(len(page["DatasetEntries"]) for page in client.paginate(
        "ListDatasetEntries", {"DatasetArn": arn}))


def _version(client: Client, project: str, name: str) -> pb.ProjectVersionDescription:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        (desc,) = client.describe_project_versions(
            project_arn=project, version_names=[name]).project_version_descriptions
        if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS:
            return desc
        assert time.monotonic() < deadline, desc.status_message
        time.sleep(0.1)


def test_an_outage_during_a_dataset_import_fails_it_as_unreachable_and_loses_nothing(
        outage: Outage, monkeypatch: pytest.MonkeyPatch):
    client = outage.client
    project = client.create_project(project_name="outage-import").project_arn
    train = client.create_dataset(project_arn=project, dataset_type="TRAIN",
                                  dataset_source=_source("train")).dataset_arn
    client.wait_dataset_created(train, **WAIT)

    # The next import reads its manifest, then the store goes away at its first image.
    monkeypatch.setattr(S3BlobStore, "size", _stop_before(
        lambda: outage.server, S3BlobStore.size,
        lambda _store, _bucket, key: key.startswith("images/test/")))
    test = client.create_dataset(project_arn=project, dataset_type="TEST",
                                 dataset_source=_source("test")).dataset_arn
    with pytest.raises(WaiterError):  # it failed
        client.wait_dataset_created(test, **WAIT)
    failed = client.describe_dataset(dataset_arn=test).dataset_description
    assert failed.status == pb.DATASET_STATUS_CREATE_FAILED
    assert failed.status_message_code == pb.DATASET_STATUS_MESSAGE_CODE_SERVICE_ERROR
    outage.assert_unreachable_message(failed.status_message)
    assert failed.dataset_stats.total_entries == 0  # no partial import is kept

    # Nothing else changed: the complete dataset is whole, the project lists both.
    kept = client.describe_dataset(dataset_arn=train).dataset_description
    assert kept.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert _entries(client, train) == kept.dataset_stats.total_entries == 12
    (described,) = client.describe_projects(project_names=["outage-import"]).project_descriptions
    assert {d.dataset_arn for d in described.datasets} == {train, test}

    # A call that needs the store while it is away says so too (not "no such object").
    other = client.create_project(project_name="other").project_arn
    with pytest.raises(errors.InternalServerError) as caught:
        client.create_dataset(project_arn=other, dataset_type="TRAIN",
                              dataset_source=_source("train"))
    outage.assert_unreachable_message(caught.value.message)

    # The failed dataset is deleted and, with the store back, imported again.
    client.delete_dataset(dataset_arn=test)
    outage.restart()
    again = client.create_dataset(project_arn=project, dataset_type="TEST",
                                  dataset_source=_source("test")).dataset_arn
    client.wait_dataset_created(again, **WAIT)
    assert _entries(client, again) == 6


def test_an_outage_while_training_copies_images_fails_the_version_as_unreachable(
        outage: Outage, monkeypatch: pytest.MonkeyPatch):
    client = outage.client
    project = client.create_project(project_name="outage-train").project_arn
    datasets = []
    for kind in ("TRAIN", "TEST"):
        arn = client.create_dataset(project_arn=project, dataset_type=kind,
                                    dataset_source=_source(kind.lower())).dataset_arn
        client.wait_dataset_created(arn, **WAIT)
        datasets.append(arn)

    # Validation passes (its image probes see the store); the store goes away as the
    # trainer starts copying the images.
    monkeypatch.setattr(examples, "materialize", _stop_before(
        lambda: outage.server, examples.materialize, lambda *_args: True))
    output = {"S3Bucket": OUT, "S3KeyPrefix": "runs"}
    client.create_project_version(project_arn=project, version_name="v1", output_config=output)
    desc = _version(client, project, "v1")
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    outage.assert_unreachable_message(desc.status_message)
    assert f"s3://{DATA}/images/" in desc.status_message  # the object it was reading

    # The datasets are untouched; the failed version can be deleted.
    for arn, count in zip(datasets, (12, 6), strict=True):
        kept = client.describe_dataset(dataset_arn=arn).dataset_description
        assert kept.status == pb.DATASET_STATUS_CREATE_COMPLETE
        assert _entries(client, arn) == count
    client.delete_project_version(project_version_arn=desc.project_version_arn)
    assert not client.describe_project_versions(
        project_arn=project, version_names=["v1"]).project_version_descriptions

    # With the store back, the same training succeeds (the store was stopped only once).
    outage.restart()
    client.create_project_version(project_arn=project, version_name="v2", output_config=output)
    retried = _version(client, project, "v2")
    assert retried.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, retried.status_message
