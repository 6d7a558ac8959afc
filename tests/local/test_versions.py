"""DescribeProjectVersions and DeleteProjectVersion (serving.md §5.1, §5.3, §9) on the local
backend. Models are seeded as rows: training and copying are other services' work."""

from __future__ import annotations

import datetime as dt

import pytest

from labelgate.errors import (
    InvalidPaginationTokenException,
    NotImplementedOperation,
    ResourceInUseException,
    ResourceNotFoundException,
)
from labelgate.shapes import to_aws
from labelgate.v1 import custom_labels_pb2 as pb

BUSY = ["TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING", "COPYING_IN_PROGRESS"]
IDLE = [
    "TRAINING_COMPLETED",
    "TRAINING_FAILED",
    "FAILED",
    "STOPPED",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
    "DEPRECATED",
    "EXPIRED",
]


def describe(local, project_arn, **fields) -> pb.DescribeProjectVersionsResponse:
    return local.describe_project_versions(
        pb.DescribeProjectVersionsRequest(project_arn=project_arn, **fields)
    )


def version_names(response) -> list[str]:
    return [d.project_version_arn.split("/")[3] for d in response.project_version_descriptions]


def delete(local, arn) -> pb.DeleteProjectVersionResponse:
    return local.delete_project_version(pb.DeleteProjectVersionRequest(project_version_arn=arn))


# DescribeProjectVersions


def test_describe_project_versions_unknown_project_is_resource_not_found(local):
    arn = local.project("p")
    local.delete_project(pb.DeleteProjectRequest(project_arn=arn))
    with pytest.raises(ResourceNotFoundException):
        describe(local, arn)


def test_describe_project_versions_lists_every_version_in_creation_order(local):
    project = local.project("p")
    for name in ("v2", "v1", "v3"):
        local.add_version(project, name)
    response = describe(local, project)
    assert version_names(response) == ["v2", "v1", "v3"]
    assert not response.HasField("next_token")


def test_describe_project_versions_lists_only_that_projects_versions(local):
    a, b = local.project("a"), local.project("b")
    local.add_version(a, "v1")
    local.add_version(b, "v1")
    (desc,) = describe(local, b).project_version_descriptions
    assert desc.project_version_arn.split("/")[1] == "b"


def test_describe_project_versions_filters_by_version_names(local):
    project = local.project("p")
    for name in ("v1", "v2", "v3"):
        local.add_version(project, name)
    assert version_names(describe(local, project, version_names=["v3", "v1"])) == ["v1", "v3"]


def test_describe_project_versions_unknown_version_name_gives_empty_list(local):
    project = local.project("p")
    local.add_version(project, "v1")
    response = describe(local, project, version_names=["missing"])
    assert list(response.project_version_descriptions) == []


def test_describe_project_versions_reports_every_stored_field(local):
    project = local.project("p")
    source = "arn:labelgate:rekognition:local:000000000000:project/q/version/src/1700000000000"
    arn = local.add_version(
        project,
        "m.2020-01-21T09.10.15",
        status="RUNNING",
        status_message="The model is running",
        description="first try",
        output_config={"S3Bucket": "out", "S3KeyPrefix": "models/"},
        kms_key_id="alias/key",
        min_inference_units=2,
        max_inference_units=4,
        source_project_version_arn=source,
        created_at=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    )
    (desc,) = describe(local, project).project_version_descriptions
    assert to_aws(desc) == {
        "ProjectVersionArn": arn,
        "CreationTimestamp": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "MinInferenceUnits": 2,
        "MaxInferenceUnits": 4,
        "Status": "RUNNING",
        "StatusMessage": "The model is running",
        "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "models/"},
        "KmsKeyId": "alias/key",
        "SourceProjectVersionArn": source,
        "VersionDescription": "first try",
        "Feature": "CUSTOM_LABELS",
    }


def test_describe_project_versions_reports_the_training_fields(local):
    project = local.project("p")
    validation = {"Assets": [{"GroundTruthManifest": {"S3Object": {
        "Bucket": "out", "Name": "m/v1/validation/training_manifest_with_validation.json"}}}]}
    testing_validation = {"Assets": [{"GroundTruthManifest": {"S3Object": {
        "Bucket": "out", "Name": "m/v1/validation/testing_manifest_with_validation.json"}}}]}
    training_input = {"Assets": [{"GroundTruthManifest": {"S3Object": {
        "Bucket": "in", "Name": "train.manifest", "Version": "3"}}}]}
    summary = {"S3Object": {"Bucket": "out", "Name": "m/v1/validation/manifest_summary.json"}}
    ended = dt.datetime(2024, 5, 6, 8, 0, 0, tzinfo=dt.UTC)
    local.add_version(
        project,
        "v1",
        status="TRAINING_COMPLETED",
        training_data_result={"Input": training_input, "Validation": validation},
        testing_data_result={"Input": {"AutoCreate": True}, "Validation": testing_validation},
        manifest_summary=summary,
        training_ended_at=ended,
        billable_training_seconds=3600,
        feature_config={"ContentModeration": {"ConfidenceThreshold": 0.5}},
    )
    described = to_aws(describe(local, project).project_version_descriptions[0])
    assert described["TrainingDataResult"] == {"Input": training_input, "Validation": validation}
    assert described["TestingDataResult"] == {
        "Input": {"AutoCreate": True}, "Validation": testing_validation
    }
    assert described["ManifestSummary"] == summary
    assert described["TrainingEndTimestamp"] == ended
    assert described["BillableTrainingTimeInSeconds"] == 3600
    assert described["FeatureConfig"] == {"ContentModeration": {"ConfidenceThreshold": 0.5}}


