"""The one path every request takes, whatever carried it (gRPC, the AWS JSON 1.1 front):

    authenticate → decode → authorize → validate → route to the backend
        → meter → audit → map errors

Modelled on botocore's single `_make_api_call`: one table of operations, derived from the
proto service descriptor (a new RPC needs no entry here), and one function per call
shape (`call` for unary RPCs, `stream` for the server-streaming extensions). Transports
are adapters: they turn their wire format into a `Call` and render the response, or the
`LabelgateError` raised from here, back. Every exception leaves as a `LabelgateError`:
anything unexpected is logged once, with its traceback, and becomes an InternalServerError
that names only the request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from google.protobuf.message import Message

from labelgate import constraints, shapes
from labelgate.backends.base import RequestContext
from labelgate.errors import LabelgateError
from labelgate.server import calls
from labelgate.server.access import (
    ANONYMOUS,
    AllowAll,
    Authenticator,
    Authorizer,
    GatewayAuthenticator,
    Principal,
)
from labelgate.server.audit import Auditor, AuditRecord, LogAuditor
from labelgate.server.error_status import internal_error
from labelgate.server.metrics import GatewayMetrics
from labelgate.server.router import Router

log = logging.getLogger("labelgate.server")

#: Backend label of calls that failed before a backend was chosen (validation, routing).
NO_BACKEND = "none"


@dataclass(frozen=True)
class Operation:
    """One RPC of `labelgate.v1.CustomLabels`."""

    name: str
    request_type: type[Message]
    response_type: type[Message]
    streaming: bool  # the labelgate extensions: no AWS model, a stream of responses


#: Every operation of the service, by name (the descriptor's order).
OPERATIONS: Mapping[str, Operation] = MappingProxyType({
    method.name: Operation(method.name, *shapes.operation_types(method.name),
                           streaming=method.server_streaming)
    for method in shapes.SERVICE.methods
})


@dataclass
class Call:
    """What a transport hands the dispatcher: the operation, the request (or how to decode
    it, so an unauthenticated caller costs no parsing) and what it knows of the caller."""

    operation: Operation
    request_id: str
    transport: str  # "grpc" | "aws-json"
    request: Message | None = None
    decode: Callable[[], Message] | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    credentials: object | None = None  # transport evidence for the authenticator

    def message(self) -> Message:
        if self.request is None:
            assert self.decode is not None, "a Call needs a request or a decoder"
            self.request = self.decode()
        return self.request


class Dispatcher:
    """Runs calls through the steps in the module docstring."""

    def __init__(self, router: Router, metrics: GatewayMetrics, *,
                 authenticator: Authenticator | None = None,
                 authorizer: Authorizer | None = None,
                 auditor: Auditor | None = None) -> None:
        self.router = router
        self.metrics = metrics
        self.authenticator = authenticator or GatewayAuthenticator()
        self.authorizer = authorizer or AllowAll()
        self.auditor = auditor or LogAuditor()

    async def call(self, call: Call) -> Message:
        """A unary operation's response."""
        async with self._envelope(call) as context:
            response = await self.router.dispatch(call.operation.name, call.message(), context)
            return _checked(call.operation, response)

    async def stream(self, call: Call) -> AsyncIterator[Message]:
        """A server-streaming operation's responses, as the backend produces them."""
        async with self._envelope(call) as context:
            state = calls.current()
            async for response in self.router.open_stream(call.operation.name,
                                                          call.message(), context):
                self.metrics.streamed(call.operation.name,
                                      (state.backend if state else None) or NO_BACKEND)
                yield _checked(call.operation, response)

    async def _admit(self, call: Call) -> Principal:
        """authenticate → decode → authorize → validate; raises the AWS error that stops it."""
        principal = await self.authenticator.authenticate(call)
        request = call.message()
        await self.authorizer.authorize(principal, call)
        if not call.operation.streaming:
            # The API model's max/pattern/enum checks, made as AWS makes them server-side,
            # before any backend sees the request. The extensions have no AWS model.
            constraints.validate_request(call.operation.name, shapes.to_aws(request))
        return principal

    @contextlib.asynccontextmanager
    async def _envelope(self, call: Call) -> AsyncIterator[RequestContext]:
        """Admission in, then metrics, audit and error mapping around the call or stream."""
        operation = call.operation.name
        state = calls.CallState(call.request_id, operation)
        token = calls.enter(state)
        started = time.perf_counter()
        principal, code, error_name = ANONYMOUS, "OK", ""
        try:
            principal = await self._admit(call)
            yield RequestContext(request_id=call.request_id, operation=operation,
                                 metadata=dict(call.metadata))
        except LabelgateError as error:
            error.request_id = call.request_id
            code, error_name = error.grpc_code.name, error.code
            log.debug("%s failed: %s", operation, error.one_line())
            raise
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"  # the caller went away or its deadline passed
            raise
        except Exception:
            code, error_name = "INTERNAL", "InternalServerError"
            log.exception("unexpected error in %s", operation)
            raise internal_error(call.request_id) from None
        finally:
            elapsed = time.perf_counter() - started
            backend = state.backend or NO_BACKEND
            self.metrics.observe(operation, backend, code, elapsed)
            self.auditor.record(AuditRecord(
                request_id=call.request_id, operation=operation, transport=call.transport,
                principal=principal.id, backend=backend, code=code, error=error_name,
                seconds=round(elapsed, 6)))
            # A stream closed from elsewhere runs this in another context.
            with contextlib.suppress(ValueError):
                calls.leave(token)


def _checked(operation: Operation, response: Message) -> Message:
    if not isinstance(response, operation.response_type):
        # Caught here with a clear log line rather than as an opaque serializer failure.
        raise TypeError(f"backend returned {type(response).__name__} for {operation.name}, "
                        f"expected {operation.response_type.__name__}")
    return response


__all__ = ["NO_BACKEND", "OPERATIONS", "Call", "Dispatcher", "Operation"]
