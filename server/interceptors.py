"""The envelope around every CustomLabels call: request id, error translation, metrics.

This is the one place exceptions become gRPC statuses. Inside it, servicer, router and
backends raise `labelgate.errors` classes and never touch status codes; outside it, the
client sees a status whose ErrorInfo names the AWS error. Health and reflection calls pass
through untouched.

Server-streaming calls (the extensions) get the same envelope around the whole stream: an
error raised while streaming ends it with that error's status, and the duration recorded
is the stream's; each message sent is counted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from labelgate.errors import LabelgateError
from labelgate.server import calls
from labelgate.server.errors import internal_error, to_grpc_status
from labelgate.server.metrics import GatewayMetrics

log = logging.getLogger("labelgate.server")

SERVICE_PREFIX = "/labelgate.v1.CustomLabels/"
#: Label for calls that failed before a backend was chosen (validation, routing).
NO_BACKEND = "none"

Behavior = Callable[[Any, aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, aio.ServicerContext], AsyncIterator[Any]]


class GatewayInterceptor(aio.ServerInterceptor):
    """Wraps each unary CustomLabels handler; see the module docstring."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        path = handler_call_details.method
        if handler is None or not path.startswith(SERVICE_PREFIX):
            return handler
        method = path.removeprefix(SERVICE_PREFIX)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @contextlib.asynccontextmanager
    async def _envelope(self, method: str, context: aio.ServicerContext
                        ) -> AsyncIterator[calls.CallState]:
        """Request id in, errors translated, metrics out: around one call or one stream."""
        state = calls.CallState(calls.request_id_from(context.invocation_metadata()), method)
        token = calls.enter(state)
        started = time.perf_counter()
        code = "OK"
        try:
            # Sent first so the caller gets the id on success and on every error alike.
            await context.send_initial_metadata(((calls.REQUEST_ID_KEY, state.request_id),))
            yield state
        except aio.AbortError:
            # Someone aborted deliberately with their own status; let it through.
            code = getattr(context.code(), "name", "UNKNOWN")
            raise
        except LabelgateError as error:
            error.request_id = state.request_id
            code = error.grpc_code.name
            log.debug("%s failed: %s", method, error.one_line())
            await context.abort_with_status(to_grpc_status(error, state.request_id))
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"  # the caller went away or its deadline passed
            raise
        except Exception:
            code = "INTERNAL"
            log.exception("unexpected error in %s", method)
            await context.abort_with_status(
                to_grpc_status(internal_error(state.request_id), state.request_id)
            )
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(method, state.backend or NO_BACKEND, code, elapsed)
            log.debug("%s %s in %.1f ms", method, code, elapsed * 1000)
            # A stream closed from elsewhere runs this in another context.
            with contextlib.suppress(ValueError):
                calls.leave(token)

    def _wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        async def call(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._envelope(method, context) as state:
                async for response in behavior(request, context):
                    self.metrics.streamed(method, state.backend or NO_BACKEND)
                    yield response

        return call

    def _wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: aio.ServicerContext) -> Any:
            async with self._envelope(method, context):
                return await behavior(request, context)

        return call