def test_describe_project_versions_shows_an_empty_training_input_as_present(local):
    # A version trained from a dataset has no S3 input to show: `Input` is there, empty.
    project = local.project("p")
    local.add_version(project, "v1", training_data_result={"Input": {}})
    (desc,) = describe(local, project).project_version_descriptions
    assert desc.training_data_result.HasField("input")
    assert not desc.training_data_result.HasField("validation")


def test_describe_project_versions_always_sends_status_message(local):
    project = local.project("p")
    local.add_version(project, "v1", status="TRAINING_COMPLETED")
    (desc,) = describe(local, project).project_version_descriptions
    assert desc.HasField("status_message")
    # Fields the row does not have stay absent rather than zero.
    for absent in (
        "min_inference_units",
        "max_inference_units",
        "output_config",
        "kms_key_id",
        "source_project_version_arn",
        "version_description",
        "training_data_result",
        "testing_data_result",
        "manifest_summary",
        "training_end_timestamp",
        "billable_training_time_in_seconds",
        "evaluation_result",
        "feature_config",
    ):
        assert not desc.HasField(absent), absent


def test_describe_project_versions_paginates_with_max_results(local):
    project = local.project("p")
    for i in range(5):
        local.add_version(project, f"v{i}")
    seen, token = [], ""
    while True:
        response = describe(local, project, max_results=2, next_token=token)
        seen += version_names(response)
        if not response.HasField("next_token"):
            break
        token = response.next_token
    assert seen == [f"v{i}" for i in range(5)]


def test_describe_project_versions_max_results_defaults_to_100(local):
    project = local.project("p")

    def seed(session):
        from labelgate.backends.local.store.lookups import find_project
        from labelgate.backends.local.store.tables import ProjectVersion

        project_id = find_project(session, project).id
        for i in range(101):
            session.add(
                ProjectVersion(
                    arn=local.backend.arns.version("p", f"v{i:03}"),
                    project_id=project_id,
                    name=f"v{i:03}",
                    status="TRAINING_COMPLETED",
                )
            )

    local.store(seed)
    first = describe(local, project)
    assert len(first.project_version_descriptions) == 100
    assert version_names(describe(local, project, next_token=first.next_token)) == ["v100"]


def test_describe_project_versions_next_token_for_other_project_is_invalid(local):
    a, b = local.project("a"), local.project("b")
    for name in ("v1", "v2"):
        local.add_version(a, name)
        local.add_version(b, name)
    token = describe(local, a, max_results=1).next_token
    with pytest.raises(InvalidPaginationTokenException):
        describe(local, b, next_token=token)
    with pytest.raises(InvalidPaginationTokenException):
        describe(local, a, next_token=token, version_names=["v2"])


def test_describe_project_versions_forged_next_token_is_invalid(local):
    project = local.project("p")
    with pytest.raises(InvalidPaginationTokenException):
        describe(local, project, next_token="not-a-token")


# DeleteProjectVersion


@pytest.mark.parametrize("status", IDLE)
def test_delete_project_version_returns_deleting_and_version_disappears(local, status):
    project = local.project("p")
    arn = local.add_version(project, "v1", status=status)
    assert delete(local, arn).status == pb.PROJECT_VERSION_STATUS_DELETING
    # The AWS example polls DescribeProjectVersions(VersionNames=[v]) until it is empty.
    assert list(describe(local, project, version_names=["v1"]).project_version_descriptions) == []


@pytest.mark.parametrize("status", BUSY)
def test_delete_project_version_while_running_or_training_is_resource_in_use(local, status):
    project = local.project("p")
    arn = local.add_version(project, "v1", status=status)
    with pytest.raises(ResourceInUseException):
        delete(local, arn)
    assert version_names(describe(local, project)) == ["v1"]


def test_delete_project_version_unknown_is_resource_not_found(local):
    project = local.project("p")
    arn = local.add_version(project, "v1")
    delete(local, arn)
    with pytest.raises(ResourceNotFoundException):
        delete(local, arn)


def test_delete_project_version_drops_its_tags(local):
    project = local.project("p")
    arn = local.add_version(project, "v1")
    local.tag_resource(pb.TagResourceRequest(resource_arn=arn, tags={"k": "v"}))
    delete(local, arn)

    def tag_count(session):
        from sqlalchemy import func, select

        from labelgate.backends.local.store.tables import Tag

        return session.scalar(select(func.count()).where(Tag.resource_arn == arn))

    assert local.store(tag_count) == 0


def test_deleting_the_last_version_lets_the_project_be_deleted(local):
    project = local.project("p")
    delete(local, local.add_version(project, "v1"))
    response = local.delete_project(pb.DeleteProjectRequest(project_arn=project))
    assert response.status == pb.PROJECT_STATUS_DELETING


# Not faked: this needs the copy service (CreateProjectVersion is the training service's,
# tests/local/test_training_validation.py; start/stop/detect serving's, tests/serving).


@pytest.mark.parametrize(
    "operation, request_type",
    [
        ("copy_project_version", pb.CopyProjectVersionRequest),
    ],
)
def test_model_operations_without_a_service_are_unimplemented(local, operation, request_type):
    with pytest.raises(NotImplementedOperation):
        getattr(local, operation)(request_type())
