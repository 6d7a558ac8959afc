"""What a training job trains and tests on: resolving CreateProjectVersion's data
arguments against the project's datasets, and reading either kind of input line by line.

Rules (training.md §1.1-1.2, the API reference's TrainingData/TestingData members):

* `TrainingData` (an external manifest) needs `TestingData` too (external, or
  `AutoCreate`), and the project must have no datasets.
* Without `TrainingData` the project's TRAIN dataset is used; none is an
  InvalidParameterException. The TEST dataset is used when there is one, unless
  `TestingData.AutoCreate` asks for the 80/20 split; with no TEST dataset the split is
  automatic. (`TestingData` holding only `AutoCreate` is accepted beside datasets: it is
  how the console's "split the training dataset" choice reaches the API.)
* A dataset still being created, updated or deleted is ResourceInUseException.

A resolved `TrainingInputs` is stored as JSON with the version (`pending_job`), so a
restarted gateway reads the same inputs again. External manifests are checked only by the
job: an unreadable one is a manifest *file* error that fails the version (§2.3), not the
call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelgate.backends.local.blobs.stores import BlobStore
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.statuses import IN_PROGRESS
from labelgate.backends.local.store.tables import Dataset, DatasetEntry, Project
from labelgate.backends.local.validation.manifests import (
    ManifestFile,
    ManifestFileError,
    ManifestLimits,
    open_manifest,
)
from labelgate.errors import InvalidParameterException, ResourceInUseException
from labelgate.v1 import custom_labels_pb2 as pb

INACCESSIBLE = "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
EMPTY = "ERROR_EMPTY_MANIFEST"
TOO_MANY_ROWS = "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"

@dataclass(frozen=True)
class ManifestInput:
    """An external manifest (`Assets[0].GroundTruthManifest.S3Object`)."""

    bucket: str
    key: str
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "manifest", "bucket": self.bucket, "key": self.key,
                "version": self.version}

    def s3_object(self) -> dict[str, str]:
        obj = {"Bucket": self.bucket, "Name": self.key}
        if self.version:
            obj["Version"] = self.version
        return obj


@dataclass(frozen=True)
class DatasetInput:
    """A dataset of the project."""

    dataset_id: int
    dataset_arn: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": "dataset", "dataset_id": self.dataset_id, "dataset_arn": self.dataset_arn}


InputSource = ManifestInput | DatasetInput


def _source_from_json(data: dict[str, Any]) -> InputSource:
    if data["kind"] == "manifest":
        return ManifestInput(data["bucket"], data["key"], data.get("version"))
    return DatasetInput(int(data["dataset_id"]), data["dataset_arn"])


@dataclass(frozen=True)
class TrainingInputs:
    training: InputSource
    testing: InputSource | None  # None: auto-split the training lines 80/20

    @property
    def auto_split(self) -> bool:
        return self.testing is None

    def to_json(self) -> dict[str, Any]:
        return {
            "training": self.training.to_json(),
            "testing": None if self.testing is None else self.testing.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingInputs:
        testing = data.get("testing")
        return cls(_source_from_json(data["training"]),
                   None if testing is None else _source_from_json(testing))

    def training_input(self) -> dict[str, Any]:
        """`TrainingDataResult.Input`: what was supplied (empty for a dataset, which AWS
        gives no S3 location)."""
        if isinstance(self.training, ManifestInput):
            return {"Assets": [{"GroundTruthManifest": {"S3Object": self.training.s3_object()}}]}
        return {}

    def testing_input(self) -> dict[str, Any]:
        """`TestingDataResult.Input`, with `AutoCreate` saying whether the split made it."""
        if isinstance(self.testing, ManifestInput):
            return {
                "Assets": [{"GroundTruthManifest": {"S3Object": self.testing.s3_object()}}],
                "AutoCreate": False,
            }
        return {"AutoCreate": self.auto_split}


# --- resolving the request --------------------------------------------------------------------


def _single_manifest(assets: Any, member: str) -> ManifestInput:
    if len(assets) != 1:
        raise InvalidParameterException(
            f"{member}.Assets must hold exactly one GroundTruthManifest asset"
        )
    s3 = assets[0].ground_truth_manifest.s3_object
    if not s3.bucket or not s3.name:
        raise InvalidParameterException(
            f"{member}.Assets[0].GroundTruthManifest.S3Object needs a Bucket and a Name"
        )
    return ManifestInput(s3.bucket, s3.name, s3.version or None)


def _require_settled(dataset: Dataset) -> None:
    if dataset.status in IN_PROGRESS:
        raise ResourceInUseException(
            f"The dataset {dataset.arn} is {dataset.status}; wait until it completes"
        )


def resolve_inputs(
    session: Session, project: Project, request: pb.CreateProjectVersionRequest
) -> TrainingInputs:
    """The inputs the request asks for (see the module docstring for the rules)."""
    datasets = {
        d.dataset_type: d
        for d in session.scalars(select(Dataset).where(Dataset.project_id == project.id))
    }
    has_training = request.HasField("training_data")
    testing = request.testing_data if request.HasField("testing_data") else None
    auto_create = testing is not None and testing.auto_create
    testing_assets = list(testing.assets) if testing is not None else []
    if auto_create and testing_assets:
        raise InvalidParameterException(
            "TestingData takes either Assets or AutoCreate, not both"
        )

    if has_training:
        if testing is None or not (testing_assets or auto_create):
            raise InvalidParameterException(
                "TrainingData needs TestingData too (Assets, or AutoCreate set to true)"
            )
        if datasets:
            raise InvalidParameterException(
                "The project has datasets: train it from them, or use a project without "
                "datasets to train from TrainingData and TestingData manifests"
            )
        training = _single_manifest(request.training_data.assets, "TrainingData")
        if auto_create:
            return TrainingInputs(training, None)
        return TrainingInputs(training, _single_manifest(testing_assets, "TestingData"))

    if testing_assets:
        raise InvalidParameterException("TestingData with Assets needs TrainingData too")
    train = datasets.get("TRAIN")
    if train is None:
        raise InvalidParameterException(
            f"The project {project.arn} has no training dataset; create one, or pass "
            "TrainingData and TestingData"
        )
    _require_settled(train)
    test = datasets.get("TEST")
    if test is not None and not auto_create:
        _require_settled(test)
        return TrainingInputs(DatasetInput(train.id, train.arn), DatasetInput(test.id, test.arn))
    return TrainingInputs(DatasetInput(train.id, train.arn), None)


# --- reading the lines ------------------------------------------------------------------------


class LineSource(Protocol):
    """One input manifest, checked as a file and then read line by line."""

    def check_file(self) -> None:
        """ManifestFileError (training.md §2.3) when the manifest cannot be used at all."""
        ...

    def lines(self) -> Iterator[str]:
        """The manifest's lines in order, streamed (memory does not grow with the count)."""
        ...


