"""Initial schema: exactly the tables of store/models.py as first committed.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Unique constraints are left unnamed, as in models.py, so the database names them the same
way `metadata.create_all` would; tests/local/test_migrations.py checks that autogenerate
finds no difference between this migration and the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
_ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("feature", sa.String(length=32), nullable=False),
        sa.Column("auto_update", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arn"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(length=2048), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset_type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("status_message_code", sa.String(length=16), nullable=False),
        sa.Column("pending_job", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arn"),
        sa.UniqueConstraint("project_id", "dataset_type"),
    )
    op.create_table(
        "project_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("revision_id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_table(
        "project_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("output_config", sa.JSON(), nullable=True),
        sa.Column("kms_key_id", sa.String(length=2048), nullable=True),
        sa.Column("min_inference_units", sa.Integer(), nullable=True),
        sa.Column("max_inference_units", sa.Integer(), nullable=True),
        sa.Column("source_project_version_arn", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arn"),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_table(
        "dataset_entries",
        sa.Column("id", _ENTRY_ID, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("is_labeled", sa.Boolean(), nullable=False),
        sa.Column("has_errors", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "source_ref"),
    )
    op.create_index("ix_entries_dataset_id_id", "dataset_entries", ["dataset_id", "id"])
    op.create_table(
        "entry_labels",
        sa.Column("entry_id", _ENTRY_ID, nullable=False),
        sa.Column("label", sa.String(length=256), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("bounding_boxes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["dataset_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", "label"),
    )
    op.create_index("ix_entry_labels_label", "entry_labels", ["dataset_id", "label"])


def downgrade() -> None:
    op.drop_index("ix_entry_labels_label", table_name="entry_labels")
    op.drop_table("entry_labels")
    op.drop_index("ix_entries_dataset_id_id", table_name="dataset_entries")
    op.drop_table("dataset_entries")
    op.drop_table("project_versions")
    op.drop_table("project_policies")
    op.drop_table("datasets")
    op.drop_table("tags")
    op.drop_table("settings")
    op.drop_table("projects")
