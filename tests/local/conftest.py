"""A started LocalBackend per test, on SQLite always and on PostgreSQL when
LABELGATE_TEST_POSTGRES_URL names a server (in a scratch schema, emptied before each test).

Tests stay synchronous: `local.create_project(request)` runs the backend coroutine on the
fixture's event loop with a test RequestContext, so tests read like the API calls they make.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.orm import Session

from labelgate.backends.base import (
    ALL_OPERATIONS,
    RequestContext,
    handler_table,
)
from labelgate.backends.local import LocalBackend
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.tables import Base, Dataset, ProjectVersion
from labelgate.errors import NotImplementedOperation
from labelgate.shapes import snake_operation
from labelgate.v1 import custom_labels_pb2 as pb

POSTGRES_ENV = "LABELGATE_TEST_POSTGRES_URL"
CONTEXT = RequestContext(request_id="test-request", operation="test")


def _with_search_path(url: str, schema: str) -> str:
    # libpq `options` makes every pooled connection start in the test's own schema.
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A new, empty schema on the test server; the URL points every connection at it."""
    base = os.environ[POSTGRES_ENV]
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (for the migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _postgres_schema() as url:
        yield url


# Migrating takes most of a backend's start-up, so each database is migrated once per session
# and every test gets it emptied: a copy of the SQLite file, the PostgreSQL schema truncated.
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.db"
    Database.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> Iterator[tuple[str, psycopg.Connection]]:
    with _postgres_schema() as url:
        Database.open(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            yield url, conn


def emptied_database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    """A migrated `kind` ("sqlite" | "postgres") database holding no resources (the
    installation's settings stay); for fixtures that need the session templates above."""
    if kind == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url, conn = request.getfixturevalue("_postgres_migrated")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "settings")
    conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database holding no resources (the installation's settings stay)."""
    return emptied_database(request, request.param, tmp_path)


def backend_handler(backend: Any, method_name: str) -> Callable[..., Any]:
    """A started backend's handler for the operation `method_name` names, as the gateway
    finds it (the operation's snake_case name: create_project)."""
    by_method = {snake_operation(op): op for op in ALL_OPERATIONS}
    if method_name not in by_method:
        raise AttributeError(method_name)
    operation = by_method[method_name]
    handler = handler_table(backend)[operation]
    if handler is None:  # declared unimplemented: answered as the gateway answers it
        async def unimplemented(request: Any, context: RequestContext) -> Any:
            raise NotImplementedOperation(f"{operation} is not implemented by {backend.name}")

        return unimplemented
    return handler


class Local:
    """A running LocalBackend: attribute access gives its RPCs as plain functions."""

    def __init__(self, backend: LocalBackend, runner: asyncio.Runner) -> None:
        self.backend = backend
        self._runner = runner

    def handler(self, method_name: str) -> Callable[..., Any]:
        """The backend's handler for the operation `method_name` names (create_project)."""
        return backend_handler(self.backend, method_name)

    def __getattr__(self, operation: str) -> Callable[[Any], Any]:
        method = self.handler(operation)
        return lambda request: self._runner.run(method(request, CONTEXT))

    def concurrently(self, operation: str, requests: list[Any]) -> list[Any]:
        """Send all `requests` at once; each result is a response or the exception raised."""
        method = self.handler(operation)

        async def send_all() -> list[Any]:
            calls = (method(request, CONTEXT) for request in requests)
            return await asyncio.gather(*calls, return_exceptions=True)

        return self._runner.run(send_all())

    def store(self, work: Callable[[Session], Any]) -> Any:
        """Run `work` in one store transaction (to seed rows no public RPC writes yet)."""
        assert self.backend.db is not None
        return self.backend.db.run_sync(work)

    # Seeds for resources other services create; tests only need the rows.
    def project(self, name: str = "proj", **tags: str) -> str:
        request = pb.CreateProjectRequest(project_name=name, tags=tags)
        return self.create_project(request).project_arn

    def add_version(
        self, project_arn: str, name: str, status: str = "TRAINING_COMPLETED", **columns: Any
    ) -> str:
        project_name = project_arn.split("/")[1]
        arn = self.backend.arns.version(project_name, name)

        def work(session: Session) -> None:
            project_id = _project_id(session, project_arn)
            session.add(
                ProjectVersion(arn=arn, project_id=project_id, name=name, status=status, **columns)
            )

        self.store(work)
        return arn

    def add_dataset(
        self,
        project_arn: str,
        dataset_type: str = "TRAIN",
        status: str = "CREATE_COMPLETE",
        **columns: Any,
    ) -> str:
        project_name = project_arn.split("/")[1]
        arn = self.backend.arns.dataset(project_name, dataset_type)

        def work(session: Session) -> None:
            session.add(
                Dataset(
                    arn=arn,
                    project_id=_project_id(session, project_arn),
                    dataset_type=dataset_type,
                    status=status,
                    **columns,
                )
            )

        self.store(work)
        return arn


def _project_id(session: Session, arn: str) -> int:
    from labelgate.backends.local.store.lookups import find_project

    return find_project(session, arn).id


@pytest.fixture
def make_local(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Local]]:
    """Start a LocalBackend with extra config; stopped again at teardown."""
    started: list[tuple[LocalBackend, asyncio.Runner]] = []

    def make(config: Mapping[str, Any] | None = None) -> Local:
        backend = LocalBackend.from_config(
            {"database_url": database_url, **(config or {})}, data_dir=tmp_path / "data"
        )
        runner = asyncio.Runner()
        runner.run(backend.start())
        started.append((backend, runner))
        return Local(backend, runner)

    yield make
    for backend, runner in reversed(started):
        runner.run(backend.stop())
        runner.close()


@pytest.fixture
def local(make_local: Callable[..., Local]) -> Local:
    return make_local()
