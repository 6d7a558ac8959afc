"""Engine, sessions and migrations for the local store.

SQLite (WAL, foreign keys on) by default, PostgreSQL by URL. The ORM is synchronous; the
async backend runs each unit of work in a worker thread via `Database.run`, one transaction
per call, so a request either changes the store completely or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(Path(data_dir) / 'labelgate.db').resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite opens a transaction only at the first write, so a read-then-write (a quota
    # check, a uniqueness check) would race with another thread. Take over transaction
    # control and start every transaction with BEGIN IMMEDIATE (see `_begin_immediate`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    # Alembic narrates every plugin and revision at INFO; our own start-up line says enough.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Database:
        db = cls(url)
        upgrade(db.engine)
        return db

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def run_sync(self, work: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return work(session)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one transaction on a worker thread."""
        return await asyncio.to_thread(self.run_sync, work)

    def close(self) -> None:
        self.engine.dispose()
