"""Every grpc.RpcError becomes one labelgate exception, named by ErrorInfo.reason."""

import socket
import time
import traceback

import grpc
import pytest

from labelgate import errors
from labelgate.client import (
    Client,
    ClientOptions,
    LabelgateConnectionError,
    LabelgateTimeoutError,
    error_from_rpc,
)
from labelgate.v1 import custom_labels_pb2 as pb
from tests.client.fake_gateway import fail_with, fake_gateway

S = grpc.StatusCode


def test_error_info_reason_names_the_exception_class(gateway, client):
    gateway.on("CreateProject", fail_with(S.FAILED_PRECONDITION, "A project named p exists",
                                          "ResourceInUseException", "rid-42"))
    with pytest.raises(errors.ResourceInUseException) as caught:
        client.create_project(project_name="p")
    error = caught.value
    assert error.message == "A project named p exists"
    assert error.request_id == "rid-42"
    assert error.one_line() == "ResourceInUseException: A project named p exists"


def test_error_is_raised_from_none_so_grpc_stays_out_of_the_traceback(gateway, client):
    gateway.on("DeleteProject", fail_with(S.NOT_FOUND, "gone", "ResourceNotFoundException"))
    with pytest.raises(errors.ResourceNotFoundException) as caught:
        client.delete_project(project_arn="arn:aws:rekognition:us-east-1:1:project/p/1")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    shown = "".join(traceback.format_exception(caught.value))
    assert "RpcError" not in shown and "_InactiveRpcError" not in shown


@pytest.mark.parametrize("name", sorted(errors.ERRORS_BY_CODE))
def test_every_aws_error_name_round_trips(gateway, client, name):
    cls = errors.ERRORS_BY_CODE[name]
    gateway.on("ListTagsForResource", fail_with(cls.grpc_code, "boom", name, "r"))
    with pytest.raises(cls) as caught:
        client.list_tags_for_resource(resource_arn="arn:aws:rekognition:x")
    assert type(caught.value) is cls


def test_throttling_travels_as_unavailable_but_is_not_a_connection_error(gateway, client):
    gateway.on("DescribeProjects", fail_with(S.UNAVAILABLE, "slow down", "ThrottlingException"))
    with pytest.raises(errors.ThrottlingException):
        client.describe_projects()


def test_unknown_reason_gets_a_class_of_that_name(gateway, client):
    gateway.on("DescribeProjects", fail_with(S.INVALID_ARGUMENT, "new", "BrandNewException"))
    with pytest.raises(errors.LabelgateError) as caught:
        client.describe_projects()
    assert type(caught.value).__name__ == "BrandNewException"
    assert caught.value.code == "BrandNewException"


def test_request_id_falls_back_to_the_x_request_id_header(gateway, client):
    gateway.request_id = "from-header"
    gateway.on("DescribeProjects", fail_with(S.INVALID_ARGUMENT, "bad", "ValidationException"))
    with pytest.raises(errors.ValidationException) as caught:
        client.describe_projects()
    assert caught.value.request_id == "from-header"


def test_unimplemented_without_details_is_not_implemented_operation():
    with fake_gateway(unimplemented=("DetectCustomLabels",)) as fake, Client(fake.address) as c:
        with pytest.raises(errors.NotImplementedOperation) as caught:
            c.detect_custom_labels(project_version_arn="arn:x", image={"Bytes": b"\xff"})
    assert "DetectCustomLabels" in caught.value.message
    assert fake.address in caught.value.message


@pytest.mark.parametrize(("code", "cls"), [
    (S.INTERNAL, errors.InternalServerError),
    (S.UNKNOWN, errors.InternalServerError),
    (S.NOT_FOUND, errors.ResourceNotFoundException),
    (S.INVALID_ARGUMENT, errors.InvalidParameterException),
    (S.PERMISSION_DENIED, errors.AccessDeniedException),
    (S.RESOURCE_EXHAUSTED, errors.LimitExceededException),
])
def test_status_without_error_info_maps_by_code(gateway, client, code, cls):
    gateway.on("DescribeProjects", fail_with(code, "plain status"))
    with pytest.raises(cls) as caught:
        client.describe_projects()
    assert caught.value.message == "plain status"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_endpoint_is_a_connection_error_naming_it():
    target = f"127.0.0.1:{_free_port()}"
    with Client(target) as c, pytest.raises(LabelgateConnectionError) as caught:
        c.describe_projects(timeout=5)
    assert target in caught.value.message
    assert caught.value.code == "EndpointConnectionError"
    assert caught.value.one_line().startswith("EndpointConnectionError: Could not connect")
    assert isinstance(caught.value, errors.LabelgateError)


def test_deadline_is_a_timeout_error(gateway):
    def slow(request, context):
        time.sleep(1.0)
        return pb.DescribeProjectsResponse()

    gateway.on("DescribeProjects", slow)
    with Client(gateway.address, options=ClientOptions(timeout=0.1)) as c:
        with pytest.raises(LabelgateTimeoutError) as caught:
            c.describe_projects()
    assert gateway.address in caught.value.message
    assert isinstance(caught.value, LabelgateConnectionError)


def test_inconsistent_status_details_are_ignored():
    # A proxy that rewrites the status line but keeps the details trailer: from_call raises
    # ValueError, and we fall back to the status code rather than crash.
    class FakeCall(grpc.RpcError):
        def code(self):
            return S.NOT_FOUND

        def details(self):
            return "rewritten"

        def trailing_metadata(self):
            from tests.client.fake_gateway import rich_status
            status = rich_status(S.INTERNAL, "original", "InternalServerError")
            return status.trailing_metadata

        def initial_metadata(self):
            return ()

    error = error_from_rpc(FakeCall(), endpoint="e:1")
    assert type(error) is errors.ResourceNotFoundException
    assert error.message == "rewritten"


def test_bare_rpc_error_without_call_methods_still_maps():
    error = error_from_rpc(grpc.RpcError(), endpoint="e:1")
    assert isinstance(error, errors.InternalServerError)
