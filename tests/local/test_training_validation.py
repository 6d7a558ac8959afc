"""CreateProjectVersion's request checks and its validation stage on the local backend
(training.md §1-§4): file errors, every content error code, the three output files with their
exact keys and contents, the DescribeProjectVersions fields, auto-split, the trainer seam
and restart safety.

Images are tiny PNGs written by the tests into the backend's local blob store; manifests
are crafted per test. No real dataset is used. The training stage after
validation is stood in for by `InstantTrainer` (a version whose data passes validation ends
TRAINING_COMPLETED at once); the real worker process is tests/training_jobs' subject.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.control.versions import describe_version
from labelgate.backends.local.core.background import JobInterrupted
from labelgate.backends.local.store.tables import Dataset, ProjectVersion
from labelgate.backends.local.training import TrainingService
from labelgate.backends.local.training import training_service as service
from labelgate.backends.local.training.inputs import DatasetInput, ManifestInput, TrainingInputs
from labelgate.backends.local.training.outputs import OutputLocation
from labelgate.backends.local.training.trainer import (
    TrainingCompleted,
    TrainingFailed,
    TrainingTarget,
)
from labelgate.backends.local.training.validation_stage import (
    TrainingDataValidator,
    ValidatedInputs,
)
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.manifests import ManifestLimits
from labelgate.errors import (
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from labelgate.shapes import to_aws
from labelgate.v1 import custom_labels_pb2 as pb

IMAGES = "imgs"
OTHER_IMAGES = "more-imgs"
MANIFESTS = "manifests"
OUT = "out"
OUTPUT_CONFIG = {"S3Bucket": OUT, "S3KeyPrefix": "models/"}
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."
#: What a version whose data passed validation ends with here (see InstantTrainer).
TRAINED = "The model is ready to run."

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
INVALID_JSON = {"code": "ERROR_INVALID_JSON_LINE",
                "message": "The JSON Line has an invalid format."}


# --- crafted data --------------------------------------------------------------------------------


@functools.cache
def png(width: int = 96, height: int = 80) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


def cls(ref: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": ref,
        "kind": 1,
        "kind-metadata": {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00", "type": CLASSIFICATION,
            "job-name": "labeling-job/kind",
        },
    }


def box(ref: str, *labels: str) -> dict[str, Any]:
    """One 20x20 box per label on a 96x80 image."""
    names = sorted(set(labels))
    return {
        "source-ref": ref,
        "bb": {
            "image_size": [{"width": 96, "height": 80, "depth": 3}],
            "annotations": [
                {"class_id": names.index(label), "left": 2 + 4 * i, "top": 5, "width": 20,
                 "height": 20}
                for i, label in enumerate(labels)
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1} for _ in labels],
            "class-map": {str(i): name for i, name in enumerate(names)},
            "type": DETECTION, "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00", "job-name": "labeling-job/bb",
        },
    }


class InstantTrainer:
    """Stands in for the worker trainer: these tests are about validation, and a worker
    process per test would only make them slow."""

    def __init__(self, **_: Any) -> None:
        pass

    async def __call__(self, target: TrainingTarget, inputs: ValidatedInputs
                       ) -> TrainingCompleted:
        return TrainingCompleted(billable_training_seconds=1)


@pytest.fixture(autouse=True)
def instant_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "WorkerTrainer", InstantTrainer)


class Env:
    """The started backend plus its blob folder: images, manifests, waiting, reading."""

    def __init__(self, local: Any) -> None:
        self.local = local
        self.root = Path(local.backend.data_dir) / "s3"
        self.blobs = LocalBlobStore(self.root)
        self._images = 0

    def run(self, coro: Any) -> Any:
        return self.local._runner.run(coro)

    # data
    def image(self, bucket: str = IMAGES, *, width: int = 96, height: int = 80) -> str:
        self._images += 1
        key = f"img/{self._images:05}.png"
        self.blobs.put(bucket, key, png(width, height))
        return f"s3://{bucket}/{key}"

    def cls_lines(self, *labels: str, bucket: str = IMAGES) -> list[dict[str, Any]]:
        return [cls(self.image(bucket), label) for label in labels]

    def box_lines(self, *labels: str) -> list[dict[str, Any]]:
        return [box(self.image(), label) for label in labels]

    def manifest(self, name: str, lines: Sequence[dict[str, Any] | str]) -> dict[str, Any]:
        text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
        self.blobs.put(MANIFESTS, name, text.encode())
        return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": MANIFESTS,
                                                                 "Name": name}}}]}

    def dataset(self, project: str, kind: str, lines: Sequence[dict[str, Any]]) -> str:
        source = self.manifest(f"{project.split('/')[1]}-{kind}.manifest", lines)
        request = pb.CreateDatasetRequest(
            project_arn=project,
            dataset_type=pb.DatasetType.Value(f"DATASET_TYPE_{kind}"),
            dataset_source=pb.DatasetSource(
                ground_truth_manifest=pb.GroundTruthManifest(
                    s3_object=pb.S3Object(bucket=MANIFESTS,
                                          name=source["Assets"][0]["GroundTruthManifest"]
                                          ["S3Object"]["Name"])
                )
            ),
        )
        arn = self.local.create_dataset(request).dataset_arn
        self.run(self.local.backend.datasets.wait_idle())
        return arn

    # the API
    def create(self, project: str, name: str = "v1", *, output: dict | None = None,
               **fields: Any) -> str:
        request = pb.CreateProjectVersionRequest(project_arn=project, version_name=name)
        pb_fields = {"output_config": output or OUTPUT_CONFIG, **fields}
        from labelgate.shapes import from_aws

        for field, value in pb_fields.items():
            if isinstance(value, dict) and field != "tags":
                from_aws(value, getattr(request, field))
                getattr(request, field).SetInParent()
            elif field == "tags":
                request.tags.update(value)
            else:
                setattr(request, field, value)
        return self.local.create_project_version(request).project_version_arn

    def wait(self) -> None:
        self.run(self.local.backend.training.wait_idle())

    def train(self, project: str, name: str = "v1", **fields: Any) -> pb.ProjectVersionDescription:
        self.create(project, name, **fields)
        self.wait()
        return self.describe(project, name)

    def describe(self, project: str, name: str = "v1") -> pb.ProjectVersionDescription:
        response = self.local.describe_project_versions(
            pb.DescribeProjectVersionsRequest(project_arn=project, version_names=[name])
        )
        (description,) = response.project_version_descriptions
        return description

    # the outputs
    def read_lines(self, bucket: str, key: str) -> list[Any]:
        text = self.blobs.read(bucket, key).decode()
        assert text == "" or text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    def summary(self, description: pb.ProjectVersionDescription) -> dict[str, Any]:
        s3 = description.manifest_summary.s3_object
        return json.loads(self.blobs.read(s3.bucket, s3.name))

    def validation_lines(self, result: Any) -> list[Any]:
        (asset,) = result.validation.assets
        s3 = asset.ground_truth_manifest.s3_object
        return self.read_lines(s3.bucket, s3.name)

    def outputs(self, bucket: str = OUT) -> list[str]:
        if not (self.root / bucket).is_dir():
            return []
        return [info.key for info in self.blobs.list(bucket)]

    def dataset_inputs(self) -> list[DatasetInput]:
        """The project datasets as training inputs, TRAIN first."""
        return self.local.store(lambda s: [
            DatasetInput(d.id, d.arn)
            for d in s.scalars(select(Dataset).order_by(Dataset.dataset_type.desc()))
        ])

    def replace_service(self, **options: Any) -> TrainingService:
        """A TrainingService with other options in place of the backend's."""
        backend = self.local.backend
        self.run(backend.training.close())
        backend.training = TrainingService(backend.db, self.blobs, backend.arns, backend.tags,
                                           data_dir=backend.data_dir, **options)
        return backend.training


