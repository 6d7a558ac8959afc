"""Training jobs on a started LocalBackend, with the tiny test learner (fake_learner.py).

`make_jobs(config)` starts a LocalBackend (SQLite; PostgreSQL too where a test asks for
`@pytest.mark.parametrize("database", DATABASES, indirect=True)` and
LABELGATE_TEST_POSTGRES_URL is set) and wraps it in `Jobs`, which seeds images, datasets and
versions and reads the results. Every worker runs with one thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labelgate.backends.base import RequestContext
from labelgate.backends.local import LocalBackend
from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.shapes import from_aws
from labelgate.v1 import custom_labels_pb2 as pb
from tests.cli_runner import cli
from tests.local.conftest import (  # noqa: F401  (session fixtures used by `database`)
    DATABASES,
    _postgres_migrated,
    _sqlite_template,
    backend_handler,
    emptied_database,
)
from tests.training_jobs import data
from tests.training_jobs.fake_learner import (
    EPOCH_SECONDS_ENV,
    EPOCHS_ENV,
    MODE_ENV,
    PID_FILE_ENV,
)

CONTEXT = RequestContext(request_id="test-request", operation="test")
IMAGES, MANIFESTS, OUT = "imgs", "manifests", "out"
OUTPUT_CONFIG = {"S3Bucket": OUT, "S3KeyPrefix": "runs"}
DEADLINE_S = 60.0

__all__ = ["DATABASES", "Jobs", "cli"]


@pytest.fixture(autouse=True)
def fake_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers use the tiny test learner; each test sets its misbehaviour itself."""
    for name in (MODE_ENV, EPOCHS_ENV, PID_FILE_ENV, EPOCH_SECONDS_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store: SQLite unless the test parametrizes it."""
    return emptied_database(request, getattr(request, "param", "sqlite"), tmp_path)


class Jobs:
    """A running LocalBackend and the data it trains on."""

    def __init__(self, backend: LocalBackend, runner: asyncio.Runner) -> None:
        self.backend = backend
        self.runner = runner
        self.blobs = LocalBlobStore(Path(backend.data_dir) / "s3")
        self._images = 0

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def call(self, operation: str, request: Any) -> Any:
        return self.run(backend_handler(self.backend, operation)(request, CONTEXT))

    def collect(self, operation: str, request: Any) -> list[Any]:
        """Every message of a streaming RPC."""
        async def gather() -> list[Any]:
            return [m async for m in backend_handler(self.backend, operation)(request, CONTEXT)]

        return self.run(gather())

    # -- data ------------------------------------------------------------------------------
    def image(self, *labels: str) -> str:
        self._images += 1
        key = f"img/{self._images:05}.png"
        self.blobs.put(IMAGES, key, data.png(data.label_colour(labels), shade=self._images % 7))
        return f"s3://{IMAGES}/{key}"

    def cls_lines(self, *labels: str) -> list[dict[str, Any]]:
        return [data.classification(self.image(label), label) for label in labels]

    def project(self, name: str = "p") -> str:
        return self.call("create_project", pb.CreateProjectRequest(project_name=name)).project_arn

    def dataset(self, project: str, kind: str, lines: Sequence[dict[str, Any]]) -> str:
        key = f"{project.split('/')[1]}-{kind}.manifest"
        self.blobs.put(MANIFESTS, key, data.manifest(lines))
        request = pb.CreateDatasetRequest(project_arn=project,
                                          dataset_type=pb.DatasetType.Value(f"DATASET_TYPE_{kind}"))
        from_aws({"GroundTruthManifest": {"S3Object": {"Bucket": MANIFESTS, "Name": key}}},
                 request.dataset_source)
        arn = self.call("create_dataset", request).dataset_arn
        self.run(self.backend.datasets.wait_idle())
        return arn

    # -- versions --------------------------------------------------------------------------
    def create(self, project: str, name: str = "v1", output: Mapping[str, Any] | None = None,
               **fields: Any) -> str:
        request = pb.CreateProjectVersionRequest(project_arn=project, version_name=name)
        from_aws(dict(output or OUTPUT_CONFIG), request.output_config)
        for field, value in fields.items():
            from_aws(value, getattr(request, field))
            getattr(request, field).SetInParent()
        return self.call("create_project_version", request).project_version_arn

    def wait(self) -> None:
        self.run(self.backend.training.wait_idle())

    def train(self, project: str, name: str = "v1", **fields: Any
              ) -> pb.ProjectVersionDescription:
        self.create(project, name, **fields)
        self.wait()
        return self.describe(project, name)

    def describe(self, project: str, name: str = "v1") -> pb.ProjectVersionDescription:
        response = self.call("describe_project_versions", pb.DescribeProjectVersionsRequest(
            project_arn=project, version_names=[name]))
        (description,) = response.project_version_descriptions
        return description

    def row(self, arn: str) -> ProjectVersion:
        assert self.backend.db is not None
        return self.backend.db.run_sync(
            lambda s: s.scalar(select(ProjectVersion).where(ProjectVersion.arn == arn)))

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = DEADLINE_S
              ) -> Any:
        """Run the loop (so jobs progress) until `predicate()` is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.run(asyncio.sleep(0.05))

    def read_json(self, bucket: str, key: str) -> Any:
        return json.loads(self.blobs.read(bucket, key))

    def job_dir(self, arn: str) -> Path:
        return Path(self.backend.data_dir) / "training" / str(self.row(arn).id)


@pytest.fixture
def make_jobs(tmp_path: Path, database: str) -> Iterator[Callable[..., Jobs]]:
    """Start a LocalBackend (one thread per worker, plus `config`); stopped at teardown."""
    started: list[tuple[LocalBackend, asyncio.Runner]] = []

    def make(config: Mapping[str, Any] | None = None) -> Jobs:
        backend = LocalBackend.from_config(
            {"database_url": database, "training_threads": 1, "training_learner": "fake",
             **(config or {})},
            data_dir=tmp_path / "data",
        )
        runner = asyncio.Runner()
        runner.run(backend.start())
        started.append((backend, runner))
        return Jobs(backend, runner)

    yield make
    for backend, runner in reversed(started):
        runner.run(backend.stop())
        runner.close()


@pytest.fixture
def jobs(make_jobs: Callable[..., Jobs]) -> Jobs:
    return make_jobs()
