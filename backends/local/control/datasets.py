"""CreateDataset, DescribeDataset, DeleteDataset, ListDatasetEntries, ListDatasetLabels,
UpdateDatasetEntries and DistributeDatasetEntries for the local backend.

The RPCs check, commit the *_IN_PROGRESS status (so client code that polls right after
the call sees it, serving.md §9.5) and return; the work itself runs as an asyncio task of
the backend that executes `DatasetJobs` on a worker thread (dataset_jobs.py).

Choices where AWS documents nothing:
* ListDatasetEntries / ListDatasetLabels on a dataset being created or updated raise
  ResourceNotReadyException (serving.md §4.5 [rec]); on one being deleted,
  ResourceInUseException. A CREATE_FAILED dataset lists as empty.
* `HasErrors=false` returns only entries without errors (mirroring `Labeled`).
* `BoundingBoxCount` is the number of entries with the label on at least one box (the API
  reference's wording: "images that have the label assigned to a bounding box").
* A copy source must be CREATE_COMPLETE, UPDATE_COMPLETE or UPDATE_FAILED (a failed update
  keeps the previous entries), else ResourceNotReadyException.
* DeleteDataset on a dataset already being deleted succeeds again (idempotent).
* DistributeDatasetEntries's split rule is in splits.py.

Validation (manifests.py, validation.py, images.py): every imported or updated line is
validated as training validates it, images included (read through the blob store), and
stored with its `cl-errors` / `warnings` and `cl-metadata`. Choices:
* An entry's labels (ListDatasetLabels, ContainsLabels, TotalLabels, the 250-label limit)
  are its *usable* labels: those training would use. A line made invalid by an error (a
  missing image, no valid label attribute, ...) is stored, with HasErrors, but has no
  labels and is not Labeled; an invalid box or attribute only takes its own labels away.
  (Spec 02 §4.2's one `cl-metadata` example shows `is_labeled: true` on an invalid line;
  it is marked unclear there, and Labeled is kept consistent with ContainsLabels here.)
* Lines without a usable source-ref (not JSON, missing or non-`s3://` source-ref, over
  100,000 characters) and duplicate source-refs are dropped (datasets.md §7.2). Dropped plus
  invalid lines above 20 % of the lines fail the operation with
  ERROR_TOO_MANY_RECORDS_IN_ERROR (the cumulative rule of datasets.md §4.6); so do missing
  or unreadable images above 20 % (with a message saying so). Below that, entries keep
  their ERROR_INVALID_IMAGE. Images the blob store refuses (S3 AccessDenied/403) above
  20 % fail it with ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET instead.
* A manifest the blob store refuses to give does not fail CreateDataset itself: the
  dataset ends CREATE_FAILED with ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET (CLIENT_ERROR).
* All images of a dataset must be in one bucket: a manifest or update that brings a
  second one fails with ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS.
* The minimum label counts are training rules (training.md §2.4, counted after a split), not
  dataset rules: a dataset may hold one label, or none.
* `validate_images=False` skips the image checks (for stores without the images).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.blobs.stores import BlobAccessDenied, BlobStore
from labelgate.backends.local.control import dataset_jobs as jobs
from labelgate.backends.local.control.dataset_jobs import DatasetJobs
from labelgate.backends.local.control.pagination import PageTokens, page_size
from labelgate.backends.local.core.arns import ArnFactory, creation_time
from labelgate.backends.local.core.background import BackgroundJobs, JobInterrupted
from labelgate.backends.local.store import statuses
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import TagStore, find_project
from labelgate.backends.local.store.tables import Dataset, DatasetEntry, EntryLabel
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.manifests import ManifestLimits
from labelgate.errors import (
    InvalidPaginationTokenException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceNotReadyException,
)
from labelgate.shapes import enum_from_aws, enum_to_aws, set_timestamp
from labelgate.v1 import custom_labels_pb2 as pb

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100


def _find(session: Session, arn: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.arn == arn))
    if dataset is None:
        raise ResourceNotFoundException(f"The dataset {arn} does not exist")
    return dataset


def _require_listable(dataset: Dataset) -> None:
    if dataset.status in statuses.BUSY:
        raise ResourceNotReadyException(
            f"The dataset {dataset.arn} is not ready ({dataset.status}); wait until it completes"
        )
    if dataset.status == statuses.DELETE_IN_PROGRESS:
        raise ResourceInUseException(f"The dataset {dataset.arn} is being deleted")


def _contains(session: Session, column: Any, text: str) -> Any:
    """Case-sensitive substring test (LIKE is case-insensitive on SQLite, and would need
    escaping): instr() on SQLite, strpos() on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.instr(column, text) > 0
    return func.strpos(column, text) > 0