@pytest.fixture
def env(local: Any) -> Env:
    return Env(local)


def external(env: Env, train: Sequence[Any], test: Sequence[Any] | None = None,
             *, auto_create: bool = False) -> dict[str, Any]:
    """TrainingData/TestingData fields for `env.create`."""
    testing: dict[str, Any] = {"AutoCreate": True} if auto_create else env.manifest(
        "test.manifest", test or [])
    return {"training_data": env.manifest("train.manifest", train), "testing_data": testing}


def stats(summary: dict[str, Any], side: str) -> dict[str, Any]:
    return summary["statistics"][side]


def codes(errors: list[dict[str, str]]) -> list[str]:
    return [e["code"] for e in errors]


def dataset_stats(use_case: str, total: int, valid: int, invalid: int = 0, ignored: int = 0,
                  indices: Sequence[int] = (), errors: Sequence[dict] = ()) -> dict[str, Any]:
    return {
        "use_case": use_case, "total_json_lines": total, "valid_json_lines": valid,
        "invalid_json_lines": invalid, "ignored_json_lines": ignored,
        "error_json_line_indices": list(indices), "errors": list(errors),
    }


def error(code: str) -> dict[str, str]:
    from labelgate.backends.local.validation.content_checks import CONTENT_ERROR_MESSAGES

    return {"code": code, "message": CONTENT_ERROR_MESSAGES[code]}


# --- the request ---------------------------------------------------------------------------------


def test_unknown_project_is_resource_not_found(env):
    project = env.local.project("gone")
    env.local.delete_project(pb.DeleteProjectRequest(project_arn=project))
    with pytest.raises(ResourceNotFoundException):
        env.create(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))


