"""The long-running half of the dataset operations: import a manifest, copy a dataset,
apply an update, distribute train/test, delete. Each job is synchronous code that the
DatasetService runs on a worker thread, so the event loop never waits on it.

A job is described by the dataset row's `pending_job` (committed with the *_IN_PROGRESS
status by the RPC that started it), so a restarted gateway can run it again from the
start: every job is idempotent. The import commits in batches (memory stays flat however
large the manifest) and clears its partial work before it starts; every other job is one
transaction, so a failure leaves the previous entries untouched. A job's last transaction
also sets the final status, so a status of *_COMPLETE always means the work is there.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Integer, cast, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from labelgate.backends.local.blobs.stores import BlobStore, BlobStoreUnavailable
from labelgate.backends.local.core.background import JobInterrupted
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import TagStore
from labelgate.backends.local.store.statuses import (
    CREATE_COMPLETE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    DELETE_IN_PROGRESS,
    IN_PROGRESS,
    UPDATE_COMPLETE,
    UPDATE_FAILED,
    UPDATE_IN_PROGRESS,
)
from labelgate.backends.local.store.tables import Dataset, DatasetEntry, EntryLabel, utcnow
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.json_lines import CheckedLine
from labelgate.backends.local.validation.manifests import (
    ImportTally,
    ManifestFileError,
    ManifestLimits,
    ManifestReader,
    iter_entries,
    open_manifest,
)
from labelgate.backends.local.validation.splits import (
    InsufficientImagesError,
    SplitItem,
    choose_test_items,
    stable_key,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_ENTRIES = DatasetEntry.__table__
_LABELS = EntryLabel.__table__

#: States whose entries are whole and final: a copy may read them. UPDATE_FAILED qualifies
#: because a failed update leaves the previous entries intact.
COPYABLE = frozenset({CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_FAILED})
FAILED_STATE = {CREATE_IN_PROGRESS: CREATE_FAILED, UPDATE_IN_PROGRESS: UPDATE_FAILED}

SUCCESS, CLIENT_ERROR, SERVICE_ERROR = "SUCCESS", "CLIENT_ERROR", "SERVICE_ERROR"

MESSAGES = {
    CREATE_IN_PROGRESS: "The dataset is being created.",
    CREATE_COMPLETE: "The dataset was successfully created.",
    UPDATE_IN_PROGRESS: "The dataset is being updated.",
    UPDATE_COMPLETE: "The dataset was successfully updated.",
    DELETE_IN_PROGRESS: "The dataset is being deleted.",
}
SERVICE_ERROR_MESSAGE = "An internal error stopped the dataset operation. Try it again."
INTERRUPTED_MESSAGE = (
    "The dataset operation was interrupted by a service restart and could not be resumed. "
    "Try it again."
)

# Job kinds, as stored in Dataset.pending_job["kind"].
IMPORT, COPY, UPDATE, DISTRIBUTE, DELETE = "import", "copy", "update", "distribute", "delete"


class _DistributionGone(Exception):
    """The distribution a job was to run is no longer pending on both datasets."""


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode_changes(data: bytes) -> str:
    """GroundTruth bytes as JSON-safe text for `pending_job` (the bytes need not be UTF-8)."""
    return base64.b64encode(data).decode("ascii")


# --- status transitions ---------------------------------------------------------------------


def set_status(
    session: Session,
    dataset_id: int,
    status: str,
    *,
    message: str | None = None,
    code: str = SUCCESS,
    job: dict[str, Any] | None = None,
) -> None:
    """Move a dataset to `status` (in the caller's transaction); `job` is the pending work."""
    session.execute(
        update(Dataset)
        .where(Dataset.id == dataset_id)
        .values(
            status=status,
            status_message=MESSAGES.get(status, "") if message is None else message,
            status_message_code=code,
            pending_job=job,
            updated_at=utcnow(),
        )
    )


def claim(session: Session, dataset_id: int, status: str, job: dict[str, Any],
          *, allowed: Iterable[str] | None = None) -> bool:
    """Compare-and-set into an *_IN_PROGRESS `status`: succeeds only while the dataset is in
    one of `allowed` states (default: not in progress), so two requests can never both
    start work on one dataset, on SQLite or PostgreSQL alike."""
    stmt = update(Dataset).where(Dataset.id == dataset_id)
    if allowed is None:
        stmt = stmt.where(Dataset.status.not_in(IN_PROGRESS))
    else:
        stmt = stmt.where(Dataset.status.in_(list(allowed)))
    result = session.execute(
        stmt.values(
            status=status,
            status_message=MESSAGES[status],
            status_message_code=SUCCESS,
            pending_job=job,
            updated_at=utcnow(),
        )
    )
    return result.rowcount == 1


# --- entry storage --------------------------------------------------------------------------


def _label_rows(dataset_id: int, ids: Sequence[int], entries: Sequence[CheckedLine]):
    return [
        {"entry_id": entry_id, "label": label, "dataset_id": dataset_id, "bounding_boxes": boxes}
        for entry_id, entry in zip(ids, entries, strict=True)
        for label, boxes in entry.labels.items()
    ]


def _insert(session: Session, dataset_id: int, entries: Sequence[CheckedLine]) -> None:
    if not entries:
        return
    # Core statements on the tables: the ORM bulk path costs several times as much per row.
    ids = session.scalars(
        insert(_ENTRIES).returning(_ENTRIES.c.id, sort_by_parameter_order=True),
        [
            {
                "dataset_id": dataset_id,
                "source_ref": e.source_ref,
                "line": e.output_line,
                "is_labeled": e.is_labeled,
                "has_errors": e.has_errors,
            }
            for e in entries
        ],
    ).all()
    rows = _label_rows(dataset_id, ids, entries)
    if rows:
        session.execute(insert(_LABELS), rows)


def _first_occurrences(entries: Iterable[CheckedLine]) -> dict[str, CheckedLine]:
    unique: dict[str, CheckedLine] = {}
    for entry in entries:
        unique.setdefault(entry.source_ref, entry)
    return unique


def _existing_ids(session: Session, dataset_id: int, refs: Iterable[str]) -> dict[str, int]:
    rows = session.execute(
        select(DatasetEntry.source_ref, DatasetEntry.id).where(
            DatasetEntry.dataset_id == dataset_id, DatasetEntry.source_ref.in_(list(refs))
        )
    )
    return dict(rows.tuples().all())


def insert_new_entries(
    session: Session, dataset_id: int, entries: Sequence[CheckedLine]
) -> tuple[list[CheckedLine], list[CheckedLine]]:
    """Insert the entries whose source-ref the dataset does not hold yet (the first one
    wins, datasets.md §7.2); returns (those inserted, the duplicates left out)."""
    unique = _first_occurrences(entries)
    existing = _existing_ids(session, dataset_id, unique)
    new = [entry for ref, entry in unique.items() if ref not in existing]
    _insert(session, dataset_id, new)
    inserted = {id(entry) for entry in new}
    return new, [entry for entry in entries if id(entry) not in inserted]


def upsert_entries(session: Session, dataset_id: int, entries: Sequence[CheckedLine]) -> None:
    """Replace the entries whose source-ref exists (in place: they keep their list
    position), add the others. `entries` must hold each source-ref once."""
    existing = _existing_ids(session, dataset_id, (e.source_ref for e in entries))
    replaced = [e for e in entries if e.source_ref in existing]
    if replaced:
        ids = [existing[e.source_ref] for e in replaced]
        session.execute(delete(EntryLabel).where(EntryLabel.entry_id.in_(ids)))
        session.execute(
            update(DatasetEntry),
            [
                {"id": i, "line": e.output_line, "is_labeled": e.is_labeled,
                 "has_errors": e.has_errors}
                for i, e in zip(ids, replaced, strict=True)
            ],
        )
        rows = _label_rows(dataset_id, ids, replaced)
        if rows:
            session.execute(insert(_LABELS), rows)
    _insert(session, dataset_id, [e for e in entries if e.source_ref not in existing])


def clear_entries(session: Session, dataset_id: int) -> None:
    session.execute(delete(EntryLabel).where(EntryLabel.dataset_id == dataset_id))
    session.execute(delete(DatasetEntry).where(DatasetEntry.dataset_id == dataset_id))


def count_entries(session: Session, dataset_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(DatasetEntry).where(DatasetEntry.dataset_id == dataset_id)
    ) or 0


def _entry_outside_bucket(session: Session, dataset_id: int, bucket: str | None) -> str | None:
    """The source-ref of an entry whose image is not in `bucket`, if the dataset has one
    (a dataset's images are all in one bucket, datasets.md §4.1)."""
    if bucket is None:
        return None
    prefix = f"s3://{bucket}/"
    return session.scalar(
        select(DatasetEntry.source_ref)
        .where(DatasetEntry.dataset_id == dataset_id,
               func.substr(DatasetEntry.source_ref, 1, len(prefix)) != prefix)
        .limit(1)
    )


def count_labels(session: Session, dataset_id: int) -> int:
    return session.scalar(
        select(func.count(func.distinct(EntryLabel.label))).where(
            EntryLabel.dataset_id == dataset_id
        )
    ) or 0


# --- the jobs -------------------------------------------------------------------------------


class DatasetJobs:
    """Runs the pending job of a dataset. Thread-safe; one job per dataset at a time is
    guaranteed by the *_IN_PROGRESS claim, not here."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        tags: TagStore,
        *,
        limits: ManifestLimits,
        images: ImageProbe | None = None,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._tags = tags
        self._limits = limits
        self._images = images  # None: image checks off
        self._batch_size = batch_size
        self._stop = stop or threading.Event()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise JobInterrupted

    def run(self, dataset_id: int) -> None:
        """Run the dataset's pending job, if it still has one. JobInterrupted propagates
        (the job stays pending); BlobStoreUnavailable marks the dataset failed with
        SERVICE_ERROR and the store's message; any other exception marks it failed with
        SERVICE_ERROR before propagating."""
        self._check_stop()  # a job queued behind others when the service stopped stays pending
        row = self._db.run_sync(
            lambda s: s.execute(
                select(Dataset.status, Dataset.pending_job).where(Dataset.id == dataset_id)
            ).first()
        )
        if row is None or row.status not in IN_PROGRESS:
            return
        job = row.pending_job or {}
        kind = job.get("kind")
        try:
            if row.status == DELETE_IN_PROGRESS:
                self.delete(dataset_id)  # needs nothing but the id
            elif kind == IMPORT and row.status == CREATE_IN_PROGRESS:
                self.import_manifest(dataset_id, job["bucket"], job["key"])
            elif kind == COPY and row.status == CREATE_IN_PROGRESS:
                self.copy(dataset_id, job["source_arn"])
            elif kind == UPDATE and row.status == UPDATE_IN_PROGRESS:
                self.update(dataset_id, base64.b64decode(job["changes"]))
            elif kind == DISTRIBUTE and row.status == UPDATE_IN_PROGRESS:
                self.distribute(job["train_id"], job["test_id"])
            else:
                self.fail(dataset_id, row.status, INTERRUPTED_MESSAGE, SERVICE_ERROR)
        except JobInterrupted:
            raise
        except BlobStoreUnavailable as exc:
            # An outage, not a data error: the store's own message, no traceback. A failed
            # create keeps no partial entries; a failed update leaves the old ones intact.
            log.warning("dataset job %s on dataset %s failed: %s", kind, dataset_id, exc)
            self.fail(dataset_id, row.status, str(exc), SERVICE_ERROR, kind=kind)
        except Exception:
            log.exception("dataset job %s on dataset %s failed", kind, dataset_id)
            failing = [dataset_id]
            if kind == DISTRIBUTE:  # both datasets leave UPDATE_IN_PROGRESS together
                failing = [i for i in (job.get("train_id"), job.get("test_id")) if i is not None]
            for failed_id in failing:
                self.fail(failed_id, row.status, SERVICE_ERROR_MESSAGE, SERVICE_ERROR, kind=kind)
            raise

    def fail(
        self, dataset_id: int, in_progress: str, message: str, code: str,
        *, kind: str | None = None,
    ) -> None:
        """End `in_progress` as its *_FAILED counterpart, if the dataset is still in it (and,
        with `kind`, still runs that kind of job); a failed create also loses its partial
        entries. Deletes are retried, never failed."""
        failed = FAILED_STATE.get(in_progress)
        if failed is None:
            return

        def work(session: Session) -> None:
            row = session.execute(
                select(Dataset.pending_job, Dataset.updated_at).where(
                    Dataset.id == dataset_id, Dataset.status == in_progress
                )
            ).first()
            if row is None or (kind is not None and (row.pending_job or {}).get("kind") != kind):
                return
            changed = session.execute(
                update(Dataset)
                # Unchanged since we looked (optimistic check: no new job was claimed).
                .where(Dataset.id == dataset_id, Dataset.status == in_progress,
                       Dataset.updated_at == row.updated_at)
                .values(status=failed, status_message=message, status_message_code=code,
                        pending_job=None, updated_at=utcnow())
            )
            if changed.rowcount and failed == CREATE_FAILED:
                clear_entries(session, dataset_id)

        self._db.run_sync(work)

    # -- CreateDataset from a manifest ----------------------------------------------------
    def import_manifest(self, dataset_id: int, bucket: str, key: str) -> None:
        self._db.run_sync(lambda s: clear_entries(s, dataset_id))  # a resumed run restarts
        limits = self._limits
        tally = ImportTally(limits)
        labels: set[str] = set()
        try:
            manifest = open_manifest(self._blobs, bucket, key, limits=limits)
            with closing(iter_entries(manifest.raw_lines(), tally, images=self._images)) as lines:
                for batch in batches(lines, self._batch_size):
                    self._check_stop()
                    new, duplicates = self._db.run_sync(
                        lambda s, b=batch: insert_new_entries(s, dataset_id, b)
                    )
                    for line in duplicates:
                        tally.drop(line)
                    labels.update(label for entry in new for label in entry.labels)
                    if len(labels) > limits.max_labels:
                        raise ManifestFileError(
                            "ERROR_MANIFEST_TOO_MANY_LABELS",
                            f"The limit is {limits.max_labels} labels.",
                        )
            tally.finish()
        except ManifestFileError as exc:
            self.fail(dataset_id, CREATE_IN_PROGRESS, str(exc), CLIENT_ERROR)
            return
        self._db.run_sync(lambda s: set_status(s, dataset_id, CREATE_COMPLETE))

    # -- CreateDataset from another dataset ----------------------------------------------
    def copy(self, dataset_id: int, source_arn: str) -> None:
        def work(session: Session) -> bool:
            source = session.scalar(select(Dataset).where(Dataset.arn == source_arn))
            if source is None or source.status not in COPYABLE:
                return False
            clear_entries(session, dataset_id)
            # Set-based copy: no entry passes through Python. Labels are matched to the new
            # entries by source-ref, unique within a dataset.
            session.execute(
                insert(DatasetEntry).from_select(
                    ["dataset_id", "source_ref", "line", "is_labeled", "has_errors"],
                    select(
                        cast(literal(dataset_id), Integer),
                        DatasetEntry.source_ref,
                        DatasetEntry.line,
                        DatasetEntry.is_labeled,
                        DatasetEntry.has_errors,
                    )
                    .where(DatasetEntry.dataset_id == source.id)
                    .order_by(DatasetEntry.id),
                )
            )
            old, new = DatasetEntry.__table__.alias("old"), DatasetEntry.__table__.alias("new")
            labels = EntryLabel.__table__
            session.execute(
                insert(EntryLabel).from_select(
                    ["entry_id", "label", "dataset_id", "bounding_boxes"],
                    select(
                        new.c.id,
                        labels.c.label,
                        cast(literal(dataset_id), Integer),
                        labels.c.bounding_boxes,
                    )
                    .select_from(labels)
                    .join(old, old.c.id == labels.c.entry_id)
                    .join(new, (new.c.dataset_id == dataset_id)
                          & (new.c.source_ref == old.c.source_ref))
                    .where(labels.c.dataset_id == source.id),
                )
            )
            set_status(session, dataset_id, CREATE_COMPLETE)
            return True

        if not self._db.run_sync(work):
            self.fail(
                dataset_id,
                CREATE_IN_PROGRESS,
                f"The source dataset {source_arn} was deleted or changed before it was copied.",
                CLIENT_ERROR,
            )

    # -- UpdateDatasetEntries -------------------------------------------------------------
    def _validate_changes(self, changes: bytes, tally: ImportTally) -> list[CheckedLine]:
        """The change set's lines to apply, validated (images probed) before the store is
        touched, so no transaction stays open while images are read. The change set is
        capped at 5 MB by the API, so holding its lines is bounded."""
        reader = ManifestReader(io.BytesIO(changes), max_line_chars=tally.limits.max_line_chars,
                                max_bytes=tally.limits.max_bytes)
        kept: dict[str, CheckedLine] = {}
        with closing(iter_entries(reader, tally, images=self._images)) as lines:
            for batch in batches(lines, self._batch_size):
                self._check_stop()
                for line in batch:
                    assert line.source_ref is not None
                    if line.source_ref in kept:
                        tally.drop(line)  # the first of duplicates wins
                    else:
                        kept[line.source_ref] = line
        tally.finish()
        return list(kept.values())

    def update(self, dataset_id: int, changes: bytes) -> None:
        limits = self._limits
        tally = ImportTally(replace(limits, max_bytes=len(changes)))

        def work(session: Session) -> None:
            upsert_entries(session, dataset_id, entries)
            if count_entries(session, dataset_id) > limits.max_rows:
                raise ManifestFileError(
                    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
                    f"A dataset holds at most {limits.max_rows} entries.",
                )
            if count_labels(session, dataset_id) > limits.max_labels:
                raise ManifestFileError(
                    "ERROR_MANIFEST_TOO_MANY_LABELS", f"The limit is {limits.max_labels} labels."
                )
            other = _entry_outside_bucket(session, dataset_id, tally.bucket)
            if other is not None:
                raise ManifestFileError(
                    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
                    f"The changes use bucket {tally.bucket}; the dataset also holds {other}.",
                )
            set_status(session, dataset_id, UPDATE_COMPLETE)

        try:
            entries = self._validate_changes(changes, tally)
            self._db.run_sync(work)  # one transaction: a failed update changes nothing
        except ManifestFileError as exc:
            self.fail(dataset_id, UPDATE_IN_PROGRESS, str(exc), CLIENT_ERROR)

    # -- DistributeDatasetEntries ---------------------------------------------------------
    def distribute(self, train_id: int, test_id: int) -> None:
        def work(session: Session) -> None:
            # Take the write lock first and make sure the distribution is still pending, so
            # a second run of the same job (a resume racing a live one) cannot move 20% twice.
            started = session.execute(
                update(Dataset)
                .where(Dataset.id.in_([train_id, test_id]),
                       Dataset.status == UPDATE_IN_PROGRESS)
                .values(updated_at=utcnow())
            )
            if started.rowcount != 2:
                raise _DistributionGone
            rows = session.execute(
                select(DatasetEntry.id, DatasetEntry.source_ref, EntryLabel.label)
                .outerjoin(EntryLabel, EntryLabel.entry_id == DatasetEntry.id)
                .where(DatasetEntry.dataset_id == train_id)
                .order_by(DatasetEntry.id)
            )
            items: list[SplitItem] = []
            current: tuple[int, str] | None = None
            labels: list[str] = []
            for entry_id, ref, label in rows.tuples():
                if current is not None and current[0] != entry_id:
                    items.append(SplitItem(current[0], stable_key(current[1]), tuple(labels)))
                    labels = []
                current = (entry_id, ref)
                if label is not None:
                    labels.append(label)
            if current is not None:
                items.append(SplitItem(current[0], stable_key(current[1]), tuple(labels)))

            moving = sorted(choose_test_items(items))
            for chunk in batches(moving, self._batch_size):
                session.execute(
                    update(DatasetEntry)
                    .where(DatasetEntry.id.in_(chunk))
                    .values(dataset_id=test_id)
                    .execution_options(synchronize_session=False)
                )
                session.execute(
                    update(EntryLabel)
                    .where(EntryLabel.entry_id.in_(chunk))
                    .values(dataset_id=test_id)
                    .execution_options(synchronize_session=False)
                )
            set_status(session, train_id, UPDATE_COMPLETE)
            set_status(session, test_id, UPDATE_COMPLETE)

        try:
            self._db.run_sync(work)
        except _DistributionGone:
            # Already done by another run, or one side was left behind by an earlier crash:
            # whichever side still waits is failed, never left stuck.
            for dataset_id in (train_id, test_id):
                self.fail(dataset_id, UPDATE_IN_PROGRESS, INTERRUPTED_MESSAGE, SERVICE_ERROR,
                          kind=DISTRIBUTE)
        except InsufficientImagesError as exc:
            code = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"
            error = ManifestFileError(code, str(exc))
            for dataset_id in (train_id, test_id):
                self.fail(dataset_id, UPDATE_IN_PROGRESS, str(error), CLIENT_ERROR,
                          kind=DISTRIBUTE)

    # -- DeleteDataset --------------------------------------------------------------------
    def delete(self, dataset_id: int) -> None:
        def work(session: Session) -> None:
            arn = session.scalar(select(Dataset.arn).where(Dataset.id == dataset_id))
            if arn is None:
                return
            clear_entries(session, dataset_id)
            self._tags.drop_tags(session, arn)
            session.execute(delete(Dataset).where(Dataset.id == dataset_id))

        self._db.run_sync(work)
