"""A tiny in-test gRPC server for labelgate.v1.CustomLabels whose answers each test scripts.

It speaks the real wire contract (proto messages, `x-request-id` initial metadata, errors as
rich statuses with a google.rpc.ErrorInfo) without any backend, so client and CLI behaviour
can be pinned down exactly, including failures a real gateway rarely produces.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from labelgate import errors, shapes

SERVICE = "labelgate.v1.CustomLabels"
Handler = Callable[[Message, grpc.ServicerContext], Message]


def rich_status(code: grpc.StatusCode, message: str, reason: str | None = None,
                request_id: str | None = None, domain: str = errors.ERROR_DOMAIN) -> grpc.Status:
    details = []
    if reason is not None:
        info = error_details_pb2.ErrorInfo(reason=reason, domain=domain)
        if request_id is not None:
            info.metadata["request_id"] = request_id
        detail = any_pb2.Any()
        detail.Pack(info)
        details.append(detail)
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message,
                                                  details=details))


def fail_with(code: grpc.StatusCode, message: str, reason: str | None = None,
              request_id: str | None = None) -> Handler:
    """A handler that aborts with a rich status (ErrorInfo only when `reason` is given)."""

    def handler(request: Message, context: grpc.ServicerContext) -> Message:
        context.abort_with_status(rich_status(code, message, reason, request_id))
        raise AssertionError("unreachable")

    return handler


@dataclass
class FakeGateway:
    address: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: (operation, request, invocation metadata) of every call, in order.
    calls: list[tuple[str, Message, dict[str, str]]] = field(default_factory=list)
    request_id: str = "req-0001"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, operation: str, handler: Handler | Message) -> None:
        """Answer `operation` with a fixed response message or a handler function."""
        if isinstance(handler, Message):
            response = handler
            self.handlers[operation] = lambda request, context: response
        else:
            self.handlers[operation] = handler

    def requests(self, operation: str) -> list[Message]:
        return [request for op, request, _ in self.calls if op == operation]


def _behaviour(fake: FakeGateway, operation: str) -> Callable[..., Any]:
    def behaviour(request: Message, context: grpc.ServicerContext) -> Message:
        with fake._lock:
            fake.calls.append((operation, request, dict(context.invocation_metadata())))
        context.send_initial_metadata((("x-request-id", fake.request_id),))
        handler = fake.handlers.get(operation)
        if handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{operation} is not scripted")
        return handler(request, context)  # type: ignore[misc]

    return behaviour


@contextmanager
def fake_gateway(*, unimplemented: tuple[str, ...] = ()) -> Iterator[FakeGateway]:
    """Serve on a free loopback port; operations in `unimplemented` are not registered at
    all, so gRPC itself answers UNIMPLEMENTED without details."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)])
    port = server.add_insecure_port("127.0.0.1:0")
    fake = FakeGateway(address=f"127.0.0.1:{port}")
    methods = {}
    for operation in shapes.OPERATIONS:
        if operation in unimplemented:
            continue
        request_type, response_type = shapes.operation_types(operation)
        methods[operation] = grpc.unary_unary_rpc_method_handler(
            _behaviour(fake, operation),
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
    server.start()
    try:
        yield fake
    finally:
        server.stop(grace=None)
