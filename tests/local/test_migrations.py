"""The Alembic migrations build exactly the schema of store/models.py, on SQLite and
PostgreSQL (the `empty_database_url` fixture gives each test a database without tables)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from labelgate.backends.local.store.db import MIGRATIONS_DIR, Database
from labelgate.backends.local.store.tables import Base


def _diff(db: Database) -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def test_migrated_schema_matches_models(empty_database_url):
    db = Database.open(empty_database_url)
    try:
        assert _diff(db) == []
    finally:
        db.close()


def test_migrations_have_a_single_head_stamped_after_upgrade(empty_database_url):
    heads = ScriptDirectory.from_config(_config(None)).get_heads()
    assert len(heads) == 1
    db = Database.open(empty_database_url)
    try:
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == tuple(heads)
    finally:
        db.close()


def test_opening_a_migrated_database_again_changes_nothing(empty_database_url):
    Database.open(empty_database_url).close()
    db = Database.open(empty_database_url)
    try:
        assert _diff(db) == []
    finally:
        db.close()


def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(empty_database_url):
    db = Database.open(empty_database_url)
    try:
        with db.engine.begin() as connection:
            command.downgrade(_config(connection), "base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        with db.engine.begin() as connection:
            command.upgrade(_config(connection), "head")
        assert _diff(db) == []
    finally:
        db.close()
