"""The gRPC adapter for `labelgate.v1.CustomLabels`: one handler per RPC of the descriptor,
each a `Call` handed to the dispatcher (dispatch.py), whose `LabelgateError`s become gRPC
statuses here (AIP-193 ErrorInfo, errors.py). No per-operation code, so a new RPC in the
proto needs no change here. Health and reflection are other services: untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc import aio

from labelgate import shapes
from labelgate.errors import InvalidParameterException, LabelgateError
from labelgate.server import calls
from labelgate.server.access import GrpcEvidence
from labelgate.server.dispatch import OPERATIONS, Call, Dispatcher, Operation
from labelgate.server.error_status import to_grpc_status

SERVICE_NAME = shapes.SERVICE.full_name  # "labelgate.v1.CustomLabels"
TRANSPORT = "grpc"


class CustomLabelsServicer:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    @staticmethod
    async def _call(operation: Operation, body: bytes, context: aio.ServicerContext) -> Call:
        metadata = context.invocation_metadata()
        request_id = calls.request_id_from(metadata)
        # Sent first, so the caller gets the id on success and on every error alike.
        await context.send_initial_metadata(((calls.REQUEST_ID_KEY, request_id),))
        text = calls.text_metadata(metadata)
        # The wire bytes stay as they came: the signature covers them, and a caller that
        # fails authentication costs no parsing.
        return Call(operation, request_id, TRANSPORT,
                    decode=lambda: _decode(operation, body), metadata=text,
                    credentials=GrpcEvidence(f"/{SERVICE_NAME}/{operation.name}", body, text))

    def _unary(self, operation: Operation
               ) -> Callable[[bytes, aio.ServicerContext], Awaitable[Message]]:
        async def behavior(request: bytes, context: aio.ServicerContext) -> Message:
            call = await self._call(operation, request, context)
            try:
                return await self.dispatcher.call(call)
            except LabelgateError as error:
                await context.abort_with_status(to_grpc_status(error, call.request_id))
                raise  # not reached: abort raises

        behavior.__name__ = operation.name
        return behavior

    def _streaming(self, operation: Operation
                   ) -> Callable[[bytes, aio.ServicerContext], AsyncIterator[Message]]:
        async def behavior(request: bytes, context: aio.ServicerContext
                           ) -> AsyncIterator[Message]:
            call = await self._call(operation, request, context)
            try:
                async for response in self.dispatcher.stream(call):
                    yield response
            except LabelgateError as error:
                await context.abort_with_status(to_grpc_status(error, call.request_id))

        behavior.__name__ = operation.name
        return behavior

    def method_handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        handlers: dict[str, Any] = {}
        for operation in OPERATIONS.values():
            make = (grpc.unary_stream_rpc_method_handler if operation.streaming
                    else grpc.unary_unary_rpc_method_handler)
            behavior = self._streaming(operation) if operation.streaming \
                else self._unary(operation)
            handlers[operation.name] = make(
                behavior,
                response_serializer=operation.response_type.SerializeToString,
            )
        return handlers

    def add_to_server(self, server: aio.Server) -> None:
        handlers = self.method_handlers()
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),)
        )
        # Registered methods skip the generic-handler lookup per call (what the generated
        # add_*_to_server does too).
        server.add_registered_method_handlers(SERVICE_NAME, handlers)


def _decode(operation: Operation, body: bytes) -> Message:
    try:
        return operation.request_type.FromString(body)
    except DecodeError:
        raise InvalidParameterException(
            f"The request is not a valid {operation.request_type.DESCRIPTOR.name}") from None
