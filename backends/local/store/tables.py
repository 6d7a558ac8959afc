"""The local backend's schema (SQLAlchemy 2 ORM). Alembic migrations mirror this file.

Every state change is a transaction; nothing lives only in memory. Timestamps are stored as
timezone-aware UTC datetimes. ARNs are the public identity of each resource and are unique.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    feature: Mapped[str] = mapped_column(String(32), default="CUSTOM_LABELS")
    auto_update: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="CREATED")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    datasets: Mapped[list[Dataset]] = relationship(back_populates="project")
    versions: Mapped[list[ProjectVersion]] = relationship(back_populates="project")
    policies: Mapped[list[ProjectPolicy]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "dataset_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    dataset_type: Mapped[str] = mapped_column(String(8))  # TRAIN | TEST
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str] = mapped_column(Text, default="")
    status_message_code: Mapped[str] = mapped_column(String(16), default="SUCCESS")
    # What the running background job is working from (a manifest location, a source
    # dataset ARN, a staged update), so a restarted gateway can resume or fail it cleanly.
    pending_job: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="datasets")
    entries: Mapped[list[DatasetEntry]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True
    )


class DatasetEntry(Base):
    """One JSON Line: one image with its labels. `source_ref` is the key within a dataset."""

    __tablename__ = "dataset_entries"
    __table_args__ = (
        UniqueConstraint("dataset_id", "source_ref"),
        Index("ix_entries_dataset_id_id", "dataset_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    source_ref: Mapped[str] = mapped_column(Text)
    line: Mapped[str] = mapped_column(Text)  # the JSON Line as ListDatasetEntries returns it
    is_labeled: Mapped[bool] = mapped_column(Boolean, default=False)
    has_errors: Mapped[bool] = mapped_column(Boolean, default=False)

    dataset: Mapped[Dataset] = relationship(back_populates="entries")
    labels: Mapped[list[EntryLabel]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class EntryLabel(Base):
    """A label used by an entry: image-level (`bounding_boxes` 0) and/or on boxes."""

    __tablename__ = "entry_labels"
    __table_args__ = (Index("ix_entry_labels_label", "dataset_id", "label"),)

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_entries.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(256), primary_key=True)
    # Denormalised so label statistics and filters need no join through entries.
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    bounding_boxes: Mapped[int] = mapped_column(Integer, default=0)


class ProjectVersion(Base):
    """A model. Training and serving add their columns through migrations."""

    __tablename__ = "project_versions"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    output_config: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    kms_key_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    min_inference_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_inference_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_project_version_arn: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Training (migration 0002). The *_result and summary columns hold the AWS shapes
    # DescribeProjectVersions returns (TrainingDataResult, TestingDataResult, the
    # ManifestSummary GroundTruthManifest), filled in as the outputs come to exist.
    feature_config: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    training_data_result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    testing_data_result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    manifest_summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    training_ended_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    billable_training_seconds: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What the training job works from (its inputs and stage), committed with
    # TRAINING_IN_PROGRESS, so a restarted gateway can run it again or fail it cleanly.
    pending_job: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Training jobs (migration 0003). The latest progress report of the running job (what
    # WatchProjectVersion streams) and when it came.
    training_progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    progress_updated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # The running worker process, so a restarted gateway can stop one left behind.
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The AWS EvaluationResult shape, once training succeeded.
    evaluation_result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Where the trained model's files live in the blob store ({"bucket", "prefix", "files"}).
    model_bundle: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    project: Mapped[Project] = relationship(back_populates="versions")


class InferenceUnitUsage(Base):
    """A period a model ran with a fixed number of inference units (migration 0004).

    Not tied to the version row by a foreign key: usage outlives a deleted model, as a bill
    does. `ended_at` is NULL while it runs; `last_seen_at` moves forward while it does, so a
    crashed gateway's rows end where it was last alive (serving/usage.py).
    """

    __tablename__ = "inference_unit_usage"
    __table_args__ = (
        Index("ix_inference_unit_usage_version", "project_version_arn"),
        Index("ix_inference_unit_usage_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_version_arn: Mapped[str] = mapped_column(String(2048))
    project_arn: Mapped[str] = mapped_column(String(2048))
    project_name: Mapped[str] = mapped_column(String(255))
    version_name: Mapped[str] = mapped_column(String(255))
    units: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Tag(Base):
    """Tags of any taggable resource (project, model, dataset), keyed by its ARN."""

    __tablename__ = "tags"

    resource_arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")


class ProjectPolicy(Base):
    __tablename__ = "project_policies"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    revision_id: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="policies")


class Setting(Base):
    """Installation-wide values (e.g. the page-token signing secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
