"""Training columns on project_versions: the inputs and outputs of CreateProjectVersion.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

The *_result / manifest_summary columns hold the AWS shapes DescribeProjectVersions returns;
`pending_job` describes the running training job so a restart can resume or fail it.
All nullable: rows written before this migration simply have none of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("feature_config", sa.JSON),
    ("training_data_result", sa.JSON),
    ("testing_data_result", sa.JSON),
    ("manifest_summary", sa.JSON),
    ("training_ended_at", lambda: sa.DateTime(timezone=True)),
    ("billable_training_seconds", sa.BigInteger),
    ("pending_job", sa.JSON),
)


def upgrade() -> None:
    # Batch mode: SQLite cannot ALTER freely; on PostgreSQL this is plain ADD COLUMN.
    with op.batch_alter_table("project_versions") as batch:
        for name, column_type in _COLUMNS:
            batch.add_column(sa.Column(name, column_type(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project_versions") as batch:
        for name, _type in reversed(_COLUMNS):
            batch.drop_column(name)