def test_duplicate_version_name_is_resource_in_use(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    env.create(project, "v1", **fields)
    with pytest.raises(ResourceInUseException):
        env.create(project, "v1", **fields)
    env.wait()


def test_project_without_train_dataset_or_training_data_is_invalid_parameter(env):
    project = env.local.project("p")
    with pytest.raises(InvalidParameterException):
        env.create(project)
    env.local.add_dataset(project, "TEST")
    with pytest.raises(InvalidParameterException):
        env.create(project)


@pytest.mark.parametrize("case", ["training_only", "testing_assets_only", "both_assets_and_auto",
                                  "testing_empty", "two_training_assets"])
def test_inconsistent_training_and_testing_data_is_invalid_parameter(env, case):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    if case == "training_only":
        del fields["testing_data"]
    elif case == "testing_assets_only":
        del fields["training_data"]
    elif case == "both_assets_and_auto":
        fields["testing_data"]["AutoCreate"] = True
    elif case == "testing_empty":
        fields["testing_data"] = {"AutoCreate": False}
    else:
        fields["training_data"]["Assets"] *= 2
    with pytest.raises(InvalidParameterException):
        env.create(project, **fields)
    assert env.local.store(lambda s: s.scalars(select(ProjectVersion)).all()) == []


def test_external_manifests_in_a_project_with_datasets_are_invalid_parameter(env):
    project = env.local.project("p")
    env.local.add_dataset(project, "TRAIN")
    with pytest.raises(InvalidParameterException, match="datasets"):
        env.create(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))


def test_output_config_without_bucket_is_invalid_parameter(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    with pytest.raises(InvalidParameterException, match="S3Bucket"):
        env.create(project, output={"S3KeyPrefix": "x/"}, **fields)


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS",
                                    "DELETE_IN_PROGRESS"])
def test_dataset_still_being_worked_on_is_resource_in_use(env, status):
    project = env.local.project("p")
    env.local.add_dataset(project, "TRAIN", status=status)
    with pytest.raises(ResourceInUseException):
        env.create(project)


