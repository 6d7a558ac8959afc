"""The typed client: one method per operation, mirroring the request fields."""

import inspect
import threading
import typing

import botocore.session
import pytest

from labelgate import errors, shapes
from labelgate.client import (
    BACKEND_METADATA_KEY,
    PAGINATED,
    Client,
    ClientOptions,
    _types,
    operation_name,
)
from labelgate.client._request import build_request
from labelgate.v1 import custom_labels_pb2 as pb

MODEL = botocore.session.get_session().get_service_model("rekognition")


@pytest.mark.parametrize("operation", shapes.OPERATIONS)
def test_every_operation_has_a_typed_method_mirroring_its_request(operation):
    method = getattr(Client, shapes.snake_operation(operation))
    request_type, response_type = shapes.operation_types(operation)
    params = inspect.signature(method).parameters
    fields = {f.name for f in request_type.DESCRIPTOR.fields}
    assert set(params) == {"self", "timeout"} | fields
    required = {
        f.name for f in request_type.DESCRIPTOR.fields
        if shapes.aws_name(f) in MODEL.operation_model(operation).input_shape.required_members
    }
    for name, param in params.items():
        if name == "self":
            continue
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert (param.default is inspect.Parameter.empty) == (name in required), name
    hints = typing.get_type_hints(method)
    assert hints["return"] is response_type


def test_enum_literals_match_the_proto_enums():
    for alias in ("CustomizationFeature", "DatasetType", "ProjectAutoUpdate"):
        enum = pb.DESCRIPTOR.enum_types_by_name[alias]
        proto_values = {shapes.enum_to_aws(enum, v.number) for v in enum.values[1:]}
        assert set(typing.get_args(getattr(_types, alias))) == proto_values


def test_typed_call_sends_the_request_and_returns_the_response(gateway, client):
    gateway.on("CreateProject", pb.CreateProjectResponse(project_arn="arn:p"))
    response = client.create_project(project_name="p", feature="CUSTOM_LABELS",
                                     tags={"team": "vision"})
    assert response.project_arn == "arn:p"
    (request,) = gateway.requests("CreateProject")
    assert request.project_name == "p"
    assert request.feature == pb.CUSTOMIZATION_FEATURE_CUSTOM_LABELS
    assert dict(request.tags) == {"team": "vision"}
    assert not request.HasField("auto_update")  # None stays absent


def test_nested_structures_take_a_dict_or_the_message(gateway, client):
    gateway.on("CreateDataset", pb.CreateDatasetResponse(dataset_arn="arn:d"))
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "b", "Name": "k"}}}
    client.create_dataset(project_arn="arn:p", dataset_type="TRAIN", dataset_source=source)
    client.create_dataset(project_arn="arn:p", dataset_type="TEST",
                          dataset_source=pb.DatasetSource(dataset_arn="arn:other"))
    first, second = gateway.requests("CreateDataset")
    assert first.dataset_source.ground_truth_manifest.s3_object.name == "k"
    assert first.dataset_type == pb.DATASET_TYPE_TRAIN
    assert second.dataset_source.dataset_arn == "arn:other"


def test_repeated_fields_take_sequences_of_values_dicts_or_messages(gateway, client):
    gateway.on("DistributeDatasetEntries", pb.DistributeDatasetEntriesResponse())
    gateway.on("DescribeProjects", pb.DescribeProjectsResponse())
    client.distribute_dataset_entries(
        datasets=[{"Arn": "arn:train"}, pb.DistributeDataset(arn="arn:test")])
    client.describe_projects(project_names=["a", "b"], features=["CUSTOM_LABELS"])
    (distribute,) = gateway.requests("DistributeDatasetEntries")
    assert [d.arn for d in distribute.datasets] == ["arn:train", "arn:test"]
    (describe,) = gateway.requests("DescribeProjects")
    assert list(describe.project_names) == ["a", "b"]
    assert list(describe.features) == [pb.CUSTOMIZATION_FEATURE_CUSTOM_LABELS]


def test_blobs_travel_as_raw_bytes(gateway, client):
    gateway.on("UpdateDatasetEntries", pb.UpdateDatasetEntriesResponse())
    client.update_dataset_entries(dataset_arn="arn:d", changes={"GroundTruth": b'{"a":1}\n'})
    (request,) = gateway.requests("UpdateDatasetEntries")
    assert request.changes.ground_truth == b'{"a":1}\n'


def test_unknown_enum_value_is_a_validation_error_before_sending(gateway, client):
    with pytest.raises(errors.ValidationException, match="TRAIN, TEST"):
        client.create_dataset(project_arn="arn:p", dataset_type="VALIDATION")
    assert gateway.calls == []


