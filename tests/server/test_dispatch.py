"""The dispatcher: one path (authenticate → decode → authorize → validate → route → meter →
audit → map errors) whatever the transport, from a table derived from the descriptor."""

from __future__ import annotations

import asyncio
import json

import pytest

from labelgate import errors, shapes
from labelgate.server.access import Principal
from labelgate.server.audit import AuditRecord
from labelgate.server.dispatch import OPERATIONS, Call, Dispatcher
from labelgate.server.metrics import GatewayMetrics
from labelgate.server.router import Router
from labelgate.v1 import custom_labels_pb2 as pb
from tests.server.conftest import CRASH, SECRET, RecordingBackend


class Audit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)


class Steps:
    """An authenticator and authorizer that write down what they saw, in order."""

    def __init__(self, *, deny: bool = False) -> None:
        self.seen: list[str] = []
        self.deny = deny

    async def authenticate(self, call: Call) -> Principal:
        self.seen.append(f"authenticate (decoded: {call.request is not None})")
        return Principal("AKIDTEST", authenticated=True)

    async def authorize(self, principal: Principal, call: Call) -> None:
        self.seen.append(f"authorize {principal.id} {call.operation.name}")
        if self.deny:
            raise errors.AccessDeniedException("not you")


def make(steps: Steps | None = None) -> tuple[Dispatcher, RecordingBackend, Audit]:
    backend = RecordingBackend("a")
    router = Router({"a": backend}, default="a")
    router.bind()
    router.ready = True
    audit = Audit()
    steps = steps or Steps()
    return Dispatcher(router, GatewayMetrics(), authenticator=steps, authorizer=steps,
                      auditor=audit), backend, audit


def run(dispatcher: Dispatcher, call: Call):
    return asyncio.run(dispatcher.call(call))


def test_the_table_is_the_service_descriptor():
    assert list(OPERATIONS) == [m.name for m in shapes.SERVICE.methods]
    assert {name for name, op in OPERATIONS.items() if op.streaming} == \
        set(shapes.STREAMING_OPERATIONS)
    create = OPERATIONS["CreateProject"]
    assert (create.request_type, create.response_type) == (pb.CreateProjectRequest,
                                                           pb.CreateProjectResponse)


def test_a_call_goes_through_every_step_in_order_and_is_audited():
    steps = Steps()
    dispatcher, backend, audit = make(steps)
    decoded: list[bool] = []

    def decode() -> pb.CreateProjectRequest:
        decoded.append(True)
        return pb.CreateProjectRequest(project_name="p1")

    response = run(dispatcher, Call(OPERATIONS["CreateProject"], "rid-1", "aws-json",
                                    decode=decode))
    assert "project/p1/" in response.project_arn
    # The body is decoded only after the caller is authenticated, before authorization.
    assert steps.seen == ["authenticate (decoded: False)", "authorize AKIDTEST CreateProject"]
    assert decoded == [True] and [c.operation for c in backend.calls] == ["CreateProject"]
    (record,) = audit.records
    assert (record.request_id, record.operation, record.transport, record.principal,
            record.backend, record.code, record.error) == (
        "rid-1", "CreateProject", "aws-json", "AKIDTEST", "a", "OK", "")


def test_a_denied_call_never_reaches_the_backend():
    dispatcher, backend, audit = make(Steps(deny=True))
    with pytest.raises(errors.AccessDeniedException):
        run(dispatcher, Call(OPERATIONS["DeleteProject"], "rid-2", "grpc",
                             request=pb.DeleteProjectRequest(project_arn="x")))
    assert backend.calls == []
    assert (audit.records[0].code, audit.records[0].error) == ("PERMISSION_DENIED",
                                                                "AccessDeniedException")


def test_validation_against_the_aws_model_comes_before_routing():
    dispatcher, backend, audit = make()
    with pytest.raises(errors.ValidationException):
        run(dispatcher, Call(OPERATIONS["CreateProject"], "rid-3", "grpc",
                             request=pb.CreateProjectRequest(project_name="bad name!")))
    assert backend.calls == [] and audit.records[0].backend == "none"


def test_an_unexpected_error_leaves_as_internal_server_error_naming_only_the_request():
    dispatcher, _, audit = make()
    with pytest.raises(errors.InternalServerError) as caught:
        run(dispatcher, Call(OPERATIONS["CreateProject"], "rid-4", "grpc",
                             request=pb.CreateProjectRequest(project_name=CRASH)))
    assert "rid-4" in str(caught.value) and SECRET not in str(caught.value)
    assert (audit.records[0].code, audit.records[0].backend) == ("INTERNAL", "a")


def test_the_audit_log_is_one_structured_line_per_call(caplog):
    from labelgate.server.audit import AUDIT_LOGGER, LogAuditor

    backend = RecordingBackend("a")
    router = Router({"a": backend}, default="a")
    router.ready = True
    dispatcher = Dispatcher(router, GatewayMetrics(), auditor=LogAuditor())
    with caplog.at_level("INFO", logger=AUDIT_LOGGER):
        run(dispatcher, Call(OPERATIONS["DescribeProjects"], "rid-5", "grpc",
                             request=pb.DescribeProjectsRequest()))
    (line,) = [r for r in caplog.records if r.name == AUDIT_LOGGER]
    assert line.audit["principal"] == "anonymous" and line.audit["code"] == "OK"
    json.dumps(line.audit)  # plain values: the JSON log formatter keeps it whole