def test_create_returns_at_once_with_the_version_training_and_its_fields_stored(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    arn = env.create(project, "v1", tags={"team": "vision"}, kms_key_id="alias/mine",
                     version_description="first try", **fields)
    assert arn.startswith(project.rsplit("/", 1)[0] + "/version/v1/")

    # Read before the event loop runs again: the job has not got anywhere yet.
    def row(session):
        version = session.scalar(select(ProjectVersion))
        return to_aws(describe_version(version, version.project))

    described = env.local.store(row)
    assert described["Status"] == "TRAINING_IN_PROGRESS"
    assert described["StatusMessage"] == "The model is being trained."
    assert described["OutputConfig"] == OUTPUT_CONFIG
    assert described["KmsKeyId"] == "alias/mine"
    assert described["VersionDescription"] == "first try"
    assert described["TrainingDataResult"] == {"Input": fields["training_data"]}
    assert described["TestingDataResult"] == {
        "Input": {**fields["testing_data"], "AutoCreate": False}
    }
    for absent in ("ManifestSummary", "TrainingEndTimestamp", "BillableTrainingTimeInSeconds",
                   "EvaluationResult"):
        assert absent not in described
    tags = env.local.list_tags_for_resource(pb.ListTagsForResourceRequest(resource_arn=arn))
    assert dict(tags.tags) == {"team": "vision"}
    env.wait()


# --- validation passes: the trainer seam ---------------------------------------------------------


def test_valid_data_goes_on_to_training_with_all_validation_outputs_recorded(env):
    project = env.local.project("p")
    train = env.cls_lines("a", "b", "a", "b")
    test = env.cls_lines("a", "b")
    fields = external(env, train, test)
    desc = env.train(project, **fields)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    assert desc.status_message == TRAINED
    described = to_aws(desc)
    prefix = "models/v1/validation/"
    assert described["TrainingDataResult"] == {
        "Input": fields["training_data"],
        "Validation": {"Assets": [{"GroundTruthManifest": {"S3Object": {
            "Bucket": OUT, "Name": prefix + "training_manifest_with_validation.json"}}}]},
    }
    assert described["TestingDataResult"] == {
        "Input": {**fields["testing_data"], "AutoCreate": False},
        "Validation": {"Assets": [{"GroundTruthManifest": {"S3Object": {
            "Bucket": OUT, "Name": prefix + "testing_manifest_with_validation.json"}}}]},
    }
    assert described["ManifestSummary"] == {
        "S3Object": {"Bucket": OUT, "Name": prefix + "manifest_summary.json"}
    }
    ended = described["TrainingEndTimestamp"]
    assert described["CreationTimestamp"] <= ended <= dt.datetime.now(dt.UTC)
    assert described["BillableTrainingTimeInSeconds"] == 1
    assert "EvaluationResult" not in described  # InstantTrainer evaluates nothing

    assert env.summary(desc) == {
        "statistics": {
            "training": dataset_stats("IMAGE_LEVEL_LABELS", 4, 4),
            "testing": dataset_stats("IMAGE_LEVEL_LABELS", 2, 2),
        },
        "errors": [],
    }
    # Valid lines come back as they went in, one per input line, in order.
    assert env.validation_lines(desc.training_data_result) == train
    assert env.validation_lines(desc.testing_data_result) == test
    assert sorted(env.outputs()) == [
        prefix + "manifest_summary.json",
        prefix + "testing_manifest_with_validation.json",
        prefix + "training_manifest_with_validation.json",
    ]


def test_a_trainer_that_succeeds_gets_the_validated_inputs_and_completes_the_version(env):
    seen: list[tuple[TrainingTarget, ValidatedInputs]] = []

    async def trainer(target: TrainingTarget, inputs: ValidatedInputs) -> TrainingCompleted:
        # The validation outputs are visible while the trainer runs.
        seen.append((target, inputs))
        return TrainingCompleted(billable_training_seconds=42)

    env.replace_service(trainer=trainer)
    project = env.local.project("p")
    train = [*env.box_lines("bolt", "bolt", "nut"), "not json", *env.box_lines("nut")]
    desc = env.train(project, kms_key_id="alias/k",
                     **external(env, train, env.box_lines("nut", "bolt")))
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED
    assert desc.status_message == "The model is ready to run."
    assert desc.billable_training_time_in_seconds == 42
    assert desc.HasField("training_end_timestamp") and desc.HasField("manifest_summary")

    ((target, inputs),) = seen
    assert (target.project_name, target.version_name, target.kms_key_id) == ("p", "v1", "alias/k")
    assert target.version_arn == desc.project_version_arn
    assert inputs.use_case == "OBJECT_LOCALIZATION"
    assert inputs.labels == ("bolt", "nut")
    assert list(inputs.training.usable_lines) == [1, 2, 3, 5]
    assert list(inputs.testing.usable_lines) == [1, 2]
    assert inputs.training.validation_manifest.key == (
        "models/v1/validation/training_manifest_with_validation.json")
    assert not inputs.auto_split


def test_a_trainer_that_fails_sets_its_status_message(env):
    async def trainer(target: TrainingTarget, inputs: ValidatedInputs) -> TrainingCompleted:
        raise TrainingFailed("The training worker exited with code 1.")

    env.replace_service(trainer=trainer)
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == "The training worker exited with code 1."
    assert not desc.HasField("billable_training_time_in_seconds")


def test_a_trainer_that_crashes_fails_the_version_with_the_service_issue_message(env):
    async def trainer(target: TrainingTarget, inputs: ValidatedInputs) -> TrainingCompleted:
        raise RuntimeError("out of memory")

    env.replace_service(trainer=trainer)
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    # AWS's sentence first, then ours: what the caller can know, not the exception's text.
    assert desc.status_message == (f"{SERVICE_ISSUE} Training stopped on an unexpected error "
                                   "in the gateway. The gateway's log has the details.")
    assert desc.HasField("manifest_summary")  # validation had finished (training.md §2.1)


def test_single_label_detection_passes_validation(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.box_lines("bolt", "bolt"),
                                         env.box_lines("bolt")))
    assert desc.status_message == TRAINED
    assert stats(env.summary(desc), "training")["use_case"] == "OBJECT_LOCALIZATION"


# --- manifest file errors: no outputs, no summary ------------------------------------------------


def assert_file_error(env: Env, desc: pb.ProjectVersionDescription, message: str) -> None:
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == message
    assert desc.HasField("training_end_timestamp")
    assert not desc.HasField("manifest_summary")
    assert not desc.training_data_result.HasField("validation")
    assert not desc.testing_data_result.HasField("validation")
    assert env.outputs() == []