def test_programming_mistakes_are_type_errors():
    with pytest.raises(TypeError, match="takes a list"):
        build_request(pb.DescribeProjectsRequest, {"project_names": "one-name"})
    with pytest.raises(TypeError, match="DatasetSource"):
        build_request(pb.CreateDatasetRequest, {"dataset_source": pb.OutputConfig()})
    with pytest.raises(TypeError, match="no field"):
        build_request(pb.CreateProjectRequest, {"projectname": "x"})


def test_call_takes_and_returns_aws_shaped_dicts_with_the_request_id(gateway, client):
    gateway.request_id = "rid-7"
    gateway.on("DescribeDataset", pb.DescribeDatasetResponse(
        dataset_description=pb.DatasetDescription(status=pb.DATASET_STATUS_CREATE_COMPLETE)))
    result = client.call("DescribeDataset", {"DatasetArn": "arn:d"})
    assert result == {"DatasetDescription": {"Status": "CREATE_COMPLETE"},
                      "ResponseMetadata": {"RequestId": "rid-7"}}
    assert client.call("describe-dataset", {"DatasetArn": "arn:d"})["DatasetDescription"]
    assert client.call("describe_dataset", {"DatasetArn": "arn:d"})["DatasetDescription"]


def test_operation_names_accept_aws_snake_and_cli_spellings():
    assert operation_name("ListDatasetEntries") == "ListDatasetEntries"
    assert operation_name("list_dataset_entries") == "ListDatasetEntries"
    assert operation_name("list-dataset-entries") == "ListDatasetEntries"
    with pytest.raises(ValueError, match="Unknown operation"):
        operation_name("DetectLabels")


def test_backend_and_metadata_are_sent_with_every_call(gateway):
    gateway.on("DescribeProjects", pb.DescribeProjectsResponse())
    options = ClientOptions(metadata={"X-Team": "vision"})
    with Client(gateway.address, options=options, metadata={"x-extra": "1"},
                backend="aws") as c:
        c.describe_projects()
    _, _, metadata = gateway.calls[0]
    assert metadata[BACKEND_METADATA_KEY] == "aws"
    assert metadata["x-team"] == "vision"
    assert metadata["x-extra"] == "1"


def test_a_five_mib_image_fits_the_default_message_limits(gateway, client):
    gateway.on("DetectCustomLabels", pb.DetectCustomLabelsResponse())
    client.detect_custom_labels(project_version_arn="arn:v",
                                image={"Bytes": b"\xff" * (5 * 1024 * 1024)})
    (request,) = gateway.requests("DetectCustomLabels")
    assert len(request.image.bytes) == 5 * 1024 * 1024


def test_options_refuse_limits_too_small_for_aws_payloads():
    with pytest.raises(ValueError, match="6 MiB"):
        ClientOptions(max_send_message_length=4 * 1024 * 1024)
    with pytest.raises(ValueError, match="positive"):
        ClientOptions(timeout=0)
    args = dict(ClientOptions().channel_arguments())
    assert args["grpc.max_receive_message_length"] >= 6 * 1024 * 1024


def test_one_client_serves_many_threads(gateway, client):
    gateway.on("CreateProject", lambda request, context: pb.CreateProjectResponse(
        project_arn=f"arn:{request.project_name}"))
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = client.create_project(project_name=f"p{i}").project_arn

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"arn:p{i}" for i in range(16)}


def test_close_is_idempotent_and_later_calls_fail_clearly(gateway):
    c = Client(gateway.address)
    with c:
        pass
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.describe_projects()


def test_paginated_operations_match_botocore():
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("rekognition", "paginators-1")["pagination"]
    ours = {op: spec["result_key"] for op, spec in model.items() if op in shapes.OPERATIONS}
    assert ours == PAGINATED
    for op in PAGINATED:
        assert (model[op]["input_token"], model[op]["output_token"], model[op]["limit_key"]) == (
            "NextToken", "NextToken", "MaxResults")


def test_paginate_follows_next_token_to_the_last_page(gateway, client):
    def entries(request, context):
        page = {"": ("a", "t1"), "t1": ("b", "t2"), "t2": ("c", None)}[request.next_token]
        response = pb.ListDatasetEntriesResponse(dataset_entries=[f'{{"{page[0]}":1}}'])
        if page[1]:
            response.next_token = page[1]
        return response

    gateway.on("ListDatasetEntries", entries)
    pages = list(client.paginate("ListDatasetEntries", {"DatasetArn": "arn:d"}))
    assert [p["DatasetEntries"] for p in pages] == [['{"a":1}'], ['{"b":1}'], ['{"c":1}']]
    with pytest.raises(ValueError, match="not paginated"):
        next(client.paginate("CreateProject", {}))
