"""Training job columns on project_versions: progress, the worker, the results and the model.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

`training_progress` holds the latest progress report of the running job (what
WatchProjectVersion streams) and `progress_updated_at` when it came; `worker_pid` and
`worker_host` name the worker process, so a restarted gateway can stop a worker its
predecessor left behind. `evaluation_result` is the AWS EvaluationResult shape;
`model_bundle` says where the trained model's files live in the blob store (serving and
ExportProjectVersion read it). All nullable: older rows simply have none of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("training_progress", sa.JSON),
    ("progress_updated_at", lambda: sa.DateTime(timezone=True)),
    ("worker_pid", sa.Integer),
    ("worker_host", lambda: sa.String(255)),
    ("evaluation_result", sa.JSON),
    ("model_bundle", sa.JSON),
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
