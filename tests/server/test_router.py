"""Routing by ARN (docs/architecture.md, Backends): owner by ARN, default or override otherwise."""

from __future__ import annotations

import asyncio

import pytest

from labelgate import errors
from labelgate.backends.base import IncompleteBackend, RequestContext
from labelgate.server.router import Router, request_arns
from labelgate.v1 import custom_labels_pb2 as pb
from tests.server.conftest import RecordingBackend, project_arn

A_PROJECT = project_arn("a")
B_PROJECT = project_arn("b")
AWS_PROJECT = "arn:aws:rekognition:us-east-1:123456789012:project/p/1"


def ctx(operation: str, **metadata: str) -> RequestContext:
    return RequestContext(request_id="rid", operation=operation, metadata=metadata)


def dispatch(router: Router, operation: str, request, **metadata: str):
    return asyncio.run(router.dispatch(operation, request, ctx(operation, **metadata)))


@pytest.fixture
def router(backends) -> Router:
    r = Router(backends, default="a")
    r.ready = True
    return r


def test_arns_are_found_inside_repeated_messages():
    request = pb.DistributeDatasetEntriesRequest(
        datasets=[pb.DistributeDataset(arn="arn:1"), pb.DistributeDataset(arn="arn:2")])
    assert request_arns("DistributeDatasetEntries", request) == ["arn:1", "arn:2"]


def test_copy_project_version_is_routed_by_the_destination_project():
    request = pb.CopyProjectVersionRequest(
        source_project_arn="arn:src", source_project_version_arn="arn:srcv",
        destination_project_arn="arn:dst")
    assert request_arns("CopyProjectVersion", request)[0] == "arn:dst"


def test_create_dataset_is_routed_by_its_project_not_the_copied_dataset():
    request = pb.CreateDatasetRequest(
        project_arn="arn:project", dataset_source=pb.DatasetSource(dataset_arn="arn:other"))
    assert request_arns("CreateDataset", request) == ["arn:project", "arn:other"]


def test_arn_owned_by_backend_b_goes_to_b(router, backends):
    dispatch(router, "DeleteProject", pb.DeleteProjectRequest(project_arn=B_PROJECT))
    assert [c.operation for c in backends["b"].calls] == ["DeleteProject"]
    assert backends["a"].calls == []


def test_repeated_message_arn_routes_too(router, backends):
    request = pb.DistributeDatasetEntriesRequest(datasets=[pb.DistributeDataset(arn=B_PROJECT)])
    dispatch(router, "DistributeDatasetEntries", request)
    assert len(backends["b"].calls) == 1


def test_copy_goes_to_the_destination_backend(router, backends):
    request = pb.CopyProjectVersionRequest(
        source_project_arn=A_PROJECT, source_project_version_arn=A_PROJECT + "v",
        destination_project_arn=B_PROJECT)
    dispatch(router, "CopyProjectVersion", request)
    assert len(backends["b"].calls) == 1 and backends["a"].calls == []


def test_request_without_arn_goes_to_the_default(router, backends):
    dispatch(router, "CreateProject", pb.CreateProjectRequest(project_name="p"))
    assert len(backends["a"].calls) == 1


def test_backend_override_in_metadata(router, backends):
    dispatch(router, "CreateProject", pb.CreateProjectRequest(project_name="p"),
             **{"x-labelgate-backend": "b"})
    assert len(backends["b"].calls) == 1 and backends["a"].calls == []


def test_override_does_not_move_an_existing_resource(router, backends):
    dispatch(router, "DeleteProject", pb.DeleteProjectRequest(project_arn=B_PROJECT),
             **{"x-labelgate-backend": "a"})
    assert len(backends["b"].calls) == 1


def test_unknown_backend_override_is_invalid_parameter(router):
    with pytest.raises(errors.InvalidParameterException, match="nope"):
        dispatch(router, "CreateProject", pb.CreateProjectRequest(project_name="p"),
                 **{"x-labelgate-backend": "nope"})


def test_arn_no_backend_owns_is_resource_not_found(router):
    with pytest.raises(errors.ResourceNotFoundException, match="arn:test-zzz"):
        dispatch(router, "DeleteProject", pb.DeleteProjectRequest(project_arn=project_arn("zzz")))


def test_aws_arns_go_to_the_aws_backend_when_configured(backends):
    backends["aws"] = RecordingBackend("aws")
    router = Router(backends, default="a")
    router.ready = True
    dispatch(router, "DeleteProject", pb.DeleteProjectRequest(project_arn=AWS_PROJECT))
    assert len(backends["aws"].calls) == 1


def test_aws_arn_without_aws_backend_is_not_found(router):
    with pytest.raises(errors.ResourceNotFoundException):
        dispatch(router, "DeleteProject", pb.DeleteProjectRequest(project_arn=AWS_PROJECT))


def test_operation_the_backend_declares_unimplemented_answers_not_implemented(router):
    # RecordingBackend lists everything it does not answer in `unimplemented`.
    with pytest.raises(errors.NotImplementedOperation, match="DescribeDataset"):
        dispatch(router, "DescribeDataset", pb.DescribeDatasetRequest(dataset_arn=A_PROJECT))


def test_a_backend_missing_an_operation_is_found_at_start_up():
    class Bare:
        name = "bare"

        def owns_arn(self, arn: str) -> bool:
            return True

        async def describe_projects(self, request, context):
            return pb.DescribeProjectsResponse()

    router = Router({"bare": Bare()}, default="bare")  # type: ignore[dict-item]
    with pytest.raises(IncompleteBackend, match=r"'bare'.*CreateProject"):
        router.bind()


def test_calls_before_backends_started_are_throttled(backends):
    router = Router(backends, default="a")
    with pytest.raises(errors.ThrottlingException):
        dispatch(router, "DescribeProjects", pb.DescribeProjectsRequest())


def test_default_must_be_configured(backends):
    with pytest.raises(ValueError, match="zzz"):
        Router(backends, default="zzz")
