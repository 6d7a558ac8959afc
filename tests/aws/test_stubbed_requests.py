"""The `aws` backend's requests, checked by botocore's Stubber for each of the 23 operations:
the proto request becomes exactly the boto3 parameters (validated against botocore's input
shape), and a stubbed AWS response (validated against the output shape) comes back as the
same proto message. Errors surface as labelgate's exception of the same name."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from labelgate import errors, shapes
from labelgate.backends.aws import AwsBackend
from labelgate.backends.base import RequestContext

ACCOUNT = "111122223333"
PROJECT = f"arn:aws:rekognition:us-east-1:{ACCOUNT}:project/birds/1690000000000"
VERSION = f"arn:aws:rekognition:us-east-1:{ACCOUNT}:project/birds/version/v1/1690000000001"
DATASET = f"arn:aws:rekognition:us-east-1:{ACCOUNT}:project/birds/dataset/train/1690000000002"
WHEN = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
S3 = {"Bucket": "my-bucket", "Name": "train.manifest"}
POLICY = '{"Version":"2012-10-17","Statement":[]}'

#: operation -> (request params, stubbed response) in boto3's shapes.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "CreateProject": ({"ProjectName": "birds", "Feature": "CUSTOM_LABELS",
                       "AutoUpdate": "DISABLED", "Tags": {"team": "vision"}},
                      {"ProjectArn": PROJECT}),
    "DescribeProjects": ({"ProjectNames": ["birds"], "MaxResults": 10},
                         {"ProjectDescriptions": [{
                             "ProjectArn": PROJECT, "CreationTimestamp": WHEN,
                             "Status": "CREATED", "Feature": "CUSTOM_LABELS",
                             "Datasets": [{"DatasetArn": DATASET, "DatasetType": "TRAIN",
                                           "Status": "CREATE_COMPLETE",
                                           "CreationTimestamp": WHEN}]}],
                          "NextToken": "next"}),
    "DeleteProject": ({"ProjectArn": PROJECT}, {"Status": "DELETING"}),
    "CreateProjectVersion": ({"ProjectArn": PROJECT, "VersionName": "v1",
                              "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "runs"},
                              "TrainingData": {"Assets": [{"GroundTruthManifest": {
                                  "S3Object": S3}}]},
                              "TestingData": {"AutoCreate": True},
                              "Tags": {"stage": "dev"}, "VersionDescription": "first"},
                             {"ProjectVersionArn": VERSION}),
    "DescribeProjectVersions": ({"ProjectArn": PROJECT, "VersionNames": ["v1"],
                                 "MaxResults": 5},
                                {"ProjectVersionDescriptions": [{
                                    "ProjectVersionArn": VERSION, "CreationTimestamp": WHEN,
                                    "Status": "TRAINING_COMPLETED", "StatusMessage": "ok",
                                    "BillableTrainingTimeInSeconds": 321,
                                    "TrainingEndTimestamp": WHEN,
                                    "EvaluationResult": {"F1Score": 0.91, "Summary": {
                                        "S3Object": {"Bucket": "out", "Name": "s.json"}}},
                                    "MinInferenceUnits": 1, "MaxInferenceUnits": 2}]}),
    "StartProjectVersion": ({"ProjectVersionArn": VERSION, "MinInferenceUnits": 1,
                             "MaxInferenceUnits": 3}, {"Status": "STARTING"}),
    "StopProjectVersion": ({"ProjectVersionArn": VERSION}, {"Status": "STOPPING"}),
    "DeleteProjectVersion": ({"ProjectVersionArn": VERSION}, {"Status": "DELETING"}),
    "CopyProjectVersion": ({"SourceProjectArn": PROJECT, "SourceProjectVersionArn": VERSION,
                            "DestinationProjectArn": PROJECT, "VersionName": "copy",
                            "OutputConfig": {"S3Bucket": "out"}},
                           {"ProjectVersionArn": VERSION}),
    "CreateDataset": ({"ProjectArn": PROJECT, "DatasetType": "TRAIN",
                       "DatasetSource": {"GroundTruthManifest": {"S3Object": S3}}},
                      {"DatasetArn": DATASET}),
    "DescribeDataset": ({"DatasetArn": DATASET},
                        {"DatasetDescription": {
                            "CreationTimestamp": WHEN, "LastUpdatedTimestamp": WHEN,
                            "Status": "CREATE_COMPLETE", "StatusMessageCode": "SUCCESS",
                            "DatasetStats": {"LabeledEntries": 8, "TotalEntries": 9,
                                             "TotalLabels": 2, "ErrorEntries": 1}}}),
    "DeleteDataset": ({"DatasetArn": DATASET}, {}),
    "ListDatasetEntries": ({"DatasetArn": DATASET, "ContainsLabels": ["red"], "Labeled": True,
                            "HasErrors": False, "MaxResults": 20},
                           {"DatasetEntries": ['{"source-ref":"s3://b/a.png"}'],
                            "NextToken": "t"}),
    "ListDatasetLabels": ({"DatasetArn": DATASET, "MaxResults": 10},
                          {"DatasetLabelDescriptions": [{
                              "LabelName": "red",
                              "LabelStats": {"EntryCount": 4, "BoundingBoxCount": 0}}]}),
    "UpdateDatasetEntries": ({"DatasetArn": DATASET,
                              "Changes": {"GroundTruth": b'{"source-ref":"s3://b/a.png"}'}},
                             {}),
    "DistributeDatasetEntries": ({"Datasets": [{"Arn": DATASET}, {"Arn": DATASET}]}, {}),
    "DetectCustomLabels": ({"ProjectVersionArn": VERSION, "Image": {"Bytes": b"\x89PNG..."},
                            "MaxResults": 3, "MinConfidence": 50.0},
                           {"CustomLabels": [{"Name": "bird", "Confidence": 97.5, "Geometry": {
                               "BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.3,
                                               "Height": 0.4}}}]}),
    "PutProjectPolicy": ({"ProjectArn": PROJECT, "PolicyName": "share",
                          "PolicyDocument": POLICY}, {"PolicyRevisionId": "a" * 32}),
    "ListProjectPolicies": ({"ProjectArn": PROJECT},
                            {"ProjectPolicies": [{"ProjectArn": PROJECT, "PolicyName": "share",
                                                  "PolicyRevisionId": "a" * 32,
                                                  "PolicyDocument": POLICY,
                                                  "CreationTimestamp": WHEN,
                                                  "LastUpdatedTimestamp": WHEN}]}),
    "DeleteProjectPolicy": ({"ProjectArn": PROJECT, "PolicyName": "share",
                             "PolicyRevisionId": "a" * 32}, {}),
    "TagResource": ({"ResourceArn": VERSION, "Tags": {"stage": "prod"}}, {}),
    "UntagResource": ({"ResourceArn": VERSION, "TagKeys": ["stage"]}, {}),
    "ListTagsForResource": ({"ResourceArn": VERSION}, {"Tags": {"stage": "prod"}}),
}


def test_there_is_a_case_for_every_operation() -> None:
    assert set(CASES) == set(shapes.OPERATIONS)


@pytest.fixture
def stubbed() -> tuple[AwsBackend, Stubber]:
    client = boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")
    return AwsBackend(client=client), Stubber(client)


def _run(backend: AwsBackend, operation: str, request: Any) -> Any:
    method = getattr(backend, shapes.snake_operation(operation))
    return asyncio.run(method(request, RequestContext("req-1", operation)))


@pytest.mark.parametrize("operation", sorted(CASES))
def test_request_and_response_shapes(stubbed, operation: str) -> None:
    backend, stubber = stubbed
    params, reply = CASES[operation]
    request_type, response_type = shapes.operation_types(operation)
    request = shapes.from_aws(params, request_type)
    stubber.add_response(shapes.snake_operation(operation), reply, expected_params=params)
    with stubber:
        response = _run(backend, operation, request)
    stubber.assert_no_pending_responses()
    assert isinstance(response, response_type)
    assert _rounded(shapes.to_aws(response)) == _rounded(reply)


def _rounded(value: Any) -> Any:
    """Floats to 6 places: the proto's `float` fields (Confidence, F1Score) are 32-bit."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, 6) if isinstance(value, float) else value


