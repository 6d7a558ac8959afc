"""The dataset operations of the local backend (serving.md §4, §9; datasets.md §3, §6, §7), on a
DatasetService built directly on a store and a local blob folder.

Tests stay synchronous: `env.api.<rpc>(request)` runs the service coroutine on the fixture's
event loop. Background jobs run on worker threads; `env.wait(arn)` polls DescribeDataset,
bounded, until the dataset leaves *_IN_PROGRESS.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.blobs.stores import LocalBlobStore, parse_s3_uri
from labelgate.backends.local.control import dataset_jobs
from labelgate.backends.local.control.datasets import DatasetService
from labelgate.backends.local.control.pagination import PageTokens
from labelgate.backends.local.control.tags import TagService
from labelgate.backends.local.core.arns import ArnFactory
from labelgate.backends.local.store import statuses
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.tables import Dataset, DatasetEntry, EntryLabel, Project, Tag
from labelgate.backends.local.validation.manifests import ManifestLimits
from labelgate.errors import (
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceNotReadyException,
)
from labelgate.shapes import enum_to_aws
from labelgate.v1 import custom_labels_pb2 as pb

CONTEXT = RequestContext(request_id="test-request", operation="test")
BUCKET = "datasets-bkt"
TRAIN, TEST = pb.DATASET_TYPE_TRAIN, pb.DATASET_TYPE_TEST
WAIT_SECONDS = 20.0


# --- manifest lines ------------------------------------------------------------------------------


def cls_line(ref: str, *labels: str) -> str:
    line: dict[str, Any] = {"source-ref": ref}
    for i, label in enumerate(labels):
        line[f"c{i}"] = 1
        line[f"c{i}-metadata"] = {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00", "type": "groundtruth/image-classification",
        }
    return json.dumps(line)


def box_line(ref: str, *labels: str) -> str:
    """One 10x10 box per label on a 640x480 image."""
    names = sorted(set(labels))
    return json.dumps({
        "source-ref": ref,
        "bb": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": names.index(label), "left": 5 * i, "top": 5, "width": 10, "height": 10}
                for i, label in enumerate(labels)
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1} for _ in labels],
            "class-map": {str(i): name for i, name in enumerate(names)},
            "type": "groundtruth/object-detection", "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00", "job-name": "labeling-job/bb",
        },
    })


def error_line(ref: str) -> str:
    return json.dumps({"source-ref": ref, "a": 1, "a-metadata": {"type": "groundtruth/nope"}})


def labelled(n: int, labels: int = 4, prefix: str = "img") -> list[str]:
    return [cls_line(f"s3://img-bkt/{prefix}{i}.jpg", f"label{i % labels}") for i in range(n)]


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


TINY_PNG = _tiny_png()


# --- the environment -----------------------------------------------------------------------------


class Api:
    """The service's RPCs as plain functions on the fixture's event loop."""

    def __init__(self, service: DatasetService, runner: asyncio.Runner) -> None:
        self.service = service
        self._runner = runner

    def __getattr__(self, operation: str) -> Callable[[Any], Any]:
        method = getattr(self.service, operation)
        return lambda request: self._runner.run(method(request, CONTEXT))


class Env:
    def __init__(self, db: Database, root: Path, runner: asyncio.Runner) -> None:
        self.db = db
        self.runner = runner
        self.blobs = LocalBlobStore(root / "s3")
        self.arns = ArnFactory()
        self.pages = PageTokens(b"test-secret")
        self.tags = TagService(db)
        self.services: list[DatasetService] = []
        self.api = self.new_api()

    def new_api(self, **options: Any) -> Api:
        service = DatasetService(self.db, self.blobs, self.arns, self.pages, self.tags, **options)
        self.services.append(service)
        return Api(service, self.runner)

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def store(self, work: Callable[[Session], Any]) -> Any:
        return self.db.run_sync(work)

    # seeds
    def project(self, name: str = "proj") -> str:
        arn = self.arns.project(name)
        self.store(lambda s: s.add(Project(arn=arn, name=name, status="CREATED")))
        return arn

    def seed_dataset(self, project_arn: str, dataset_type: str = "TRAIN", **columns: Any) -> str:
        arn = self.arns.dataset(project_arn.split("/")[1], dataset_type)

        def work(session: Session) -> None:
            project_id = session.scalar(select(Project.id).where(Project.arn == project_arn))
            session.add(Dataset(arn=arn, project_id=project_id, dataset_type=dataset_type,
                                **{"status": "CREATE_COMPLETE", **columns}))

        self.store(work)
        return arn

    def put_images(self, data: bytes) -> None:
        """A valid 64x64 PNG at every s3:// source-ref the lines name (images are probed)."""
        for text in data.decode(errors="replace").splitlines():
            try:
                bucket, key = parse_s3_uri(json.loads(text)["source-ref"])
            except (ValueError, TypeError, KeyError):
                continue
            if not self.blobs.exists(bucket, key):
                self.blobs.put(bucket, key, TINY_PNG)

    def manifest(self, lines: list[str] | bytes, key: str = "train.manifest",
                 *, images: bool = True) -> pb.S3Object:
        data = lines if isinstance(lines, bytes) else "\n".join(lines).encode()
        if images:
            self.put_images(data)
        self.blobs.put(BUCKET, key, data)
        return pb.S3Object(bucket=BUCKET, name=key)

    # calls
    def create(
        self,
        project_arn: str,
        dataset_type: int = TRAIN,
        *,
        manifest: pb.S3Object | None = None,
        source_arn: str | None = None,
        tags: dict[str, str] | None = None,
        api: Api | None = None,
    ) -> str:
        request = pb.CreateDatasetRequest(project_arn=project_arn, dataset_type=dataset_type,
                                          tags=tags or {})
        if manifest is not None:
            request.dataset_source.ground_truth_manifest.s3_object.CopyFrom(manifest)
        if source_arn is not None:
            request.dataset_source.dataset_arn = source_arn
        return (api or self.api).create_dataset(request).dataset_arn

    def describe(self, arn: str) -> pb.DatasetDescription:
        return self.api.describe_dataset(
            pb.DescribeDatasetRequest(dataset_arn=arn)
        ).dataset_description

    def wait(self, arn: str, timeout: float = WAIT_SECONDS) -> pb.DatasetDescription:
        """DescribeDataset until the dataset leaves *_IN_PROGRESS (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            description = self.describe(arn)
            if status(description) not in statuses.IN_PROGRESS:
                return description
            assert time.monotonic() < deadline, f"{arn} still {status(description)}"
            self.run(asyncio.sleep(0.02))

    def wait_gone(self, arn: str, timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.describe(arn)
            except ResourceNotFoundException:
                return
            assert time.monotonic() < deadline, f"{arn} was not deleted"
            self.run(asyncio.sleep(0.02))

    def imported(self, project_arn: str, lines: list[str], dataset_type: int = TRAIN) -> str:
        arn = self.create(project_arn, dataset_type,
                          manifest=self.manifest(lines, key=f"m-{len(lines)}-{dataset_type}"))
        assert status(self.wait(arn)) == "CREATE_COMPLETE"
        return arn

    def entries(self, arn: str, **filters: Any) -> list[dict]:
        """Every entry (all pages) as parsed JSON."""
        found, token = [], ""
        while True:
            response = self.api.list_dataset_entries(
                pb.ListDatasetEntriesRequest(dataset_arn=arn, next_token=token, **filters)
            )
            found += [json.loads(line) for line in response.dataset_entries]
            if not response.HasField("next_token"):
                return found
            token = response.next_token

    def refs(self, arn: str, **filters: Any) -> list[str]:
        return [entry["source-ref"] for entry in self.entries(arn, **filters)]

    def labels(self, arn: str, **options: Any) -> dict[str, tuple[int, int]]:
        response = self.api.list_dataset_labels(
            pb.ListDatasetLabelsRequest(dataset_arn=arn, **options)
        )
        return {d.label_name: (d.label_stats.entry_count, d.label_stats.bounding_box_count)
                for d in response.dataset_label_descriptions}

    def update(self, arn: str, lines: list[str] | bytes, *, images: bool = True) -> None:
        data = lines if isinstance(lines, bytes) else "\n".join(lines).encode()
        if images:
            self.put_images(data)
        self.api.update_dataset_entries(
            pb.UpdateDatasetEntriesRequest(dataset_arn=arn, changes={"ground_truth": data})
        )

    def distribute(self, *arns: str) -> None:
        self.api.distribute_dataset_entries(
            pb.DistributeDatasetEntriesRequest(datasets=[pb.DistributeDataset(arn=a) for a in arns])
        )

    def stored_status(self, arn: str) -> str:
        return self.store(lambda s: s.scalar(select(Dataset.status).where(Dataset.arn == arn)))


def status(description: pb.DatasetDescription) -> str:
    return enum_to_aws(pb.DatasetStatus.DESCRIPTOR, description.status)


def code(description: pb.DatasetDescription) -> str:
    return enum_to_aws(pb.DatasetStatusMessageCode.DESCRIPTOR, description.status_message_code)


def stats(description: pb.DatasetDescription) -> tuple[int, int, int, int]:
    s = description.dataset_stats
    return s.total_entries, s.labeled_entries, s.total_labels, s.error_entries


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    db = Database.open(database_url)
    runner = asyncio.Runner()
    environment = Env(db, tmp_path, runner)
    try:
        yield environment
    finally:
        for service in environment.services:
            runner.run(service.close())
        runner.close()
        db.close()


@pytest.fixture
def project(env: Env) -> str:
    return env.project()


# --- CreateDataset -------------------------------------------------------------------------------


def test_create_dataset_unknown_project_is_resource_not_found(env):
    with pytest.raises(ResourceNotFoundException):
        env.create(env.arns.project("nobody"))


def test_create_dataset_second_of_a_type_is_resource_already_exists(env, project):
    env.create(project, TRAIN)
    env.create(project, TEST)  # the other type is fine
    with pytest.raises(ResourceAlreadyExistsException):
        env.create(project, TRAIN)


def test_create_dataset_without_a_type_is_invalid_parameter(env, project):
    with pytest.raises(InvalidParameterException):
        env.api.create_dataset(pb.CreateDatasetRequest(project_arn=project))


def test_create_dataset_arn_follows_the_aws_layout(env, project):
    arn = env.create(project, TEST)
    assert arn.split("/")[1:4] == ["proj", "dataset", "test"]
    assert arn.split("/")[4].isdigit()


def test_create_dataset_without_source_is_empty_and_create_complete(env, project):
    description = env.describe(env.create(project))
    assert status(description) == "CREATE_COMPLETE"
    assert code(description) == "SUCCESS"
    assert description.status_message == "The dataset was successfully created."
    assert stats(description) == (0, 0, 0, 0)


def test_describe_dataset_always_sends_every_field(env, project):
    description = env.describe(env.create(project))
    for name in ("creation_timestamp", "last_updated_timestamp", "status", "status_message",
                 "status_message_code", "dataset_stats"):
        assert description.HasField(name), name
    for name in ("labeled_entries", "total_entries", "total_labels", "error_entries"):
        assert description.dataset_stats.HasField(name), name


def test_create_from_manifest_returns_with_create_in_progress_committed(env, project):
    request = pb.CreateDatasetRequest(project_arn=project, dataset_type=TRAIN)
    request.dataset_source.ground_truth_manifest.s3_object.CopyFrom(env.manifest(labelled(10)))

    async def create_and_look() -> tuple[str, str]:
        arn = (await env.api.service.create_dataset(request, CONTEXT)).dataset_arn
        # Before the event loop runs anything else: what a client polling now would see.
        return arn, env.stored_status(arn)

    arn, seen = env.run(create_and_look())
    assert seen == "CREATE_IN_PROGRESS"
    description = env.wait(arn)
    assert status(description) == "CREATE_COMPLETE"
    assert code(description) == "SUCCESS"
    assert description.status_message == "The dataset was successfully created."


def test_create_from_manifest_imports_entries_and_stats(env, project):
    lines = [
        cls_line("s3://img-bkt/a.jpg", "cat"),
        cls_line("s3://img-bkt/b.jpg", "cat", "dog"),
        box_line("s3://img-bkt/c.jpg", "dog", "dog", "bird"),
        json.dumps({"source-ref": "s3://img-bkt/d.jpg"}),
        error_line("s3://img-bkt/e.jpg"),
    ]
    description = env.wait(env.create(project, manifest=env.manifest(lines)))
    assert stats(description) == (5, 3, 3, 1)  # total, labelled, labels, with errors
    timestamps = (description.creation_timestamp.ToDatetime(),
                  description.last_updated_timestamp.ToDatetime())
    assert timestamps[1] >= timestamps[0]


def test_create_from_manifest_streams_in_batches(env, project):
    api = env.new_api(batch_size=50)
    arn = env.create(project, manifest=env.manifest(labelled(1234, labels=7)), api=api)
    assert stats(env.wait(arn)) == (1234, 1234, 7, 0)
    assert len(env.refs(arn)) == 1234


def test_create_from_missing_manifest_is_invalid_s3_object_and_creates_nothing(env, project):
    with pytest.raises(InvalidS3ObjectException) as caught:
        env.create(project, manifest=pb.S3Object(bucket=BUCKET, name="nope.manifest"))
    assert BUCKET in str(caught.value) and "nope.manifest" in str(caught.value)
    env.create(project)  # the TRAIN slot is still free


def test_create_with_both_sources_is_invalid_parameter(env, project):
    source = env.create(env.project("other"))
    request = pb.CreateDatasetRequest(project_arn=project, dataset_type=TRAIN)
    request.dataset_source.dataset_arn = source
    request.dataset_source.ground_truth_manifest.s3_object.CopyFrom(env.manifest(labelled(2)))
    with pytest.raises(InvalidParameterException):
        env.api.create_dataset(request)


def test_manifest_gone_before_import_is_inaccessible_or_unsupported_format(env, project):
    manifest = env.manifest(labelled(3))
    request = pb.CreateDatasetRequest(project_arn=project, dataset_type=TRAIN)
    request.dataset_source.ground_truth_manifest.s3_object.CopyFrom(manifest)

    async def create_then_remove() -> str:
        arn = (await env.api.service.create_dataset(request, CONTEXT)).dataset_arn
        env.blobs.delete(BUCKET, manifest.name)  # before the background job starts
        return arn

    description = env.wait(env.run(create_then_remove()))
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message.startswith(
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT:"
    )


def test_manifest_that_is_not_json_lines_is_unsupported_format(env, project):
    description = env.wait(env.create(project, manifest=env.manifest(b"\x89PNG\r\n\x1a\n\x00")))
    assert description.status_message.startswith(
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT:"
    )


def test_empty_manifest_fails_with_error_empty_manifest(env, project):
    description = env.wait(env.create(project, manifest=env.manifest(b"")))
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message == "ERROR_EMPTY_MANIFEST: The manifest file is empty."


def test_manifest_over_the_size_limit_fails(env, project):
    api = env.new_api(limits=ManifestLimits(max_bytes=1000))
    arn = env.create(project, manifest=env.manifest(labelled(20)), api=api)
    description = env.wait(arn)
    assert status(description) == "CREATE_FAILED"
    assert description.status_message.startswith("ERROR_MANIFEST_SIZE_TOO_LARGE:")


def test_manifest_with_too_many_rows_fails_and_keeps_no_entries(env, project):
    api = env.new_api(limits=ManifestLimits(max_rows=10), batch_size=3)
    arn = env.create(project, manifest=env.manifest(labelled(11)), api=api)
    description = env.wait(arn)
    assert status(description) == "CREATE_FAILED"
    assert description.status_message.startswith("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM:")
    assert stats(description) == (0, 0, 0, 0)  # the batches already stored are gone


def test_bad_lines_up_to_20_percent_are_silently_dropped(env, project):
    lines = [*labelled(8), "{not json", json.dumps({"no": "source-ref"})]
    description = env.wait(env.create(project, manifest=env.manifest(lines)))
    assert status(description) == "CREATE_COMPLETE"
    assert stats(description)[0] == 8
    assert stats(description)[3] == 0  # dropped lines are not error entries


def test_more_than_20_percent_bad_lines_is_too_many_records_in_error(env, project):
    lines = [*labelled(7), "{not json", '{"source-ref": "https://x/y.jpg"}', "[]"]
    description = env.wait(env.create(project, manifest=env.manifest(lines)))
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message.startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR:")


def test_duplicate_source_ref_keeps_the_first_and_counts_as_a_bad_line(env, project):
    api = env.new_api(batch_size=2)  # the duplicate lands in a later batch
    lines = [
        cls_line("s3://img-bkt/same.jpg", "first"),
        *labelled(8),
        cls_line("s3://img-bkt/same.jpg", "second"),
    ]
    arn = env.create(project, manifest=env.manifest(lines), api=api)
    assert stats(env.wait(arn))[0] == 9
    (entry,) = env.entries(arn, source_ref_contains="same.jpg")
    assert entry["c0-metadata"]["class-name"] == "first"
    assert "second" not in env.labels(arn)
    # Three duplicates of eight lines pass 20 %: duplicates count as terminal errors.
    lines = labelled(8) + labelled(3)
    description = env.wait(env.create(env.project("p2"), manifest=env.manifest(lines, "d")))
    assert description.status_message.startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR:")


def test_manifest_with_too_many_labels_fails(env, project):
    api = env.new_api(limits=ManifestLimits(max_labels=5))
    arn = env.create(project, manifest=env.manifest(labelled(12, labels=6)), api=api)
    description = env.wait(arn)
    assert status(description) == "CREATE_FAILED"
    assert description.status_message.startswith("ERROR_MANIFEST_TOO_MANY_LABELS:")


def test_create_dataset_stores_its_tags(env, project):
    arn = env.create(project, tags={"team": "vision", "env": "test"})
    tags = env.run(env.tags.list_tags_for_resource(
        pb.ListTagsForResourceRequest(resource_arn=arn), CONTEXT)).tags
    assert dict(tags) == {"team": "vision", "env": "test"}


def test_unexpected_failure_is_create_failed_service_error(env, project, monkeypatch):
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dataset_jobs, "iter_entries", broken)
    description = env.wait(env.create(project, manifest=env.manifest(labelled(3))))
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "SERVICE_ERROR"
    assert "disk on fire" not in description.status_message  # internals never leak


# --- CreateDataset from an existing dataset ------------------------------------------------------


def test_copy_dataset_from_another_project_copies_entries_and_labels(env, project):
    # One invalid line in five: at the 20 % limit, so the import completes.
    source = env.imported(env.project("origin"), [
        cls_line("s3://img-bkt/a.jpg", "cat"), box_line("s3://img-bkt/b.jpg", "dog", "dog"),
        error_line("s3://img-bkt/c.jpg"), cls_line("s3://img-bkt/d.jpg", "cat"),
        json.dumps({"source-ref": "s3://img-bkt/e.jpg"}),
    ])
    copy = env.create(project, TEST, source_arn=source)
    description = env.wait(copy)
    assert status(description) == "CREATE_COMPLETE"
    assert stats(description) == stats(env.describe(source)) == (5, 3, 2, 1)
    assert env.entries(copy) == env.entries(source)
    assert env.labels(copy) == env.labels(source) == {"cat": (2, 0), "dog": (1, 1)}
    assert env.refs(copy, contains_labels=["dog"]) == ["s3://img-bkt/b.jpg"]


def test_copy_from_unknown_dataset_is_resource_not_found(env, project):
    with pytest.raises(ResourceNotFoundException):
        env.create(project, source_arn=env.arns.dataset("ghost", "TRAIN"))


@pytest.mark.parametrize("state", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "CREATE_FAILED"])
def test_copy_from_a_dataset_that_is_not_ready_is_resource_not_ready(env, project, state):
    source = env.seed_dataset(env.project("origin"), status=state)
    with pytest.raises(ResourceNotReadyException):
        env.create(project, source_arn=source)


# --- DescribeDataset -----------------------------------------------------------------------------


def test_describe_unknown_dataset_is_resource_not_found(env, project):
    with pytest.raises(ResourceNotFoundException):
        env.describe(env.arns.dataset("proj", "TRAIN"))


# --- validation of entries: images, buckets, the 20 % rule (datasets.md §4.6, §7; training.md §2.5)

INVALID_IMAGE = {"code": "ERROR_INVALID_IMAGE",
                 "message": "The image is invalid. Check S3 path and/or image properties."}


def import_without(env: Env, project_arn: str, lines: list[str], *missing: str,
                   key: str = "train.manifest") -> str:
    """Import `lines` after deleting the images named in `missing` (keys in img-bkt)."""
    manifest = env.manifest(lines, key)
    for name in missing:
        env.blobs.delete("img-bkt", name)
    return env.create(project_arn, manifest=manifest)


def test_missing_images_up_to_20_percent_are_error_entries_without_labels(env, project):
    lines = [*labelled(8), cls_line("s3://img-bkt/gone1.jpg", "lost"),
             box_line("s3://img-bkt/gone2.jpg", "lost")]
    arn = import_without(env, project, lines, "gone1.jpg", "gone2.jpg")
    description = env.wait(arn)
    assert status(description) == "CREATE_COMPLETE"
    assert stats(description) == (10, 8, 4, 2)  # total, labelled, labels, with errors
    errored = env.entries(arn, has_errors=True)
    assert [e["source-ref"] for e in errored] == ["s3://img-bkt/gone1.jpg",
                                                  "s3://img-bkt/gone2.jpg"]
    assert all(e["cl-errors"] == [INVALID_IMAGE] for e in errored)
    assert all(e["cl-metadata"] == {"is_labeled": False} for e in errored)
    assert "lost" not in env.labels(arn)  # an invalid line's labels are not the dataset's
    assert env.refs(arn, contains_labels=["lost"]) == []
    assert len(env.refs(arn, labeled=False)) == 2


def test_missing_images_over_20_percent_fail_the_import(env, project):
    lines = labelled(7) + [cls_line(f"s3://img-bkt/gone{i}.jpg", "lost") for i in range(3)]
    arn = import_without(env, project, lines, "gone0.jpg", "gone1.jpg", "gone2.jpg")
    description = env.wait(arn)
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message.startswith(
        "ERROR_TOO_MANY_RECORDS_IN_ERROR: The manifest file has too many terminal errors. "
        "3 of 10 lines reference images that are missing or cannot be read")
    assert stats(description) == (0, 0, 0, 0)


def test_the_20_percent_rule_is_cumulative_over_every_kind_of_bad_line(env, project):
    images = [cls_line(f"s3://img-bkt/gone{i}.jpg", "x") for i in range(3)]
    bad_json = ["{not json"] * 3
    # 15 % missing images alone, or 15 % bad JSON alone, pass ...
    assert status(env.wait(import_without(env, env.project("p1"), labelled(17) + images,
                                          "gone0.jpg", "gone1.jpg", "gone2.jpg",
                                          key="m1"))) == "CREATE_COMPLETE"
    assert status(env.wait(env.create(env.project("p2"), manifest=env.manifest(
        labelled(17) + bad_json, "m2")))) == "CREATE_COMPLETE"
    # ... together they are 30 %.
    description = env.wait(import_without(env, project, labelled(14) + images + bad_json,
                                          "gone0.jpg", "gone1.jpg", "gone2.jpg", key="m3"))
    assert status(description) == "CREATE_FAILED"
    assert description.status_message.startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR:")
    assert "6 of 20 lines are invalid" in description.status_message


def test_a_file_that_is_not_an_image_is_an_error_entry(env, project):
    lines = [*labelled(9), cls_line("s3://img-bkt/fake.png", "fake")]
    manifest = env.manifest(lines)
    env.blobs.put("img-bkt", "fake.png", b"not an image at all")
    arn = env.create(project, manifest=manifest)
    assert stats(env.wait(arn)) == (10, 9, 4, 1)
    (entry,) = env.entries(arn, has_errors=True)
    assert entry["cl-errors"] == [INVALID_IMAGE]


def test_images_in_two_buckets_fail_the_import(env, project):
    lines = [*labelled(5), cls_line("s3://other-bkt/x.jpg", "cat")]
    description = env.wait(env.create(project, manifest=env.manifest(lines)))
    assert status(description) == "CREATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message.startswith(
        "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS: The manifest file contains images from multiple "
        "S3 buckets.")


def test_update_bringing_a_second_bucket_fails_and_changes_nothing(env, project):
    arn = env.imported(project, labelled(5))
    before = env.entries(arn)
    env.update(arn, [cls_line("s3://other-bkt/x.jpg", "cat")])
    description = env.wait(arn)
    assert status(description) == "UPDATE_FAILED"
    assert description.status_message.startswith("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS:")
    assert env.entries(arn) == before


def test_an_off_frame_box_keeps_the_other_labels_and_flags_the_entry(env, project):
    line = json.loads(box_line("s3://img-bkt/b.jpg", "bolt", "nut"))
    line["bb"]["annotations"][0]["left"] = -10
    arn = env.imported(project, [cls_line("s3://img-bkt/a.jpg", "cat"), json.dumps(line)])
    assert stats(env.describe(arn)) == (2, 2, 2, 1)
    assert env.labels(arn) == {"cat": (1, 0), "nut": (1, 1)}
    (entry,) = env.entries(arn, has_errors=True)
    assert entry["bb"]["annotations"][0]["cl-errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"
    assert entry["cl-metadata"] == {"is_labeled": True}


def test_a_listed_entry_fixed_and_sent_back_loses_its_errors(env, project):
    arn = import_without(env, project, [*labelled(4), cls_line("s3://img-bkt/late.jpg", "late")],
                         "late.jpg")
    env.wait(arn)
    (entry,) = env.entries(arn, has_errors=True)
    env.blobs.put("img-bkt", "late.jpg", TINY_PNG)  # the image arrives
    env.update(arn, [json.dumps(entry)], images=False)
    assert stats(env.wait(arn)) == (5, 5, 5, 0)
    (fixed,) = env.entries(arn, source_ref_contains="late.jpg")
    assert "cl-errors" not in fixed and fixed["cl-metadata"] == {"is_labeled": True}
    assert env.labels(arn)["late"] == (1, 0)


def test_image_validation_can_be_turned_off(env, project):
    api = env.new_api(validate_images=False)
    arn = env.create(project, manifest=env.manifest(labelled(5), images=False), api=api)
    assert stats(env.wait(arn)) == (5, 5, 4, 0)


# --- ListDatasetEntries --------------------------------------------------------------------------


@pytest.fixture
def mixed(env: Env, project: str) -> str:
    return env.imported(project, [
        cls_line("s3://img-bkt/cats/c1.jpg", "cat"),
        cls_line("s3://img-bkt/cats/c2.jpg", "cat", "dog"),
        box_line("s3://img-bkt/dogs/d1.jpg", "dog"),
        json.dumps({"source-ref": "s3://img-bkt/Dogs/d2.jpg"}),
        error_line("s3://img-bkt/err/e1.jpg"),
    ])


def short(refs: list[str]) -> list[str]:
    return [ref.rsplit("/", 1)[1].removesuffix(".jpg") for ref in refs]


def test_list_entries_returns_the_json_lines_in_order(env, mixed):
    entries = env.entries(mixed)
    assert short([e["source-ref"] for e in entries]) == ["c1", "c2", "d1", "d2", "e1"]
    assert entries[0]["cl-metadata"] == {"is_labeled": True}
    assert entries[3]["cl-metadata"] == {"is_labeled": False}
    assert entries[4]["cl-errors"][0]["code"] == "ERROR_NO_VALID_LABEL_ATTRIBUTES"


def test_list_entries_contains_labels_matches_any_of_them(env, mixed):
    assert short(env.refs(mixed, contains_labels=["cat"])) == ["c1", "c2"]
    assert short(env.refs(mixed, contains_labels=["dog", "bird"])) == ["c2", "d1"]
    assert env.refs(mixed, contains_labels=["bird"]) == []


def test_list_entries_labeled_filter(env, mixed):
    assert short(env.refs(mixed, labeled=True)) == ["c1", "c2", "d1"]
    assert short(env.refs(mixed, labeled=False)) == ["d2", "e1"]


def test_list_entries_source_ref_contains_is_a_case_sensitive_substring(env, mixed):
    assert short(env.refs(mixed, source_ref_contains="dogs/")) == ["d1"]
    assert short(env.refs(mixed, source_ref_contains="Dogs/")) == ["d2"]
    assert short(env.refs(mixed, source_ref_contains="c2.jpg")) == ["c2"]
    assert env.refs(mixed, source_ref_contains="%") == []  # no LIKE wildcards


def test_list_entries_has_errors_filter(env, mixed):
    assert short(env.refs(mixed, has_errors=True)) == ["e1"]
    assert short(env.refs(mixed, has_errors=False)) == ["c1", "c2", "d1", "d2"]


def test_list_entries_filters_combine(env, mixed):
    assert short(env.refs(mixed, contains_labels=["dog"], source_ref_contains="cats/")) == ["c2"]


def test_list_entries_pages_with_max_results(env, mixed):
    first = env.api.list_dataset_entries(
        pb.ListDatasetEntriesRequest(dataset_arn=mixed, max_results=2, next_token="")
    )
    assert len(first.dataset_entries) == 2 and first.next_token
    second = env.api.list_dataset_entries(
        pb.ListDatasetEntriesRequest(dataset_arn=mixed, max_results=2, next_token=first.next_token)
    )
    third = env.api.list_dataset_entries(
        pb.ListDatasetEntriesRequest(dataset_arn=mixed, max_results=2, next_token=second.next_token)
    )
    assert len(second.dataset_entries) == 2 and len(third.dataset_entries) == 1
    assert not third.HasField("next_token")
    assert env.refs(mixed, max_results=1) == env.refs(mixed)


def test_list_entries_default_page_is_100(env, project):
    arn = env.imported(project, labelled(150))
    response = env.api.list_dataset_entries(pb.ListDatasetEntriesRequest(dataset_arn=arn))
    assert len(response.dataset_entries) == 100 and response.next_token


def test_list_entries_token_is_bound_to_its_filters(env, mixed):
    token = env.api.list_dataset_entries(
        pb.ListDatasetEntriesRequest(dataset_arn=mixed, max_results=1, labeled=True)
    ).next_token
    with pytest.raises(InvalidPaginationTokenException):
        env.api.list_dataset_entries(
            pb.ListDatasetEntriesRequest(dataset_arn=mixed, next_token=token, labeled=False)
        )
    with pytest.raises(InvalidPaginationTokenException):
        env.api.list_dataset_entries(
            pb.ListDatasetEntriesRequest(dataset_arn=mixed, next_token=token[:-2] + "xx")
        )


def test_list_entries_while_creating_or_updating_is_resource_not_ready(env, project):
    for state in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
        arn = env.seed_dataset(env.project(f"p-{state.lower()}"), status=state)
        with pytest.raises(ResourceNotReadyException):
            env.entries(arn)
        with pytest.raises(ResourceNotReadyException):
            env.labels(arn)


def test_list_entries_while_deleting_is_resource_in_use(env, project):
    arn = env.seed_dataset(project, status="DELETE_IN_PROGRESS")
    with pytest.raises(ResourceInUseException):
        env.entries(arn)


def test_list_entries_unknown_dataset_is_resource_not_found(env, project):
    with pytest.raises(ResourceNotFoundException):
        env.entries(env.arns.dataset("proj", "TRAIN"))


# --- ListDatasetLabels ---------------------------------------------------------------------------


def test_list_labels_sorted_with_entry_and_bounding_box_counts(env, mixed):
    response = env.api.list_dataset_labels(pb.ListDatasetLabelsRequest(dataset_arn=mixed))
    assert [d.label_name for d in response.dataset_label_descriptions] == ["cat", "dog"]
    assert env.labels(mixed) == {"cat": (2, 0), "dog": (2, 1)}


def test_list_labels_pages(env, project):
    arn = env.imported(project, labelled(30, labels=7))
    names, token = [], ""
    while True:
        response = env.api.list_dataset_labels(
            pb.ListDatasetLabelsRequest(dataset_arn=arn, max_results=3, next_token=token)
        )
        names += [d.label_name for d in response.dataset_label_descriptions]
        if not response.HasField("next_token"):
            break
        token = response.next_token
    assert names == [f"label{i}" for i in range(7)]


def test_list_labels_pages_past_a_name_too_long_for_a_token(env, project):
    long_names = [chr(0x4E00 + i) * 256 for i in range(3)]  # 768 UTF-8 bytes each
    arn = env.imported(project, [cls_line(f"s3://img-bkt/{i}.jpg", n)
                                 for i, n in enumerate(long_names)])
    names, token = [], ""
    while True:
        response = env.api.list_dataset_labels(
            pb.ListDatasetLabelsRequest(dataset_arn=arn, max_results=1, next_token=token)
        )
        names += [d.label_name for d in response.dataset_label_descriptions]
        if not response.HasField("next_token"):
            break
        assert len(response.next_token) <= 1024
        token = response.next_token
    assert names == sorted(long_names)


# --- UpdateDatasetEntries ------------------------------------------------------------------------


def test_update_replaces_by_source_ref_and_adds_new_entries(env, project):
    arn = env.imported(project, [cls_line("s3://img-bkt/a.jpg", "cat"),
                                 cls_line("s3://img-bkt/b.jpg", "cat")])
    env.update(arn, [cls_line("s3://img-bkt/b.jpg", "dog"), box_line("s3://img-bkt/c.jpg", "owl")])
    description = env.wait(arn)
    assert status(description) == "UPDATE_COMPLETE"
    assert code(description) == "SUCCESS"
    assert description.status_message == "The dataset was successfully updated."
    assert stats(description) == (3, 3, 3, 0)
    assert short(env.refs(arn)) == ["a", "b", "c"]  # a replaced entry keeps its place
    assert env.labels(arn) == {"cat": (1, 0), "dog": (1, 0), "owl": (1, 1)}
    assert short(env.refs(arn, contains_labels=["cat"])) == ["a"]


def test_update_returns_with_update_in_progress_committed(env, project):
    arn = env.create(project)
    env.put_images(cls_line("s3://img-bkt/a.jpg", "x").encode())

    async def update_and_look() -> str:
        request = pb.UpdateDatasetEntriesRequest(
            dataset_arn=arn, changes={"ground_truth": cls_line("s3://img-bkt/a.jpg", "x").encode()}
        )
        await env.api.service.update_dataset_entries(request, CONTEXT)
        return env.stored_status(arn)

    assert env.run(update_and_look()) == "UPDATE_IN_PROGRESS"
    assert status(env.wait(arn)) == "UPDATE_COMPLETE"


def test_update_accepts_several_lines_crlf_and_a_trailing_newline(env, project):
    arn = env.create(project)
    data = (cls_line("s3://img-bkt/a.jpg", "x") + "\r\n" + cls_line("s3://img-bkt/b.jpg", "y")
            + "\n").encode()
    env.update(arn, data)
    assert stats(env.wait(arn)) == (2, 2, 2, 0)


def test_update_removing_a_label_from_every_entry_removes_the_label(env, project):
    arn = env.imported(project, [cls_line("s3://img-bkt/a.jpg", "cat", "blurry"),
                                 cls_line("s3://img-bkt/b.jpg", "dog")])
    env.update(arn, [cls_line("s3://img-bkt/a.jpg", "cat")])
    env.wait(arn)
    assert env.labels(arn) == {"cat": (1, 0), "dog": (1, 0)}


def test_update_of_a_busy_dataset_is_resource_in_use(env, project):
    for state in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"):
        arn = env.seed_dataset(env.project(f"p-{state.lower()}"), status=state)
        with pytest.raises(ResourceInUseException):
            env.update(arn, [cls_line("s3://img-bkt/a.jpg", "x")])


def test_update_of_unknown_dataset_is_resource_not_found(env, project):
    with pytest.raises(ResourceNotFoundException):
        env.update(env.arns.dataset("proj", "TRAIN"), [cls_line("s3://img-bkt/a.jpg", "x")])


def test_failed_update_leaves_the_previous_entries_intact(env, project):
    before_lines = [cls_line(f"s3://img-bkt/{i}.jpg", "cat") for i in range(3)]
    arn = env.imported(project, before_lines)
    before = env.entries(arn)
    # The good line comes first, so it is applied before the bad ones make the update fail.
    env.update(arn, [cls_line("s3://img-bkt/0.jpg", "dog"), "junk", "more junk"])
    description = env.wait(arn)
    assert status(description) == "UPDATE_FAILED"
    assert code(description) == "CLIENT_ERROR"
    assert description.status_message.startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR:")
    assert env.entries(arn) == before
    assert env.labels(arn) == {"cat": (3, 0)}
    # A failed update does not block the next one.
    env.update(arn, [cls_line("s3://img-bkt/0.jpg", "dog")])
    assert status(env.wait(arn)) == "UPDATE_COMPLETE"


def test_update_past_the_dataset_size_limit_fails_and_changes_nothing(env, project):
    api = env.new_api(limits=ManifestLimits(max_rows=5))
    arn = env.create(project, manifest=env.manifest(labelled(5)), api=api)
    env.wait(arn)
    env.put_images(cls_line("s3://img-bkt/n.jpg", "new").encode())
    api.update_dataset_entries(pb.UpdateDatasetEntriesRequest(
        dataset_arn=arn, changes={"ground_truth": cls_line("s3://img-bkt/n.jpg", "new").encode()}
    ))
    description = env.wait(arn)
    assert status(description) == "UPDATE_FAILED"
    assert description.status_message.startswith("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM:")
    assert stats(description)[0] == 5


def test_update_past_the_label_limit_fails_and_changes_nothing(env, project):
    api = env.new_api(limits=ManifestLimits(max_labels=3))
    arn = env.create(project, manifest=env.manifest(labelled(6, labels=3)), api=api)
    env.wait(arn)
    env.put_images(cls_line("s3://img-bkt/n.jpg", "new").encode())
    api.update_dataset_entries(pb.UpdateDatasetEntriesRequest(
        dataset_arn=arn, changes={"ground_truth": cls_line("s3://img-bkt/n.jpg", "new").encode()}
    ))
    description = env.wait(arn)
    assert description.status_message.startswith("ERROR_MANIFEST_TOO_MANY_LABELS:")
    assert stats(description) == (6, 6, 3, 0)


# --- DistributeDatasetEntries --------------------------------------------------------------------


def test_distribute_moves_20_percent_with_every_label_on_both_sides(env, project):
    train = env.imported(project, labelled(50, labels=5))
    test = env.create(project, TEST)

    async def distribute_and_look() -> list[str]:
        request = pb.DistributeDatasetEntriesRequest(
            datasets=[pb.DistributeDataset(arn=train), pb.DistributeDataset(arn=test)]
        )
        await env.api.service.distribute_dataset_entries(request, CONTEXT)
        return [env.stored_status(train), env.stored_status(test)]

    assert env.run(distribute_and_look()) == ["UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"]
    train_description, test_description = env.wait(train), env.wait(test)
    assert status(train_description) == status(test_description) == "UPDATE_COMPLETE"
    assert stats(train_description)[0] == 40 and stats(test_description)[0] == 10
    assert set(env.labels(train)) == set(env.labels(test)) == {f"label{i}" for i in range(5)}
    assert not set(env.refs(train)) & set(env.refs(test))


def test_distribute_is_deterministic(env):
    lines = labelled(40, labels=4)
    splits = []
    for name, ordered in (("p1", lines), ("p2", list(reversed(lines)))):
        project = env.project(name)
        train = env.imported(project, ordered)
        test = env.create(project, TEST)
        env.distribute(test, train)  # either order
        env.wait(train)
        env.wait(test)
        splits.append(sorted(env.refs(test)))
    assert splits[0] == splits[1]


def test_distribute_with_too_few_labelled_images_fails_both(env, project):
    train = env.imported(project, [*labelled(6, labels=3), cls_line("s3://img-bkt/r.jpg", "rare")])
    test = env.create(project, TEST)
    env.distribute(train, test)
    for arn in (train, test):
        description = env.wait(arn)
        assert status(description) == "UPDATE_FAILED"
        assert code(description) == "CLIENT_ERROR"
        assert description.status_message.startswith(
            "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE:"
        )
    assert stats(env.describe(train))[0] == 7 and stats(env.describe(test))[0] == 0


def test_distribute_needs_one_train_and_one_test_dataset(env, project):
    train = env.imported(project, labelled(10))
    other_train = env.imported(env.project("other"), labelled(10))
    with pytest.raises(InvalidParameterException):
        env.distribute(train, other_train)
    with pytest.raises(InvalidParameterException):
        env.distribute(train, train)


def test_distribute_across_projects_is_invalid_parameter(env, project):
    train = env.imported(project, labelled(10))
    test = env.create(env.project("other"), TEST)
    with pytest.raises(InvalidParameterException):
        env.distribute(train, test)


def test_distribute_into_a_non_empty_test_dataset_is_invalid_parameter(env, project):
    train = env.imported(project, labelled(10))
    test = env.imported(project, labelled(2, prefix="t"), TEST)
    with pytest.raises(InvalidParameterException):
        env.distribute(train, test)


@pytest.mark.parametrize("state", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_FAILED"])
def test_distribute_needs_both_datasets_complete(env, project, state):
    train = env.imported(project, labelled(10))
    test = env.seed_dataset(project, "TEST", status=state)
    with pytest.raises(ResourceNotReadyException):
        env.distribute(train, test)
    assert status(env.describe(train)) == "CREATE_COMPLETE"  # nothing was claimed


def test_distribute_unknown_dataset_is_resource_not_found(env, project):
    train = env.imported(project, labelled(10))
    with pytest.raises(ResourceNotFoundException):
        env.distribute(train, env.arns.dataset("proj", "TEST"))


# --- DeleteDataset -------------------------------------------------------------------------------


def test_delete_dataset_removes_it_with_entries_labels_and_tags(env, project):
    arn = env.create(project, manifest=env.manifest(labelled(20)), tags={"k": "v"})
    env.wait(arn)

    async def delete_and_look() -> str:
        await env.api.service.delete_dataset(pb.DeleteDatasetRequest(dataset_arn=arn), CONTEXT)
        return env.stored_status(arn)

    assert env.run(delete_and_look()) == "DELETE_IN_PROGRESS"
    env.wait_gone(arn)

    def leftovers(session: Session) -> tuple[int, int, int]:
        def count(table: Any, *where: Any) -> int:
            return session.scalar(select(func.count()).select_from(table).where(*where))

        return count(DatasetEntry), count(EntryLabel), count(Tag, Tag.resource_arn == arn)

    assert env.store(leftovers) == (0, 0, 0)
    env.create(project)  # the TRAIN slot is free again


@pytest.mark.parametrize("state", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"])
def test_delete_while_in_progress_is_resource_in_use(env, project, state):
    arn = env.seed_dataset(project, status=state)
    with pytest.raises(ResourceInUseException):
        env.api.delete_dataset(pb.DeleteDatasetRequest(dataset_arn=arn))


@pytest.mark.parametrize("state", ["CREATE_FAILED", "UPDATE_FAILED", "UPDATE_COMPLETE"])
def test_delete_after_a_final_state_works(env, project, state):
    arn = env.seed_dataset(project, status=state)
    env.api.delete_dataset(pb.DeleteDatasetRequest(dataset_arn=arn))
    env.wait_gone(arn)


def test_delete_unknown_dataset_is_resource_not_found(env, project):
    with pytest.raises(ResourceNotFoundException):
        env.api.delete_dataset(pb.DeleteDatasetRequest(dataset_arn=env.arns.dataset("p", "TEST")))


# --- restart: resume() and close() ---------------------------------------------------------------


def test_close_interrupts_an_import_and_resume_finishes_it(env, project):
    api = env.new_api(batch_size=10)
    request = pb.CreateDatasetRequest(project_arn=project, dataset_type=TRAIN)
    request.dataset_source.ground_truth_manifest.s3_object.CopyFrom(env.manifest(labelled(300)))

    async def create_then_stop() -> str:
        arn = (await api.service.create_dataset(request, CONTEXT)).dataset_arn
        await api.service.close()  # the job sees the stop before it imports anything
        return arn

    arn = env.run(create_then_stop())
    assert env.stored_status(arn) == "CREATE_IN_PROGRESS"  # pending, not failed
    restarted = env.new_api()
    env.run(restarted.service.resume())
    description = env.wait(arn)
    assert status(description) == "CREATE_COMPLETE"
    assert stats(description)[0] == 300


def test_a_job_claimed_while_the_previous_one_finishes_still_runs(env, project):
    """A delete claimed in the instant between an update's commit and the end of its runner
    task is picked up by that runner, not lost."""
    api = env.new_api()
    arn = env.seed_dataset(project)
    release = threading.Event()
    real_run = dataset_jobs.DatasetJobs.run
    calls: list[int] = []

    def held_first_run(self: dataset_jobs.DatasetJobs, dataset_id: int) -> None:
        calls.append(dataset_id)
        if len(calls) == 1:
            release.wait(WAIT_SECONDS)  # the "update" job, finishing slowly
            return None
        return real_run(self, dataset_id)

    async def scenario() -> None:
        service = api.service
        await service.update_dataset_entries(pb.UpdateDatasetEntriesRequest(
            dataset_arn=arn, changes={"ground_truth": b"{}"}), CONTEXT)
        await asyncio.sleep(0.05)  # the runner is now inside the held job
        # The update's work is committed, but its runner task has not ended yet.
        env.store(lambda s: s.execute(
            Dataset.__table__.update().where(Dataset.arn == arn).values(status="UPDATE_COMPLETE")
        ))
        await service.delete_dataset(pb.DeleteDatasetRequest(dataset_arn=arn), CONTEXT)
        release.set()
        await service.wait_idle()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dataset_jobs.DatasetJobs, "run", held_first_run)
        env.run(scenario())
    assert len(calls) == 2
    env.wait_gone(arn)


def test_resume_restarts_every_kind_of_pending_job(env, project):
    manifest = env.manifest(labelled(5))
    importing = env.seed_dataset(project, status="CREATE_IN_PROGRESS", pending_job={
        "kind": "import", "bucket": manifest.bucket, "key": manifest.name})
    source = env.imported(env.project("src"), labelled(4, prefix="s"))
    copying = env.seed_dataset(project, "TEST", status="CREATE_IN_PROGRESS",
                               pending_job={"kind": "copy", "source_arn": source})
    deleting = env.seed_dataset(env.project("gone"), status="DELETE_IN_PROGRESS")
    env.put_images(cls_line("s3://img-bkt/u.jpg", "u").encode())
    updating = env.seed_dataset(env.project("upd"), status="UPDATE_IN_PROGRESS", pending_job={
        "kind": "update",
        "changes": dataset_jobs.encode_changes(cls_line("s3://img-bkt/u.jpg", "u").encode()),
    })
    env.run(env.new_api().service.resume())
    assert stats(env.wait(importing))[0] == 5
    assert stats(env.wait(copying))[0] == 4
    assert stats(env.wait(updating))[0] == 1
    env.wait_gone(deleting)


def test_resume_fails_work_it_cannot_resume_instead_of_leaving_it_stuck(env, project):
    no_job = env.seed_dataset(project, status="UPDATE_IN_PROGRESS")
    unknown = env.seed_dataset(project, "TEST", status="CREATE_IN_PROGRESS",
                               pending_job={"kind": "teleport"})
    env.run(env.new_api().service.resume())
    for arn, failed in ((no_job, "UPDATE_FAILED"), (unknown, "CREATE_FAILED")):
        description = env.wait(arn)
        assert status(description) == failed
        assert code(description) == "SERVICE_ERROR"
        assert "interrupted" in description.status_message


def test_resume_finishes_an_interrupted_distribution(env, project):
    train = env.imported(project, labelled(20, labels=2))
    test = env.create(project, TEST)
    job = {"kind": "distribute", "train_id": None, "test_id": None}

    def interrupt(session: Session) -> None:
        rows = {d.arn: d for d in session.scalars(select(Dataset))}
        job.update(train_id=rows[train].id, test_id=rows[test].id)
        for arn in (train, test):
            rows[arn].status = "UPDATE_IN_PROGRESS"
            rows[arn].pending_job = dict(job)

    env.store(interrupt)
    env.run(env.new_api().service.resume())
    assert stats(env.wait(train))[0] == 16
    assert stats(env.wait(test))[0] == 4
