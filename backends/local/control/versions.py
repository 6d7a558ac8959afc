"""DescribeProjectVersions and DeleteProjectVersion over the `project_versions` table.

Training (training/), start/stop, copy and detect live elsewhere (the last four answer
UNIMPLEMENTED until they exist); this module only reads and deletes the rows they write.
When they add columns, the matching ProjectVersionDescription fields belong in
`describe_version`.

DeleteProjectVersion leaves the training outputs under the version's OutputConfig alone:
they are the user's files in the user's bucket, and AWS does not delete them either. The
model bundle in the installation's models bucket and the job's folder are ours: they go
with the version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.blobs.bundles import (
    EXPORT_CHUNK_BYTES,
    ModelBundle,
    delete_bundle,
    zip_bundle,
)
from labelgate.backends.local.blobs.stores import BlobStore
from labelgate.backends.local.control.pagination import PageTokens, keyset_page, page_size
from labelgate.backends.local.control.projects import DEFAULT_PAGE_SIZE
from labelgate.backends.local.control.tags import TagService
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import find_project
from labelgate.backends.local.store.tables import Project, ProjectVersion
from labelgate.backends.local.training.trainer import remove_job_dir
from labelgate.errors import (
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceNotReadyException,
)
from labelgate.shapes import enum_from_aws, from_aws, set_timestamp
from labelgate.v1 import custom_labels_pb2 as pb

log = logging.getLogger(__name__)

#: A model in one of these states has work running on it: it cannot be deleted (serving.md §5.1).
BUSY_STATUSES = frozenset(
    {"TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING", "COPYING_IN_PROGRESS"}
)


def describe_version(version: ProjectVersion, project: Project) -> pb.ProjectVersionDescription:
    desc = pb.ProjectVersionDescription(
        project_version_arn=version.arn,
        status=enum_from_aws(pb.ProjectVersionStatus.DESCRIPTOR, version.status),
        # Always a string: the AWS examples print it without checking (serving.md §9.6).
        status_message=version.status_message or "",
        feature=enum_from_aws(pb.CustomizationFeature.DESCRIPTOR, project.feature),
    )
    set_timestamp(desc.creation_timestamp, version.created_at)
    if version.min_inference_units is not None:
        desc.min_inference_units = version.min_inference_units
    if version.max_inference_units is not None:
        desc.max_inference_units = version.max_inference_units
    if version.output_config is not None:
        # Stored in its AWS shape ({"S3Bucket": ..., "S3KeyPrefix": ...}).
        _set_message(desc.output_config, version.output_config)
    if version.kms_key_id is not None:
        desc.kms_key_id = version.kms_key_id
    if version.source_project_version_arn is not None:
        desc.source_project_version_arn = version.source_project_version_arn
    if version.description is not None:
        desc.version_description = version.description
    if version.feature_config is not None:
        _set_message(desc.feature_config, version.feature_config)
    # Training (training/): Input from creation on, Validation and ManifestSummary once the
    # validation stage wrote its files (never after a manifest file error, training.md §1.4).
    if version.training_data_result is not None:
        _set_message(desc.training_data_result, version.training_data_result)
    if version.testing_data_result is not None:
        _set_message(desc.testing_data_result, version.testing_data_result)
    if version.manifest_summary is not None:
        _set_message(desc.manifest_summary, version.manifest_summary)
    if version.training_ended_at is not None:
        set_timestamp(desc.training_end_timestamp, version.training_ended_at)
    if version.billable_training_seconds is not None:  # only a trained model is billed
        desc.billable_training_time_in_seconds = version.billable_training_seconds
    if version.evaluation_result is not None:  # only after successful training
        _set_message(desc.evaluation_result, version.evaluation_result)
    return desc


def _set_message(field: Message, stored: dict[str, Any]) -> None:
    """Fill a sub-message from its stored AWS shape; present even when the shape is `{}`."""
    from_aws(stored, field)
    field.SetInParent()


class VersionService:
    def __init__(self, db: Database, pages: PageTokens, tags: TagService, *,
                 blobs: BlobStore | None = None, data_dir: Path | None = None,
                 running_units: Callable[[str], pb.InferenceUnitsStatus | None] | None = None
                 ) -> None:
        self._db = db
        self._pages = pages
        self._tags = tags
        self._blobs = blobs
        self._data_dir = data_dir
        # Serving's view of a running model's units (InferenceUnitsStatus, an extension).
        self._running_units = running_units

    async def describe_project_versions(
        self, request: pb.DescribeProjectVersionsRequest, context: RequestContext
    ) -> pb.DescribeProjectVersionsResponse:
        names = sorted(set(request.version_names))
        scope = {"project": request.project_arn, "names": names}
        after = self._pages.decode("DescribeProjectVersions", scope, request.next_token)
        limit = page_size(request.max_results, DEFAULT_PAGE_SIZE)

        def work(session: Session) -> pb.DescribeProjectVersionsResponse:
            project = find_project(session, request.project_arn)
            stmt = select(ProjectVersion).where(ProjectVersion.project_id == project.id)
            if names:
                # Unknown names simply match nothing: deletion polling waits for [] (§9.2).
                stmt = stmt.where(ProjectVersion.name.in_(names))
            versions, last = keyset_page(session, stmt, ProjectVersion.id, after, limit)
            response = pb.DescribeProjectVersionsResponse(
                project_version_descriptions=[describe_version(v, project) for v in versions]
            )
            if last is not None:
                response.next_token = self._pages.encode("DescribeProjectVersions", scope, last)
            return response

        response = await self._db.run(work)
        for description in response.project_version_descriptions:
            # Extension: the units of a model running here (absent for any other status).
            if description.status == pb.PROJECT_VERSION_STATUS_RUNNING and self._running_units:
                status = self._running_units(description.project_version_arn)
                if status is not None:
                    description.inference_units_status.CopyFrom(status)
        return response

    async def delete_project_version(
        self, request: pb.DeleteProjectVersionRequest, context: RequestContext
    ) -> pb.DeleteProjectVersionResponse:
        arn = request.project_version_arn

        def work(session: Session) -> tuple[int, dict[str, Any] | None]:
            version = session.scalar(
                select(ProjectVersion).where(ProjectVersion.arn == arn).with_for_update()
            )
            if version is None:
                raise ResourceNotFoundException(f"The model {arn} does not exist")
            if version.status in BUSY_STATUSES:
                raise ResourceInUseException(
                    f"The model {arn} is {version.status}; stop it or wait for it to finish "
                    "before deleting it"
                )
            self._tags.drop_tags(session, arn)
            session.execute(delete(ProjectVersion).where(ProjectVersion.id == version.id))
            return version.id, version.model_bundle

        version_id, bundle = await self._db.run(work)
        # After the commit: the row is gone, so nothing can reach these files any more.
        await asyncio.to_thread(self._remove_files, version_id, bundle)
        # AWS reports DELETING and the model then disappears; here it is already gone.
        return pb.DeleteProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_DELETING)

    def _remove_files(self, version_id: int, bundle: dict[str, Any] | None) -> None:
        if bundle and self._blobs is not None:
            try:
                delete_bundle(self._blobs, ModelBundle.from_json(bundle))
            except (KeyError, TypeError, ValueError):
                log.warning("model version %s: unreadable model bundle %r", version_id, bundle)
        if self._data_dir is not None:
            remove_job_dir(self._data_dir, version_id)


def _bundle_of(session: Session, arn: str) -> tuple[ModelBundle, str]:
    row = session.execute(
        select(ProjectVersion, Project.name)
        .join(Project, Project.id == ProjectVersion.project_id)
        .where(ProjectVersion.arn == arn)
    ).first()
    if row is None:
        raise ResourceNotFoundException(f"The model {arn} does not exist")
    version, project_name = row
    if not version.model_bundle:
        raise ResourceNotReadyException(
            f"The model {arn} has no trained model to export (status {version.status})"
        )
    return ModelBundle.from_json(version.model_bundle), f"{project_name}-{version.name}.zip"


async def export(db: Database, blobs: BlobStore, arn: str, *,
                 chunk_bytes: int = EXPORT_CHUNK_BYTES
                 ) -> AsyncIterator[pb.ExportProjectVersionResponse]:
    """The ExportProjectVersion stream: the zipped bundle in chunks (name and size first)."""
    if not arn:
        raise InvalidParameterException("ProjectVersionArn is required")
    bundle, file_name = await db.run(lambda s: _bundle_of(s, arn))
    archive = await asyncio.to_thread(zip_bundle, blobs, bundle)
    try:
        total = archive.seek(0, 2)
        archive.seek(0)
        first = True
        while True:
            data = await asyncio.to_thread(archive.read, chunk_bytes)
            if not data and not first:
                return
            message = pb.ExportProjectVersionResponse(data=data)
            if first:
                message.file_name = file_name
                message.total_bytes = total
                first = False
            yield message
            if not data:
                return
    finally:
        archive.close()
