"""The client against a real gateway with the local backend (in-process, loopback port)."""

import json
from collections.abc import Iterator

import pytest

from labelgate import errors
from labelgate.client import Client, LabelgateConnectionError
from tests.client.samples import classification_manifest, put_sample_images

testing = pytest.importorskip("labelgate.server.testing")

FAST = {"delay": 0.05, "max_attempts": 600}  # the local backend finishes in well under 30 s


@pytest.fixture(scope="module")
def gateway() -> Iterator[object]:
    with testing.running_gateway() as gw:
        yield gw


@pytest.fixture
def client(gateway) -> Iterator[Client]:
    with Client(gateway.address) as c:
        yield c


def test_create_and_describe_project(client):
    arn = client.create_project(project_name="e2e-client-describe").project_arn
    assert arn.split("/")[1] == "e2e-client-describe"
    found = client.describe_projects(project_names=["e2e-client-describe"])
    assert [p.project_arn for p in found.project_descriptions] == [arn]
    assert client.describe_projects(project_names=["no-such-project"]).project_descriptions == []


def test_duplicate_project_is_resource_in_use_with_a_request_id(client):
    client.create_project(project_name="e2e-client-dup")
    with pytest.raises(errors.ResourceInUseException) as caught:
        client.create_project(project_name="e2e-client-dup")
    assert caught.value.request_id


def test_call_speaks_aws_dicts_and_returns_the_request_id(client):
    result = client.call("CreateProject", {"ProjectName": "e2e-client-call"})
    assert result["ProjectArn"].endswith(result["ProjectArn"].split("/")[-1])
    assert result["ResponseMetadata"]["RequestId"]
    described = client.call("DescribeProjects", {"ProjectNames": ["e2e-client-call"]})
    assert described["ProjectDescriptions"][0]["Status"] == "CREATED"


def test_server_side_validation_error(client):
    with pytest.raises((errors.ValidationException, errors.InvalidParameterException)):
        client.describe_projects(max_results=1000)


def test_dataset_from_entries_then_list_entries_and_labels(client, gateway):
    put_sample_images(gateway.data_dir, classification_manifest())
    project = client.create_project(project_name="e2e-client-dataset").project_arn
    arn = client.create_dataset(project_arn=project, dataset_type="TRAIN").dataset_arn
    client.wait_dataset_created(arn, **FAST)
    client.update_dataset_entries(dataset_arn=arn,
                                  changes={"GroundTruth": classification_manifest()})
    described = client.wait_dataset_updated(arn, **FAST)
    assert described.dataset_description.dataset_stats.total_entries == 6

    entries = client.list_dataset_entries(dataset_arn=arn).dataset_entries
    assert len(entries) == 6
    assert {json.loads(e)["source-ref"] for e in entries} == {
        json.loads(line)["source-ref"] for line in classification_manifest().splitlines()}
    labels = client.list_dataset_labels(dataset_arn=arn).dataset_label_descriptions
    assert {(d.label_name, d.label_stats.entry_count) for d in labels} == {("cat", 3),
                                                                          ("dog", 3)}


def test_unknown_dataset_is_resource_not_found(client):
    project = client.create_project(project_name="e2e-client-missing").project_arn
    missing = project.replace("/e2e-client-missing/", "/e2e-client-missing/dataset/train/")
    with pytest.raises(errors.ResourceNotFoundException):
        client.describe_dataset(dataset_arn=missing)


def test_stopped_gateway_is_a_connection_error():
    with testing.running_gateway() as gw:
        address = gw.address
    with Client(address) as c, pytest.raises(LabelgateConnectionError) as caught:
        c.describe_projects(timeout=5)
    assert address in caught.value.message
