"""The error model over the wire: AWS error name in ErrorInfo, request id on every call."""

from __future__ import annotations

import grpc
import pytest

from labelgate import errors
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.server.conftest import (
    CRASH,
    RAISE_PREFIX,
    SECRET,
    failure,
    project_arn,
    version_arn,
)


@pytest.fixture
def gateway(backends):
    with running_gateway(backends=backends, default_backend="a") as gw:
        yield gw


@pytest.fixture
def stub(gateway, stub_for):
    return stub_for(gateway.address)


def create(stub, name: str, metadata=()):
    return stub.CreateProject.with_call(pb.CreateProjectRequest(project_name=name),
                                        metadata=metadata, timeout=10)


def test_success_returns_a_generated_request_id(stub):
    response, call = create(stub, "fine")
    assert response.project_arn == project_arn("a", "fine")
    request_id = dict(call.initial_metadata())["x-request-id"]
    assert len(request_id) == 36  # uuid4


def test_caller_request_id_is_used_and_reaches_the_backend(stub, backends):
    _, call = create(stub, "fine", metadata=[("x-request-id", "trace-123")])
    assert dict(call.initial_metadata())["x-request-id"] == "trace-123"
    assert backends["a"].calls[0].context.request_id == "trace-123"
    assert backends["a"].calls[0].context.metadata["x-request-id"] == "trace-123"


def test_unusable_caller_request_id_is_replaced(stub):
    _, call = create(stub, "fine", metadata=[("x-request-id", "has spaces")])
    assert dict(call.initial_metadata())["x-request-id"] != "has spaces"


@pytest.mark.parametrize("cls", [
    errors.ResourceInUseException, errors.ResourceNotFoundException,
    errors.ResourceAlreadyExistsException, errors.LimitExceededException,
    errors.AccessDeniedException, errors.ThrottlingException, errors.InvalidParameterException,
])
def test_aws_error_becomes_its_status_and_error_info(stub, cls):
    with pytest.raises(grpc.RpcError) as info:
        create(stub, RAISE_PREFIX + cls.code, metadata=[("x-request-id", "rid-1")])
    f = failure(info.value)
    assert f.code == cls.grpc_code
    assert f.reason == cls.code
    assert f.message == f"{RAISE_PREFIX}{cls.code} happened"
    assert f.request_id == "rid-1"
    assert f.initial_metadata["x-request-id"] == "rid-1"


def test_resource_in_use_is_failed_precondition(stub):
    with pytest.raises(grpc.RpcError) as info:
        create(stub, RAISE_PREFIX + "ResourceInUseException")
    f = failure(info.value)
    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ResourceInUseException")
    assert f.request_id == f.initial_metadata["x-request-id"]


def test_unexpected_exception_is_internal_with_request_id_and_no_leak(stub, caplog):
    with pytest.raises(grpc.RpcError) as info:
        create(stub, CRASH)
    f = failure(info.value)
    assert f.code == grpc.StatusCode.INTERNAL
    assert f.reason == "InternalServerError"
    assert f.request_id and f.request_id in f.message
    assert SECRET not in f.message and "RuntimeError" not in f.message
    # ...but the operator gets the traceback.
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and SECRET in str(logged[0].exc_info[1])


def test_validation_fails_before_the_backend_is_called(stub, backends):
    with pytest.raises(grpc.RpcError) as info:
        create(stub, "a b")
    f = failure(info.value)
    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "ValidationException")
    assert "projectName" in f.message
    assert backends["a"].calls == []


def test_unimplemented_operation(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.ListProjectPolicies(pb.ListProjectPoliciesRequest(project_arn=project_arn("a")))
    f = failure(info.value)
    assert (f.code, f.reason) == (grpc.StatusCode.UNIMPLEMENTED, "NotImplementedOperation")


def test_routing_over_the_wire(stub, backends):
    stub.DeleteProject(pb.DeleteProjectRequest(project_arn=project_arn("b")))
    assert [c.operation for c in backends["b"].calls] == ["DeleteProject"]
    stub.CreateProject(pb.CreateProjectRequest(project_name="p"),
                       metadata=[("x-labelgate-backend", "b")])
    assert [c.operation for c in backends["b"].calls] == ["DeleteProject", "CreateProject"]
    assert backends["a"].calls == []


def test_unknown_backend_override_is_invalid_argument(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateProject(pb.CreateProjectRequest(project_name="p"),
                           metadata=[("x-labelgate-backend", "nope")])
    assert failure(info.value).reason == "InvalidParameterException"


def test_unowned_arn_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.DeleteProject(pb.DeleteProjectRequest(project_arn=project_arn("zzz")))
    f = failure(info.value)
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "ResourceNotFoundException")
    assert project_arn("zzz") in f.message


def test_largest_allowed_image_fits_the_transport_and_one_byte_more_is_validation(
        stub, backends):
    limit = 5 * 1024 * 1024  # ImageBlob max in the API model
    for size, reaches_backend in ((limit, True), (limit + 1, False)):
        request = pb.DetectCustomLabelsRequest(project_version_arn=version_arn("a"),
                                               image=pb.Image(bytes=b"\xff" * size))
        if reaches_backend:
            stub.DetectCustomLabels(request, timeout=10)
        else:
            with pytest.raises(grpc.RpcError) as info:
                stub.DetectCustomLabels(request, timeout=10)
            assert failure(info.value).reason == "ValidationException"
    assert [len(c.request.image.bytes) for c in backends["a"].calls] == [limit]
