"""Test doubles for the gateway: backends that record calls and fail on request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from labelgate.backends.base import BackendBase, RequestContext, undefined_operations
from labelgate.v1 import custom_labels_pb2 as pb
from labelgate.v1 import custom_labels_pb2_grpc as pb_grpc

# Project names that make RecordingBackend.create_project misbehave on purpose.
RAISE_PREFIX = "raise-"  # raise-ResourceInUseException raises that AWS error
CRASH = "crash"  # raises a plain RuntimeError with a secret in its text
SECRET = "s3cr3t-internal-detail"


def project_arn(backend: str, project: str = "p") -> str:
    """An ARN that passes the API model's pattern and that RecordingBackend(backend) owns."""
    return f"arn:test-{backend}:rekognition:local:000000000000:project/{project}/1"


def version_arn(backend: str, project: str = "p", version: str = "v") -> str:
    return project_arn(backend, project).removesuffix("/1") + f"/version/{version}/1"


@dataclass
class Recorded:
    operation: str
    request: object
    context: RequestContext


class RecordingBackend(BackendBase):
    """Owns ARNs in partition `test-<name>`; answers a few operations and records each call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"arn:test-{name}:rekognition:local:000000000000:"
        self.calls: list[Recorded] = []
        self.started = asyncio.Event()
        self.stopped = False
        self.gate: asyncio.Event | None = None  # when set, start() waits for it

    async def start(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.started.set()

    async def stop(self) -> None:
        self.stopped = True

    def owns_arn(self, arn: str) -> bool:
        return arn.startswith(self.prefix)

    async def create_project(self, request, context):
        self.calls.append(Recorded("CreateProject", request, context))
        name = request.project_name
        if name.startswith(RAISE_PREFIX):
            from labelgate import errors

            raise errors.error_class(name.removeprefix(RAISE_PREFIX))(f"{name} happened")
        if name == CRASH:
            raise RuntimeError(SECRET)
        return pb.CreateProjectResponse(project_arn=project_arn(self.name, name))

    async def describe_projects(self, request, context):
        self.calls.append(Recorded("DescribeProjects", request, context))
        return pb.DescribeProjectsResponse()

    async def delete_project(self, request, context):
        self.calls.append(Recorded("DeleteProject", request, context))
        return pb.DeleteProjectResponse()

    async def distribute_dataset_entries(self, request, context):
        self.calls.append(Recorded("DistributeDatasetEntries", request, context))
        return pb.DistributeDatasetEntriesResponse()

    async def detect_custom_labels(self, request, context):
        self.calls.append(Recorded("DetectCustomLabels", request, context))
        return pb.DetectCustomLabelsResponse()

    async def copy_project_version(self, request, context):
        self.calls.append(Recorded("CopyProjectVersion", request, context))
        return pb.CopyProjectVersionResponse(
            project_version_arn=project_arn(self.name) + "/version/v/1")


# It answers a few operations on purpose: the rest are declared, so it starts.
RecordingBackend.unimplemented = undefined_operations(RecordingBackend)


@dataclass
class Failure:
    code: grpc.StatusCode
    message: str
    reason: str
    request_id: str
    initial_metadata: dict[str, str] = field(default_factory=dict)


def failure(error: grpc.RpcError) -> Failure:
    """The parts of an error status the tests look at, ErrorInfo unpacked."""
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    reason = request_id = ""
    if status is not None and status.details and status.details[0].Unpack(info):
        reason, request_id = info.reason, info.metadata.get("request_id", "")
    return Failure(error.code(), error.details(), reason, request_id,
                   dict(error.initial_metadata() or ()))


@pytest.fixture
def backends() -> dict[str, RecordingBackend]:
    return {"a": RecordingBackend("a"), "b": RecordingBackend("b")}


@pytest.fixture
def stub_for():
    """`stub_for(address)` -> CustomLabelsStub; channels are closed after the test."""
    channels: list[grpc.Channel] = []

    def make(address: str) -> pb_grpc.CustomLabelsStub:
        channel = grpc.insecure_channel(address)
        channels.append(channel)
        return pb_grpc.CustomLabelsStub(channel)

    yield make
    for channel in channels:
        channel.close()