def _stats(session: Session, dataset_id: int) -> pb.DatasetStats:
    total, labeled, errors = session.execute(
        select(
            func.count(),
            func.sum(case((DatasetEntry.is_labeled, 1), else_=0)),
            func.sum(case((DatasetEntry.has_errors, 1), else_=0)),
        ).where(DatasetEntry.dataset_id == dataset_id)
    ).one()
    return pb.DatasetStats(
        labeled_entries=labeled or 0,
        total_entries=total or 0,
        total_labels=jobs.count_labels(session, dataset_id),
        error_entries=errors or 0,
    )


class DatasetService:
    """The dataset RPCs; `resume()` at backend start, `close()` at stop."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        arns: ArnFactory,
        pages: PageTokens,
        tags: TagStore,
        *,
        limits: ManifestLimits | None = None,
        validate_images: bool = True,
        batch_size: int = 500,
        max_concurrent_jobs: int = 4,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._arns = arns
        self._pages = pages
        self._tags = tags
        self._background = BackgroundJobs("dataset-job", max_concurrent_jobs)
        self._jobs = DatasetJobs(
            db, blobs, tags, limits=limits or ManifestLimits(),
            images=ImageProbe(blobs) if validate_images else None,
            batch_size=batch_size, stop=self._background.stop,
        )

    # -- background work -----------------------------------------------------------------
    def _start_job(self, dataset_id: int) -> None:
        """Run the dataset's pending job in the background (one runner per dataset)."""
        self._background.start(dataset_id, lambda: self._run_job(dataset_id))

    async def _run_job(self, dataset_id: int) -> None:
        try:
            await self._background.in_thread(self._jobs.run, dataset_id)
        except JobInterrupted:
            log.info("dataset %s: job interrupted, it resumes at the next start", dataset_id)
        except Exception:
            # DatasetJobs.run logged it and recorded SERVICE_ERROR on the dataset.
            log.debug("dataset %s: job failed", dataset_id)

    async def resume(self) -> None:
        """Pick up the work a previous run left *_IN_PROGRESS (see DatasetJobs.run: a job
        it cannot resume is marked *_FAILED with SERVICE_ERROR, never left stuck)."""
        self._background.open()

        def pending(session: Session) -> list[tuple[int, dict[str, Any] | None]]:
            rows = session.execute(
                select(Dataset.id, Dataset.pending_job)
                .where(Dataset.status.in_(statuses.IN_PROGRESS))
                .order_by(Dataset.id)
            )
            return list(rows.tuples())

        rows = await self._db.run(pending)
        pending_ids = {dataset_id for dataset_id, _job in rows}
        for dataset_id, job in rows:
            # A distribution is one job over two datasets; the training side runs it.
            if (job and job.get("kind") == jobs.DISTRIBUTE
                    and job.get("train_id") != dataset_id
                    and job.get("train_id") in pending_ids):
                continue
            self._start_job(dataset_id)

    async def close(self) -> None:
        """Stop background work: imports stop between batches (and resume at the next
        start), single-transaction jobs finish."""
        await self._background.close()

    async def wait_idle(self) -> None:
        """Wait until no background job runs (tests, orderly shutdown)."""
        await self._background.wait_idle()

    # -- CreateDataset -------------------------------------------------------------------
    async def create_dataset(
        self, request: pb.CreateDatasetRequest, context: RequestContext
    ) -> pb.CreateDatasetResponse:
        if not request.dataset_type:
            raise InvalidParameterException("DatasetType must be TRAIN or TEST")
        dataset_type = enum_to_aws(pb.DatasetType.DESCRIPTOR, request.dataset_type)
        job = await self._source_job(request)
        project_arn = request.project_arn
        exists_error = ResourceAlreadyExistsException(
            f"The project {project_arn} already has a {dataset_type} dataset"
        )

        def work(session: Session) -> tuple[int, str]:
            project = find_project(session, project_arn, lock=True)
            taken = select(
                exists().where(
                    Dataset.project_id == project.id, Dataset.dataset_type == dataset_type
                )
            )
            if session.scalar(taken):
                raise exists_error
            if job and job["kind"] == jobs.COPY:
                source = _find(session, job["source_arn"])
                if source.status not in jobs.COPYABLE:
                    raise ResourceNotReadyException(
                        f"The source dataset {source.arn} is not ready ({source.status})"
                    )
            arn = self._arns.dataset(project.name, dataset_type)
            status = statuses.CREATE_IN_PROGRESS if job else statuses.CREATE_COMPLETE
            created = creation_time(arn)
            dataset = Dataset(
                arn=arn,
                project_id=project.id,
                dataset_type=dataset_type,
                status=status,
                status_message=jobs.MESSAGES[status],
                status_message_code=jobs.SUCCESS,
                pending_job=job,
                created_at=created,
                updated_at=created,
            )
            session.add(dataset)
            session.flush()
            self._tags.set_tags(session, arn, dict(request.tags))
            return dataset.id, arn

        try:
            dataset_id, arn = await self._db.run(work)
        except IntegrityError:
            raise exists_error from None  # a concurrent create of the same type won
        if job:
            self._start_job(dataset_id)
        return pb.CreateDatasetResponse(dataset_arn=arn)

    async def _source_job(self, request: pb.CreateDatasetRequest) -> dict[str, Any] | None:
        """The pending job the DatasetSource asks for (None: an empty dataset); checks the
        manifest exists now, so a wrong location fails the call itself
        (InvalidS3ObjectException). A manifest the store refuses to give is not a wrong
        location: the call succeeds and the import fails the dataset with
        ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET (datasets.md §7.1: a DescribeDataset
        status, not a call error)."""
        if not request.HasField("dataset_source"):
            return None
        source = request.dataset_source
        has_manifest = source.HasField("ground_truth_manifest")
        has_arn = source.HasField("dataset_arn") and bool(source.dataset_arn)
        if has_manifest == has_arn:
            raise InvalidParameterException(
                "DatasetSource must specify exactly one of GroundTruthManifest and DatasetArn"
            )
        if has_arn:
            return {"kind": jobs.COPY, "source_arn": source.dataset_arn}
        s3 = source.ground_truth_manifest.s3_object
        if not s3.bucket or not s3.name:
            raise InvalidParameterException(
                "GroundTruthManifest.S3Object needs a Bucket and a Name"
            )
        try:
            await asyncio.to_thread(self._blobs.size, s3.bucket, s3.name)  # InvalidS3Object...
        except BlobAccessDenied:
            pass  # the job reports it
        return {"kind": jobs.IMPORT, "bucket": s3.bucket, "key": s3.name}

    # -- DescribeDataset -----------------------------------------------------------------
    async def describe_dataset(
        self, request: pb.DescribeDatasetRequest, context: RequestContext
    ) -> pb.DescribeDatasetResponse:
        def work(session: Session) -> pb.DescribeDatasetResponse:
            dataset = _find(session, request.dataset_arn)
            # Every field always present: AWS client code reads them unchecked (serving.md §9.6).
            description = pb.DatasetDescription(
                creation_timestamp=Timestamp(),
                last_updated_timestamp=Timestamp(),
                status=enum_from_aws(pb.DatasetStatus.DESCRIPTOR, dataset.status),
                status_message=dataset.status_message or "",
                status_message_code=enum_from_aws(
                    pb.DatasetStatusMessageCode.DESCRIPTOR,
                    dataset.status_message_code or jobs.SUCCESS,
                ),
                dataset_stats=_stats(session, dataset.id),
            )
            set_timestamp(description.creation_timestamp, dataset.created_at)
            set_timestamp(description.last_updated_timestamp, dataset.updated_at)
            return pb.DescribeDatasetResponse(dataset_description=description)

        return await self._db.run(work)

    # -- DeleteDataset -------------------------------------------------------------------
    async def delete_dataset(
        self, request: pb.DeleteDatasetRequest, context: RequestContext
    ) -> pb.DeleteDatasetResponse:
        arn = request.dataset_arn

        def work(session: Session) -> int:
            dataset = _find(session, arn)
            if dataset.status == statuses.DELETE_IN_PROGRESS:
                return dataset.id
            if not jobs.claim(session, dataset.id, statuses.DELETE_IN_PROGRESS,
                              {"kind": jobs.DELETE}):
                raise ResourceInUseException(
                    f"The dataset {arn} cannot be deleted while {dataset.status}"
                )
            return dataset.id

        self._start_job(await self._db.run(work))
        return pb.DeleteDatasetResponse()

    # -- ListDatasetEntries ----------------------------------------------------------------
    async def list_dataset_entries(
        self, request: pb.ListDatasetEntriesRequest, context: RequestContext
    ) -> pb.ListDatasetEntriesResponse:
        arn = request.dataset_arn
        labels = sorted(set(request.contains_labels))
        labeled = request.labeled if request.HasField("labeled") else None
        has_errors = request.has_errors if request.HasField("has_errors") else None
        contains = request.source_ref_contains if request.HasField("source_ref_contains") else ""
        # Tokens are bound to the dataset and every filter (pagination.py).
        scope = {"arn": arn, "labels": labels, "labeled": labeled, "errors": has_errors,
                 "contains": contains}
        after = self._pages.decode("ListDatasetEntries", scope, request.next_token)
        if after is not None and not isinstance(after, int):
            raise InvalidPaginationTokenException("Invalid pagination token")
        limit = page_size(request.max_results, DEFAULT_PAGE_SIZE)

        def work(session: Session) -> pb.ListDatasetEntriesResponse:
            dataset = _find(session, arn)
            _require_listable(dataset)
            # Keyset on the entry id, served by the (dataset_id, id) index.
            stmt = select(DatasetEntry.id, DatasetEntry.line).where(
                DatasetEntry.dataset_id == dataset.id
            )
            if after is not None:
                stmt = stmt.where(DatasetEntry.id > after)
            if labels:
                stmt = stmt.where(
                    DatasetEntry.id.in_(
                        select(EntryLabel.entry_id).where(
                            EntryLabel.dataset_id == dataset.id, EntryLabel.label.in_(labels)
                        )
                    )
                )
            if labeled is not None:
                stmt = stmt.where(DatasetEntry.is_labeled == labeled)
            if has_errors is not None:
                stmt = stmt.where(DatasetEntry.has_errors == has_errors)
            if contains:
                stmt = stmt.where(_contains(session, DatasetEntry.source_ref, contains))
            rows = session.execute(stmt.order_by(DatasetEntry.id).limit(limit + 1)).all()
            response = pb.ListDatasetEntriesResponse(
                dataset_entries=[line for _id, line in rows[:limit]]
            )
            if len(rows) > limit:
                response.next_token = self._pages.encode(
                    "ListDatasetEntries", scope, rows[limit - 1][0]
                )
            return response

        return await self._db.run(work)

    # -- ListDatasetLabels -----------------------------------------------------------------
    async def list_dataset_labels(
        self, request: pb.ListDatasetLabelsRequest, context: RequestContext
    ) -> pb.ListDatasetLabelsResponse:
        arn = request.dataset_arn
        scope = {"arn": arn}
        # The position is the last label name (keyset), or an offset when a very long name
        # would not fit the 1024-character token.
        after = self._pages.decode("ListDatasetLabels", scope, request.next_token)
        if after is not None and not isinstance(after, str | int):
            raise InvalidPaginationTokenException("Invalid pagination token")
        limit = page_size(request.max_results, DEFAULT_PAGE_SIZE)

        def work(session: Session) -> pb.ListDatasetLabelsResponse:
            dataset = _find(session, arn)
            _require_listable(dataset)
            stmt = (
                select(
                    EntryLabel.label,
                    func.count(),
                    func.sum(case((EntryLabel.bounding_boxes > 0, 1), else_=0)),
                )
                .where(EntryLabel.dataset_id == dataset.id)
                .group_by(EntryLabel.label)
                .order_by(EntryLabel.label)
            )
            if isinstance(after, str):
                stmt = stmt.where(EntryLabel.label > after)
            elif isinstance(after, int):
                stmt = stmt.offset(after)
            rows = session.execute(stmt.limit(limit + 1)).all()
            response = pb.ListDatasetLabelsResponse(
                dataset_label_descriptions=[
                    pb.DatasetLabelDescription(
                        label_name=label,
                        label_stats=pb.DatasetLabelStats(
                            entry_count=entries, bounding_box_count=boxed or 0
                        ),
                    )
                    for label, entries, boxed in rows[:limit]
                ]
            )
            if len(rows) > limit:
                last = rows[limit - 1][0]
                try:
                    response.next_token = self._pages.encode("ListDatasetLabels", scope, last)
                except ValueError:
                    # The name is too long for a token: resume by offset instead (labels
                    # are few, at most 250, so counting them is cheap).
                    position = session.scalar(
                        select(func.count(func.distinct(EntryLabel.label))).where(
                            EntryLabel.dataset_id == dataset.id, EntryLabel.label <= last
                        )
                    )
                    response.next_token = self._pages.encode(
                        "ListDatasetLabels", scope, int(position or 0)
                    )
            return response

        return await self._db.run(work)

    # -- UpdateDatasetEntries --------------------------------------------------------------
    async def update_dataset_entries(
        self, request: pb.UpdateDatasetEntriesRequest, context: RequestContext
    ) -> pb.UpdateDatasetEntriesResponse:
        arn = request.dataset_arn
        changes = request.changes.ground_truth
        if not changes:
            raise InvalidParameterException("Changes.GroundTruth must hold at least one JSON Line")
        job = {"kind": jobs.UPDATE, "changes": jobs.encode_changes(changes)}

        def work(session: Session) -> int:
            dataset = _find(session, arn)
            if not jobs.claim(session, dataset.id, statuses.UPDATE_IN_PROGRESS, job):
                raise ResourceInUseException(
                    f"The dataset {arn} is busy ({dataset.status}); try again when it completes"
                )
            return dataset.id

        self._start_job(await self._db.run(work))
        return pb.UpdateDatasetEntriesResponse()

    # -- DistributeDatasetEntries ----------------------------------------------------------
    async def distribute_dataset_entries(
        self, request: pb.DistributeDatasetEntriesRequest, context: RequestContext
    ) -> pb.DistributeDatasetEntriesResponse:
        arns = [d.arn for d in request.datasets]
        if len(arns) != 2:
            raise InvalidParameterException("Datasets must name one TRAIN and one TEST dataset")

        def work(session: Session) -> int:
            found = [_find(session, arn) for arn in arns]
            by_type = {d.dataset_type: d for d in found}
            if set(by_type) != {"TRAIN", "TEST"}:
                raise InvalidParameterException(
                    "Datasets must name exactly one TRAIN and one TEST dataset"
                )
            train, test = by_type["TRAIN"], by_type["TEST"]
            if train.project_id != test.project_id:
                raise InvalidParameterException(
                    "The TRAIN and TEST datasets must belong to the same project"
                )
            for dataset in (train, test):
                if dataset.status not in statuses.COMPLETE:
                    raise ResourceNotReadyException(
                        f"The dataset {dataset.arn} is not ready ({dataset.status})"
                    )
            if session.scalar(select(exists().where(DatasetEntry.dataset_id == test.id))):
                raise InvalidParameterException(
                    f"The TEST dataset {test.arn} must be empty to distribute entries into it"
                )
            job = {"kind": jobs.DISTRIBUTE, "train_id": train.id, "test_id": test.id}
            for dataset in (train, test):
                if not jobs.claim(session, dataset.id, statuses.UPDATE_IN_PROGRESS, job,
                                  allowed=statuses.COMPLETE):
                    # Someone started work on it since we looked: roll both back.
                    raise ResourceNotReadyException(f"The dataset {dataset.arn} is not ready")
            return train.id

        self._start_job(await self._db.run(work))
        return pb.DistributeDatasetEntriesResponse()
