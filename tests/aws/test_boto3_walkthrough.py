"""Unmodified boto3 code against the AWS-compatible front door.

`test_walkthrough` is written the way AWS's own Python examples for Custom Labels are:
a boto3 client, waiters with a WaiterConfig, NextToken loops, ClientError handling. The other
tests cover the protocol itself: errors as AWS sends them, server-side validation of what
botocore does not check, and SigV4 when access keys are configured.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.aws.conftest import BUCKET, COLOURS, KEY_ID, SECRET, Front, boto3_client, png

logger = logging.getLogger(__name__)
pytestmark = pytest.mark.slow


def create_project(rek_client, project_name):
    response = rek_client.create_project(ProjectName=project_name)
    logger.info("project ARN: %s", response["ProjectArn"])
    return response["ProjectArn"]


def create_dataset(rek_client, project_arn, dataset_type, bucket, manifest_file):
    response = rek_client.create_dataset(
        ProjectArn=project_arn, DatasetType=dataset_type.upper(),
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket,
                                                            "Name": manifest_file}}},
    )
    dataset_arn = response["DatasetArn"]
    # The Custom Labels examples poll DescribeDataset until the status settles.
    while True:
        description = rek_client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        if description["Status"] != "CREATE_IN_PROGRESS":
            break
        time.sleep(0.05)
    assert description["Status"] == "CREATE_COMPLETE", description["StatusMessage"]
    return dataset_arn


def list_entries(rek_client, dataset_arn):
    entries, next_token = [], None
    while True:
        kwargs = {"DatasetArn": dataset_arn, "MaxResults": 3}
        if next_token:
            kwargs["NextToken"] = next_token
        response = rek_client.list_dataset_entries(**kwargs)
        entries.extend(response["DatasetEntries"])
        next_token = response.get("NextToken")
        if not next_token:
            return entries


def train_model(rek_client, project_arn, version_name, output_bucket):
    response = rek_client.create_project_version(
        ProjectArn=project_arn, VersionName=version_name,
        OutputConfig={"S3Bucket": output_bucket, "S3KeyPrefix": "training"},
        TestingData={"AutoCreate": True},
    )
    waiter = rek_client.get_waiter("project_version_training_completed")
    waiter.wait(ProjectArn=project_arn, VersionNames=[version_name],
                WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return response["ProjectVersionArn"]


def describe_model(rek_client, project_arn, version_name):
    paginator = rek_client.get_paginator("describe_project_versions")
    for page in paginator.paginate(ProjectArn=project_arn, VersionNames=[version_name]):
        for model in page["ProjectVersionDescriptions"]:
            return model
    raise LookupError(version_name)


def start_model(rek_client, project_arn, model_arn, version_name, min_inference_units):
    response = rek_client.start_project_version(ProjectVersionArn=model_arn,
                                                MinInferenceUnits=min_inference_units)
    logger.info("start: %s", response["Status"])
    waiter = rek_client.get_waiter("project_version_running")
    waiter.wait(ProjectArn=project_arn, VersionNames=[version_name],
                WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def stop_model(rek_client, model_arn):
    status = rek_client.stop_project_version(ProjectVersionArn=model_arn)["Status"]
    logger.info("stop: %s", status)
    # As the AWS example does: the version name out of the model ARN.
    version_name = model_arn.split("version/", 1)[1].rpartition("/")[0]
    project_arn = _project_arn(rek_client, model_arn)
    while True:
        model = describe_model(rek_client, project_arn, version_name)
        if model["Status"] == "STOPPED":
            return model["Status"]
        assert model["Status"] == "STOPPING", model["Status"]
        time.sleep(0.05)


def _project_arn(rek_client, model_arn):
    name = model_arn.split("/")[1]
    (project,) = rek_client.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    return project["ProjectArn"]


def show_custom_labels(rek_client, model_arn, image_bytes, min_confidence):
    response = rek_client.detect_custom_labels(
        ProjectVersionArn=model_arn, Image={"Bytes": image_bytes},
        MinConfidence=min_confidence,
    )
    return [(label["Name"], label["Confidence"]) for label in response["CustomLabels"]]


def test_walkthrough(front: Front) -> None:
    rek_client = boto3_client(front.url)
    manifest = front.stage_images()
    project_arn = create_project(rek_client, "walkthrough")
    dataset_arn = create_dataset(rek_client, project_arn, "train", BUCKET, manifest)
    assert len(list_entries(rek_client, dataset_arn)) == 8  # three pages of up to 3

    model_arn = train_model(rek_client, project_arn, "v1", BUCKET)
    model = describe_model(rek_client, project_arn, "v1")
    assert model["Status"] == "TRAINING_COMPLETED"
    assert model["ProjectVersionArn"] == model_arn
    assert 0 <= model["EvaluationResult"]["F1Score"] <= 1
    assert model["CreationTimestamp"].year >= 2026  # botocore parsed an epoch timestamp
    assert "InferenceUnitsStatus" not in model  # an extension, not sent on the AWS protocol

    start_model(rek_client, project_arn, model_arn, "v1", 1)
    labels = show_custom_labels(rek_client, model_arn, png(COLOURS["red"]), 0)
    assert labels[0][0] == "red"
    assert stop_model(rek_client, model_arn) == "STOPPED"
    try:
        show_custom_labels(rek_client, model_arn, png(COLOURS["red"]), 0)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ResourceNotReadyException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        pytest.fail("detect on a stopped model must fail")


def test_errors_and_server_side_validation(front: Front) -> None:
    rek = boto3_client(front.url)
    with pytest.raises(rek.exceptions.ResourceNotFoundException) as caught:
        rek.delete_project(ProjectArn="arn:aws:rekognition:us-east-1:111122223333:project/x/1")
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    # What botocore does not check, the front does (as AWS does server-side).
    for bad in ({"ProjectName": "x" * 300}, {"ProjectName": "ok", "Feature": "NOPE"}):
        with pytest.raises(ClientError) as caught:
            rek.create_project(**bad)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        rek.describe_projects(MaxResults=1000)
    assert "less than or equal to 100" in caught.value.response["Error"]["Message"]
    # Not the JSON protocol: the errors AWS gives.
    status, body = _post(front.url, b"{}", {"X-Amz-Target": "RekognitionService.DetectFaces"})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    status, body = _post(front.url, b"{not json",
                         {"X-Amz-Target": "RekognitionService.DescribeProjects"})
    assert status == 400 and body["__type"] == "SerializationException"


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.1", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _signed(url: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "RekognitionService.DescribeProjects"})
    SigV4Auth(Credentials(KEY_ID, secret), "rekognition", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_sigv4_is_verified_when_access_keys_are_configured(signed_front: Front) -> None:
    url = signed_front.url
    assert boto3_client(url).describe_projects()["ProjectDescriptions"] == []
    for key_id, secret, code in ((KEY_ID, "wrong-secret", "InvalidSignatureException"),
                                 ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException")):
        with pytest.raises(ClientError) as caught:
            boto3_client(url, key_id=key_id, secret=secret).describe_projects()
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A body changed after signing does not verify; the same bytes do.
    headers = _signed(url, b"{}")
    assert _post(url, b"{}", headers)[0] == 200
    status, body = _post(url, b'{"MaxResults": 1}', headers)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    status, body = _post(url, b"{}", {"X-Amz-Target": "RekognitionService.DescribeProjects"})
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    # The caller is authenticated before its body is parsed: an unsigned body that is not
    # even JSON gets the authentication error, not a parsing one.
    status, body = _post(url, b"{not json", {"X-Amz-Target":
                                             "RekognitionService.DescribeProjects"})
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")


def test_without_access_keys_signatures_are_ignored(front: Front) -> None:
    rek = boto3_client(front.url, key_id="anything", secret="whatever")
    assert rek.describe_projects()["ProjectDescriptions"] == []
    assert isinstance(rek, botocore.client.BaseClient)