def test_missing_manifest_is_the_inaccessible_file_error(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    fields["testing_data"]["Assets"][0]["GroundTruthManifest"]["S3Object"]["Name"] = "nope.json"
    desc = env.train(project, **fields)
    assert_file_error(env, desc, "The manifest file extension or contents are invalid.")


def test_manifest_without_extension_is_the_inaccessible_file_error(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b"))
    fields["training_data"] = env.manifest("train", env.cls_lines("a", "b"))
    desc = env.train(project, **fields)
    assert_file_error(env, desc, "The manifest file extension or contents are invalid.")


def test_manifest_that_is_not_json_lines_is_the_inaccessible_file_error(env):
    project = env.local.project("p")
    fields = external(env, ["just text", "[1, 2]"], env.cls_lines("a", "b"))
    assert_file_error(env, env.train(project, **fields),
                      "The manifest file extension or contents are invalid.")


def test_empty_manifest_is_the_empty_file_error(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b"), ["", "  "]))
    assert_file_error(env, desc, "The manifest file is empty.")


def test_empty_training_dataset_is_the_empty_file_error(env):
    project = env.local.project("p")
    env.local.add_dataset(project, "TRAIN")
    assert_file_error(env, env.train(project), "The manifest file is empty.")


def test_manifest_over_the_size_limit_is_the_size_file_error(env):
    env.replace_service(limits=ManifestLimits(max_bytes=600))
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b", "a"), ["{}"]))
    assert_file_error(env, desc, "The manifest file size exceeds the maximum supported size.")


def test_manifest_over_the_row_limit_is_the_rows_file_error(env):
    env.replace_service(limits=ManifestLimits(max_rows=3))
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b", "a", "b"),
                                         env.cls_lines("a", "b")))
    assert_file_error(env, desc, "The manifest file has too many rows.")


def test_unwritable_output_location_is_error_cannot_write_output_s3_bucket(env):
    """ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET (training.md §2.3): the OutputConfig location takes
    no write, so the version fails with `Unable to write to output S3 bucket.` and no
    outputs. (Against S3, a refused s3:PutObject: tests/e2e/test_s3_permissions.py.)"""
    project = env.local.project("p")
    env.blobs.put(OUT, "taken", b"an object where the prefix wants a folder")
    desc = env.train(project, output={"S3Bucket": OUT, "S3KeyPrefix": "taken"},
                     **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    assert desc.status_message == "Unable to write to output S3 bucket."
    assert not desc.HasField("manifest_summary")
    assert env.outputs() == ["taken"]


def test_file_checks_come_before_the_output_check(env):
    project = env.local.project("p")
    env.blobs.put(OUT, "taken", b"x")
    fields = external(env, env.cls_lines("a", "b"), [])
    desc = env.train(project, output={"S3Bucket": OUT, "S3KeyPrefix": "taken"}, **fields)
    assert desc.status_message == "The manifest file is empty."


# --- content errors: TRAINING_FAILED with the summary --------------------------------------------


def assert_content_error(desc: pb.ProjectVersionDescription, code: str) -> None:
    from labelgate.backends.local.validation.content_checks import CONTENT_ERROR_MESSAGES

    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == CONTENT_ERROR_MESSAGES[code]
    assert desc.HasField("manifest_summary")
    assert desc.training_data_result.HasField("validation")
    assert desc.testing_data_result.HasField("validation")


def test_too_many_invalid_rows_in_the_training_manifest(env):
    project = env.local.project("p")
    train = [*env.cls_lines("a", "b", "a"), "{oops", *env.cls_lines("b", "a"), "", "[]",
             *env.cls_lines("b", "a", "b")]
    desc = env.train(project, **external(env, train, env.cls_lines("a", "b")))
    assert_content_error(desc, "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")
    summary = env.summary(desc)
    assert summary == {
        "statistics": {
            "training": dataset_stats(
                "IMAGE_LEVEL_LABELS", 11, 8, invalid=3, indices=[4, 7, 8],
                errors=[error("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")]),
            "testing": dataset_stats("IMAGE_LEVEL_LABELS", 2, 2),
        },
        "errors": [],
    }
    lines = env.validation_lines(desc.training_data_result)
    assert len(lines) == 11
    for number in (4, 7, 8):  # an unparsable line is replaced by one holding only the error
        assert lines[number - 1] == {"errors": [INVALID_JSON]}


def test_exactly_twenty_percent_invalid_rows_is_accepted(env):
    project = env.local.project("p")
    train = [*env.cls_lines("a", "b", "a", "b"), "x", *env.cls_lines("a", "b", "a", "b"), "y"]
    desc = env.train(project, **external(env, train, env.cls_lines("a", "b")))
    assert desc.status_message == TRAINED
    assert stats(env.summary(desc), "training")["error_json_line_indices"] == [5, 10]


def test_too_many_invalid_rows_in_the_testing_manifest_is_reported_there(env):
    project = env.local.project("p")
    test = [*env.cls_lines("a", "b"), "nope"]
    desc = env.train(project, **external(env, env.cls_lines("a", "b"), test))
    assert_content_error(desc, "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")
    summary = env.summary(desc)
    assert stats(summary, "training")["errors"] == []
    assert stats(summary, "testing") == dataset_stats(
        "IMAGE_LEVEL_LABELS", 3, 2, invalid=1, indices=[3],
        errors=[error("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")])


def test_images_in_multiple_buckets(env):
    project = env.local.project("p")
    train = [*env.cls_lines("a", "b"), *env.cls_lines("a", bucket=OTHER_IMAGES)]
    desc = env.train(project, **external(env, train, env.cls_lines("a", "b")))
    assert_content_error(desc, "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    assert codes(stats(env.summary(desc), "training")["errors"]) == [
        "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"]


def test_too_few_labels_for_classification(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "a", "a"),
                                         env.cls_lines("a", "a")))
    assert_content_error(desc, "ERROR_MANIFEST_TOO_FEW_LABELS")
    summary = env.summary(desc)
    assert codes(stats(summary, "training")["errors"]) == ["ERROR_MANIFEST_TOO_FEW_LABELS"]
    assert codes(stats(summary, "testing")["errors"]) == ["ERROR_MANIFEST_TOO_FEW_LABELS"]


