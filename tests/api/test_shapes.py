"""The descriptor-driven converter between proto messages and AWS-shaped dicts."""

import datetime as dt

import pytest

from labelgate import shapes
from labelgate.errors import ValidationException
from labelgate.v1 import custom_labels_pb2 as pb


def test_member_names_are_aws_names():
    request = shapes.from_aws(
        {
            "ProjectArn": "arn:x",
            "VersionName": "v",
            "OutputConfig": {"S3Bucket": "b", "S3KeyPrefix": "p/"},
        },
        pb.CreateProjectVersionRequest,
    )
    assert request.output_config.s3_key_prefix == "p/"
    assert shapes.to_aws(request)["OutputConfig"] == {"S3Bucket": "b", "S3KeyPrefix": "p/"}


def test_enums_carry_aws_values_without_the_proto_prefix():
    response = pb.StartProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_STARTING)
    assert shapes.to_aws(response) == {"Status": "STARTING"}
    back = shapes.from_aws({"Status": "STARTING"}, pb.StartProjectVersionResponse)
    assert back == response


def test_unknown_enum_value_is_a_validation_error():
    with pytest.raises(ValidationException, match="enum value set: \\[TRAIN, TEST\\]"):
        shapes.from_aws({"ProjectArn": "a", "DatasetType": "VALIDATION"}, pb.CreateDatasetRequest)


def test_absent_and_zero_stay_distinct():
    assert shapes.to_aws(pb.ListDatasetEntriesRequest(dataset_arn="a")) == {"DatasetArn": "a"}
    explicit = pb.ListDatasetEntriesRequest(dataset_arn="a", labeled=False, max_results=0)
    assert shapes.to_aws(explicit) == {"DatasetArn": "a", "Labeled": False, "MaxResults": 0}


def test_timestamps_blobs_maps_and_repeated_messages():
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    data = {
        "ProjectDescriptions": [
            {"ProjectArn": "p", "CreationTimestamp": when, "Datasets": [{"DatasetType": "TEST"}]}
        ],
        "NextToken": "t",
    }
    message = shapes.from_aws(data, pb.DescribeProjectsResponse)
    assert shapes.to_aws(message) == data
    assert shapes.to_aws(message, times="epoch")["ProjectDescriptions"][0]["CreationTimestamp"] == (
        when.timestamp()
    )
    blob = shapes.from_aws(
        {"DatasetArn": "d", "Changes": {"GroundTruth": "eyJhIjoxfQ=="}},
        pb.UpdateDatasetEntriesRequest,
        blobs="base64",
    )
    assert blob.changes.ground_truth == b'{"a":1}'
    assert shapes.to_aws(blob, blobs="base64")["Changes"]["GroundTruth"] == "eyJhIjoxfQ=="
    tags = shapes.from_aws({"ResourceArn": "r", "Tags": {"k": "v"}}, pb.TagResourceRequest)
    assert dict(tags.tags) == {"k": "v"}


def test_empty_nested_structure_is_kept_present():
    message = shapes.from_aws(
        {"DatasetDescription": {"DatasetStats": {}}}, pb.DescribeDatasetResponse
    )
    assert message.dataset_description.HasField("dataset_stats")


def test_unknown_member_and_wrong_types_are_rejected():
    with pytest.raises(ValidationException, match="Unknown member"):
        shapes.from_aws({"ProjectName": "x", "Colour": "red"}, pb.CreateProjectRequest)
    with pytest.raises(ValidationException, match="integer"):
        shapes.from_aws({"MaxResults": "10"}, pb.DescribeProjectsRequest)
    with pytest.raises(ValidationException, match="boolean"):
        shapes.from_aws({"DatasetArn": "d", "Labeled": "yes"}, pb.ListDatasetEntriesRequest)


def test_operation_helpers():
    assert shapes.snake_operation("ListTagsForResource") == "list_tags_for_resource"
    assert shapes.operation_types("CreateDataset") == (
        pb.CreateDatasetRequest,
        pb.CreateDatasetResponse,
    )


def test_responses_can_carry_empty_lists_and_maps_as_aws_does():
    response = pb.DescribeProjectsResponse()
    response.project_descriptions.add(project_arn="p")
    assert shapes.to_aws(response) == {"ProjectDescriptions": [{"ProjectArn": "p"}]}
    assert shapes.to_aws(response, include_empty=True) == {
        "ProjectDescriptions": [{"ProjectArn": "p", "Datasets": []}]
    }
    assert shapes.to_aws(pb.ListTagsForResourceResponse(), include_empty=True) == {"Tags": {}}