class ExternalManifestLines:
    """A manifest object in the blob store (manifests.open_manifest does the file checks)."""

    def __init__(self, blobs: BlobStore, source: ManifestInput, limits: ManifestLimits) -> None:
        self._blobs = blobs
        self._source = source
        self._limits = limits
        self._file: ManifestFile | None = None

    def check_file(self) -> None:
        # A missing extension is a training file error (training.md §2.3), unlike for datasets.
        self._file = open_manifest(self._blobs, self._source.bucket, self._source.key,
                                   limits=self._limits, require_extension=True)
        self._file.check()

    def lines(self) -> Iterator[str]:
        if self._file is None:
            self.check_file()
        assert self._file is not None
        return self._file.lines()


class DatasetLines:
    """The entries of a dataset, as the JSON Lines ListDatasetEntries shows, in order.

    Read in id order, batch by batch (short transactions, never one that holds the store
    for the whole read); entries added after the check are left out.
    """

    def __init__(self, db: Database, source: DatasetInput, limits: ManifestLimits,
                 *, batch_size: int = 1000) -> None:
        self._db = db
        self._source = source
        self._limits = limits
        self._batch_size = batch_size
        self._last_id: int | None = None

    def check_file(self) -> None:
        dataset_id = self._source.dataset_id

        def count(session: Session) -> tuple[bool, int, int | None]:
            exists = session.get(Dataset, dataset_id) is not None
            total, last = session.execute(
                select(func.count(), func.max(DatasetEntry.id)).where(
                    DatasetEntry.dataset_id == dataset_id
                )
            ).one()
            return exists, int(total or 0), last

        exists, total, self._last_id = self._db.run_sync(count)
        if not exists:
            raise ManifestFileError(INACCESSIBLE)  # the dataset was deleted meanwhile
        if total == 0:
            raise ManifestFileError(EMPTY)
        if total > self._limits.max_rows:
            raise ManifestFileError(TOO_MANY_ROWS)

    def lines(self) -> Iterator[str]:
        if self._last_id is None:
            return
        after = 0
        while True:
            def batch(session: Session, after: int = after) -> list[tuple[int, str]]:
                rows = session.execute(
                    select(DatasetEntry.id, DatasetEntry.line)
                    .where(DatasetEntry.dataset_id == self._source.dataset_id,
                           DatasetEntry.id > after, DatasetEntry.id <= self._last_id)
                    .order_by(DatasetEntry.id)
                    .limit(self._batch_size)
                )
                return list(rows.tuples())

            rows = self._db.run_sync(batch)
            if not rows:
                return
            for _entry_id, line in rows:
                yield line
            after = rows[-1][0]


def open_lines(source: InputSource, *, db: Database, blobs: BlobStore,
               limits: ManifestLimits) -> LineSource:
    if isinstance(source, ManifestInput):
        return ExternalManifestLines(blobs, source, limits)
    return DatasetLines(db, source, limits)