def test_too_many_labels(env):
    project = env.local.project("p")
    labels = [f"label-{i:03}" for i in range(251)]
    desc = env.train(project, **external(env, env.cls_lines(*labels), env.cls_lines(*labels)))
    assert_content_error(desc, "ERROR_MANIFEST_TOO_MANY_LABELS")
    assert codes(stats(env.summary(desc), "training")["errors"]) == [
        "ERROR_MANIFEST_TOO_MANY_LABELS"]


def test_insufficient_label_overlap_goes_to_the_top_level_errors(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b", "c", "d"),
                                         env.cls_lines("a", "x")))
    assert_content_error(desc, "ERROR_INSUFFICIENT_LABEL_OVERLAP")
    summary = env.summary(desc)
    assert summary["errors"] == [{
        "code": "ERROR_INSUFFICIENT_LABEL_OVERLAP",
        "message": "Less than 50% label overlap between the training and testing manifest "
                   "files.",
    }]
    assert stats(summary, "training")["errors"] == stats(summary, "testing")["errors"] == []


def test_half_the_labels_overlapping_is_enough(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b", "c", "d"),
                                         env.cls_lines("a", "b", "x")))
    assert desc.status_message == TRAINED


def test_mixed_manifest_filters_the_other_kind_and_can_leave_too_few_usable_labels(env):
    project = env.local.project("p")
    # Three image-level lines against two box lines: an image-level model, whose one label
    # is too few once the box lines (the only ones with "b") are filtered out.
    train = [*env.cls_lines("a", "a", "a"), *env.box_lines("b", "b")]
    desc = env.train(project, **external(env, train, env.cls_lines("a", "b")))
    assert_content_error(desc, "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS")
    summary = env.summary(desc)
    assert stats(summary, "training") == dataset_stats(
        "IMAGE_LEVEL_LABELS", 5, 3, ignored=2,
        errors=[error("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS")])
    assert stats(summary, "testing")["errors"] == []
    assert summary["errors"] == []


def test_insufficient_usable_label_overlap(env):
    project = env.local.project("p")
    train = [*env.cls_lines("a", "b", "a", "b"), *env.box_lines("c", "d")]
    test = [*env.cls_lines("c", "d"), *env.box_lines("a")]
    desc = env.train(project, **external(env, train, test))
    assert_content_error(desc, "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP")
    summary = env.summary(desc)
    assert summary["errors"] == [error("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP")]
    assert stats(summary, "testing") == dataset_stats("IMAGE_LEVEL_LABELS", 3, 2, ignored=1)


def test_no_annotated_line_at_all_is_not_determined_with_too_few_labels(env):
    project = env.local.project("p")
    unannotated = [{"source-ref": env.image()} for _ in range(3)]
    desc = env.train(project, **external(env, unannotated, env.cls_lines("a", "b")))
    assert_content_error(desc, "ERROR_MANIFEST_TOO_FEW_LABELS")
    summary = env.summary(desc)
    assert stats(summary, "training") == dataset_stats(
        "NOT_DETERMINED", 3, 0, ignored=3, errors=[error("ERROR_MANIFEST_TOO_FEW_LABELS")])
    assert stats(summary, "testing")["use_case"] == "NOT_DETERMINED"
    lines = env.validation_lines(desc.training_data_result)
    assert [line["warnings"] for line in lines] == [
        [{"code": "WARNING_UNANNOTATED_RECORD", "message": "Record is unannotated."}]] * 3


def test_only_invalid_lines_is_not_determined_with_only_the_invalid_rows_error(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, ['{"a": 1}', "{}"], env.cls_lines("a", "b")))
    summary = env.summary(desc)
    assert stats(summary, "training") == dataset_stats(
        "NOT_DETERMINED", 2, 0, invalid=2, indices=[1, 2],
        errors=[error("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")])
    assert desc.status_message == "The manifest file contains too many invalid rows."


# --- auto-split ----------------------------------------------------------------------------------


def test_training_dataset_alone_is_split_80_20(env):
    project = env.local.project("p")
    train = env.cls_lines(*(["a"] * 5 + ["b"] * 5))
    env.dataset(project, "TRAIN", [*train, {"source-ref": env.image()}])
    desc = env.train(project)
    assert desc.status_message == TRAINED
    described = to_aws(desc)
    assert described["TrainingDataResult"]["Input"] == {}
    assert described["TestingDataResult"]["Input"] == {"AutoCreate": True}
    summary = env.summary(desc)
    assert stats(summary, "training") == dataset_stats("IMAGE_LEVEL_LABELS", 11, 10, ignored=1)
    assert stats(summary, "testing") == dataset_stats("IMAGE_LEVEL_LABELS", 2, 2)
    training_lines = env.validation_lines(desc.training_data_result)
    testing_lines = env.validation_lines(desc.testing_data_result)
    assert len(training_lines) == 11  # every input line, the moved ones included
    assert sorted(line["kind-metadata"]["class-name"] for line in testing_lines) == ["a", "b"]
    refs = [line["source-ref"] for line in training_lines]
    moved = [refs.index(line["source-ref"]) for line in testing_lines]
    assert moved == sorted(moved)  # in input order


