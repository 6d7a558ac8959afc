"""Inference-unit usage periods of running models (serving/usage.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

One row per period a model ran with a fixed number of inference units; the usage report
(GetInferenceUsage) sums them per model and hour.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inference_unit_usage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_version_arn", sa.String(2048), nullable=False),
        sa.Column("project_arn", sa.String(2048), nullable=False),
        sa.Column("project_name", sa.String(255), nullable=False),
        sa.Column("version_name", sa.String(255), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inference_unit_usage_version", "inference_unit_usage",
                    ["project_version_arn"])
    op.create_index("ix_inference_unit_usage_started", "inference_unit_usage", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_inference_unit_usage_started", "inference_unit_usage")
    op.drop_index("ix_inference_unit_usage_version", "inference_unit_usage")
    op.drop_table("inference_unit_usage")