@pytest.mark.parametrize("code, exception", [
    ("ResourceNotFoundException", errors.ResourceNotFoundException),
    ("ProvisionedThroughputExceededException", errors.ProvisionedThroughputExceededException),
    ("ThrottlingException", errors.ThrottlingException),
    ("InvalidPolicyRevisionIdException", errors.InvalidPolicyRevisionIdException),
])
def test_aws_errors_come_back_as_the_same_exception(stubbed, code, exception) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("describe_projects", service_error_code=code,
                             service_message="from AWS", http_status_code=400)
    with stubber, pytest.raises(exception, match="from AWS"):
        _run(backend, "DescribeProjects", shapes.from_aws({}, shapes.operation_types(
            "DescribeProjects")[0]))


def test_botocore_client_side_validation_is_a_validation_error(stubbed) -> None:
    backend, _ = stubbed
    request = shapes.from_aws({"ProjectVersionArn": VERSION, "MinInferenceUnits": 0},
                              shapes.operation_types("StartProjectVersion")[0])
    # Not stubbed: botocore refuses before anything is sent.
    with pytest.raises(errors.ValidationException, match="MinInferenceUnits"):
        _run(backend, "StartProjectVersion", request)


def test_members_a_newer_aws_api_adds_are_ignored(stubbed) -> None:
    backend, stubber = stubbed
    stubber.add_response("describe_projects", {"ProjectDescriptions": []})
    # The stubber validates against the model, so the extra member is added after it.
    with stubber:
        original = backend.client.describe_projects

        def newer(**kwargs):
            result = original(**kwargs)
            result["SomethingNew"] = {"Nested": 1}
            return result

        backend.client.describe_projects = newer
        response = _run(backend, "DescribeProjects", shapes.operation_types(
            "DescribeProjects")[0]())
    assert list(response.project_descriptions) == []