def test_auto_create_splits_even_when_a_test_dataset_exists(env):
    project = env.local.project("p")
    env.dataset(project, "TRAIN", env.cls_lines(*(["a"] * 5 + ["b"] * 5)))
    env.dataset(project, "TEST", env.cls_lines("x", "y"))
    desc = env.train(project, testing_data={"AutoCreate": True})
    assert desc.status_message == TRAINED
    assert stats(env.summary(desc), "testing")["total_json_lines"] == 2


def test_training_and_test_datasets_are_validated_as_they_are(env):
    project = env.local.project("p")
    env.dataset(project, "TRAIN", env.cls_lines("a", "b", "a"))
    env.dataset(project, "TEST", env.cls_lines("a", "x", "y", "z"))
    desc = env.train(project)
    assert to_aws(desc)["TestingDataResult"]["Input"] == {"AutoCreate": False}
    assert stats(env.summary(desc), "testing") == dataset_stats("IMAGE_LEVEL_LABELS", 4, 4)
    assert desc.status_message == TRAINED


def test_auto_create_with_an_external_training_manifest(env):
    project = env.local.project("p")
    train = env.box_lines(*(["bolt"] * 5))
    desc = env.train(project, **external(env, train, auto_create=True))
    assert desc.status_message == TRAINED
    described = to_aws(desc)
    assert described["TestingDataResult"]["Input"] == {"AutoCreate": True}
    assert stats(env.summary(desc), "testing") == dataset_stats("OBJECT_LOCALIZATION", 1, 1)


def test_a_label_with_one_image_cannot_be_auto_split(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "a", "a", "b"),
                                         auto_create=True))
    assert_content_error(desc, "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
    summary = env.summary(desc)
    assert codes(stats(summary, "training")["errors"]) == [
        "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"]
    assert stats(summary, "testing") == dataset_stats("IMAGE_LEVEL_LABELS", 0, 0)
    assert env.validation_lines(desc.testing_data_result) == []


def test_the_split_is_the_same_every_time(env):
    project = env.local.project("p")
    fields = external(env, env.cls_lines(*(["a"] * 6 + ["b"] * 6)), auto_create=True)
    first = env.validation_lines(env.train(project, "v1", **fields).testing_data_result)
    second = env.validation_lines(env.train(project, "v2", **fields).testing_data_result)
    assert first == second and len(first) == 2  # 20 % of each label's 6, rounded


# --- the output files ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix, expected", [("", "v1/validation/"),
                                              ("a/b", "a/b/v1/validation/"),
                                              ("a/b/", "a/b/v1/validation/")])
