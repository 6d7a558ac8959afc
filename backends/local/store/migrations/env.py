"""Alembic environment for the local store.

`store.db.upgrade()` hands us an open connection in `config.attributes["connection"]`, so
the migration runs inside the caller's transaction on whatever database it opened (SQLite
or PostgreSQL). For developer use (`alembic revision --autogenerate`) a URL may be given
instead as the `sqlalchemy.url` option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from labelgate.backends.local.store.db import make_engine
from labelgate.backends.local.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead, so later
        # migrations written with op.batch_alter_table work on both databases.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as connection:
            _configure(connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
