"""The gRPC adapter for `labelgate.v1.CustomLabels`, built from the service descriptor.

Thin by design (KServe's servicer over its dataplane): per call it builds the transport-free
RequestContext, checks the request against the AWS API model, and hands it to the router.
No per-operation code, so a new RPC in the proto needs no change here. Errors are raised, not
reported: the interceptor turns them into statuses.

The server-streaming extensions (`shapes.STREAMING_OPERATIONS`) have no AWS model to check
against; their responses are relayed from the backend's async iterator as they come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc import aio

from labelgate import constraints, shapes
from labelgate.backends.base import RequestContext
from labelgate.server import calls
from labelgate.server.router import Router

SERVICE_NAME = shapes.SERVICE.full_name  # "labelgate.v1.CustomLabels"


class CustomLabelsServicer:
    """One async behavior per RPC of the service, all the same three steps."""

    def __init__(self, router: Router) -> None:
        self.router = router

    @staticmethod
    def _context(operation: str, context: aio.ServicerContext) -> RequestContext:
        metadata = context.invocation_metadata()
        state = calls.current()
        request_id = state.request_id if state else calls.request_id_from(metadata)
        return RequestContext(
            request_id=request_id, operation=operation, metadata=calls.text_metadata(metadata)
        )

    async def handle_stream(self, operation: str, request: Message,
                            context: aio.ServicerContext) -> AsyncIterator[Message]:
        ctx = self._context(operation, context)
        expected = shapes.operation_types(operation)[1]
        async for response in self.router.open_stream(operation, request, ctx):
            if not isinstance(response, expected):
                raise TypeError(
                    f"backend streamed {type(response).__name__} for {operation}, "
                    f"expected {expected.__name__}"
                )
            yield response

    async def handle(self, operation: str, request: Message, context: aio.ServicerContext
                     ) -> Message:
        return await self.dispatch(operation, request, self._context(operation, context))

    async def dispatch(self, operation: str, request: Message, ctx: RequestContext) -> Message:
        """Validate and route one AWS operation; shared by gRPC and the AWS front."""
        # The API model's max/pattern/enum checks, made as AWS makes them server-side, before
        # any backend sees the request.
        constraints.validate_request(operation, shapes.to_aws(request))
        response = await self.router.dispatch(operation, request, ctx)
        expected = shapes.operation_types(operation)[1]
        if not isinstance(response, expected):
            # Caught here with a clear log line rather than as an opaque serializer failure.
            raise TypeError(
                f"backend returned {type(response).__name__} for {operation}, "
                f"expected {expected.__name__}"
            )
        return response

    def _behavior(self, operation: str
                  ) -> Callable[[Message, aio.ServicerContext], Awaitable[Message]]:
        async def behavior(request: Message, context: aio.ServicerContext) -> Message:
            return await self.handle(operation, request, context)

        behavior.__name__ = operation
        return behavior

    def _stream_behavior(self, operation: str
                         ) -> Callable[[Message, aio.ServicerContext], AsyncIterator[Message]]:
        async def behavior(request: Message, context: aio.ServicerContext
                           ) -> AsyncIterator[Message]:
            async for response in self.handle_stream(operation, request, context):
                yield response

        behavior.__name__ = operation
        return behavior

    def method_handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        handlers: dict[str, Any] = {}
        for operation in shapes.OPERATIONS:
            request_type, response_type = shapes.operation_types(operation)
            handlers[operation] = grpc.unary_unary_rpc_method_handler(
                self._behavior(operation),
                request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString,
            )
        for operation in shapes.STREAMING_OPERATIONS:
            request_type, response_type = shapes.operation_types(operation)
            handlers[operation] = grpc.unary_stream_rpc_method_handler(
                self._stream_behavior(operation),
                request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString,
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