def test_output_key_layout_under_the_prefix(env, prefix, expected):
    project = env.local.project("p")
    desc = env.train(project, output={"S3Bucket": OUT, "S3KeyPrefix": prefix},
                     **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    assert desc.manifest_summary.s3_object.name == expected + "manifest_summary.json"
    assert sorted(env.outputs()) == [expected + name for name in (
        "manifest_summary.json", "testing_manifest_with_validation.json",
        "training_manifest_with_validation.json")]


def test_validation_manifests_carry_line_errors_where_the_spec_puts_them(env):
    project = env.local.project("p")
    off_frame = box(env.image(), "bolt", "nut")
    off_frame["bb"]["annotations"][1]["left"] = -3
    train = [*env.box_lines("bolt", "nut"), off_frame, {"source-ref": "https://x/y.png"}]
    desc = env.train(project, **external(env, [*train, *env.box_lines("bolt", "nut")],
                                         env.box_lines("bolt", "nut")))
    lines = env.validation_lines(desc.training_data_result)
    assert lines[2]["bb"]["annotations"][1]["errors"] == [
        {"code": "ERROR_INVALID_BOUNDING_BOX", "message": "The bounding box has off frame values."}]
    assert "errors" not in lines[2]
    assert lines[3]["errors"] == [{"code": "ERROR_INVALID_SOURCE_REF_FORMAT",
                                   "message": "The format of the source-ref value is invalid."}]
    summary = env.summary(desc)
    # A line with a dropped box still trains on its other box: valid, but listed.
    assert stats(summary, "training") == dataset_stats("OBJECT_LOCALIZATION", 6, 5, invalid=1,
                                                       indices=[3, 4])


def test_validation_manifests_can_be_fed_back_as_training_data(env):
    project = env.local.project("p")
    first = env.train(project, "v1", **external(env, [*env.cls_lines("a", "b", "a", "b"), "x"],
                                                env.cls_lines("a", "b")))
    assets = {
        side: {"Assets": [to_aws(result)["Validation"]["Assets"][0]]}
        for side, result in (("training_data", first.training_data_result),
                             ("testing_data", first.testing_data_result))
    }
    second = env.train(project, "v2", output={"S3Bucket": OUT, "S3KeyPrefix": "again"}, **assets)
    assert stats(env.summary(second), "training") == stats(env.summary(first), "training")


def test_delete_project_version_leaves_the_output_files(env):
    project = env.local.project("p")
    desc = env.train(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    before = sorted(env.outputs())
    env.local.delete_project_version(
        pb.DeleteProjectVersionRequest(project_version_arn=desc.project_version_arn))
    assert sorted(env.outputs()) == before and len(before) == 3


def test_delete_project_version_while_training_is_resource_in_use(env):
    project = env.local.project("p")
    arn = env.create(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    with pytest.raises(ResourceInUseException):
        env.local.delete_project_version(pb.DeleteProjectVersionRequest(project_version_arn=arn))
    env.wait()


# --- restarts ------------------------------------------------------------------------------------


def test_a_restart_resumes_validation_left_in_progress(env, make_local):
    project = env.local.project("p")
    env.dataset(project, "TRAIN", env.cls_lines("a", "b", "a", "b"))
    env.dataset(project, "TEST", env.cls_lines("a", "b"))
    train, test = env.dataset_inputs()
    inputs = TrainingInputs(train, test)
    # As a crashed gateway leaves it: committed in progress, the job never ran.
    env.local.add_version(project, "v1", status="TRAINING_IN_PROGRESS",
                          status_message="The model is being trained.",
                          output_config=OUTPUT_CONFIG,
                          pending_job={"stage": "validation", "inputs": inputs.to_json()})
    restarted = Env(make_local())
    restarted.wait()
    desc = restarted.describe(project)
    assert desc.status_message == TRAINED
    assert stats(restarted.summary(desc), "training")["total_json_lines"] == 4


@pytest.mark.parametrize("job", [None, {"stage": "from-the-future"}, {"stage": "validation"}])
def test_a_restart_fails_a_job_it_cannot_read_with_the_service_issue_message(env, make_local,
                                                                           job):
    project = env.local.project("p")
    env.local.add_version(project, "v1", status="TRAINING_IN_PROGRESS",
                          output_config=OUTPUT_CONFIG, pending_job=job)
    restarted = Env(make_local())
    restarted.wait()
    desc = restarted.describe(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == (f"{SERVICE_ISSUE} The interrupted training could not be "
                                   "resumed. The gateway's log has the details.")
    assert desc.HasField("training_end_timestamp")


def test_a_stopping_service_interrupts_validation_and_leaves_the_job_pending(env):
    project = env.local.project("p")
    env.dataset(project, "TRAIN", env.cls_lines("a", "b", "a", "b", "a"))
    (train,) = env.dataset_inputs()
    stop = threading.Event()
    validator = TrainingDataValidator(db=env.local.backend.db, blobs=env.blobs,
                                      limits=ManifestLimits(), images=None, stop=stop,
                                      check_every=1)
    stop.set()
    with pytest.raises(JobInterrupted):
        validator.validate(TrainingInputs(train, None), OutputLocation(OUT, "", "v1"))
    assert env.outputs() == []


def test_a_stop_in_the_middle_of_the_lines_interrupts_the_scan(env):
    stop = threading.Event()

    class StoppingProbe(ImageProbe):
        """Asks the service to stop once a few images were looked at."""

        def probe_uri(self, source_ref: str) -> Any:
            if source_ref.endswith("00003.png"):
                stop.set()
            return super().probe_uri(source_ref)

    manifest = env.manifest("train.manifest", env.cls_lines(*("ab" * 20)))
    source = manifest["Assets"][0]["GroundTruthManifest"]["S3Object"]
    validator = TrainingDataValidator(db=env.local.backend.db, blobs=env.blobs,
                                      limits=ManifestLimits(), images=StoppingProbe(env.blobs),
                                      stop=stop, check_every=1)
    inputs = TrainingInputs(ManifestInput(source["Bucket"], source["Name"]), None)
    with pytest.raises(JobInterrupted):
        validator.validate(inputs, OutputLocation(OUT, "", "v1"))
    assert env.outputs() == []  # nothing is uploaded before every line was seen


def test_close_with_a_job_running_keeps_it_in_progress_for_the_next_start(env, make_local):
    project = env.local.project("p")
    env.create(project, **external(env, env.cls_lines("a", "b"), env.cls_lines("a", "b")))
    # The job has not passed its first await yet: stopping now interrupts it.
    env.run(env.local.backend.training.close())
    desc = env.describe(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS
    assert not desc.HasField("manifest_summary")
    restarted = Env(make_local())
    restarted.wait()
    assert restarted.describe(project).status_message == TRAINED
