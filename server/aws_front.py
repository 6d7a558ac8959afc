"""The AWS-compatible front door: Rekognition's JSON 1.1 protocol over HTTP, so unmodified
boto3 code (`boto3.client("rekognition", endpoint_url=...)`), waiters and paginators
included, runs against labelgate.

    POST /   X-Amz-Target: RekognitionService.<Operation>
             Content-Type: application/x-amz-json-1.1
             body: the operation's input as JSON (blobs base64, timestamps epoch seconds)

An adapter onto the dispatcher (dispatch.py), as the gRPC servicer is: each request becomes
a `Call` carrying the signed request as evidence (with access keys configured every request
must carry a valid SigV4 signature, sigv4.py; without, signatures are ignored, as a local
endpoint would) and a decoder for the body (the descriptor-driven converter,
`labelgate.shapes`), and goes through the same authenticate → validate → route → meter →
audit steps as gRPC. The answer is the output shape as JSON, or an AWS error body
`{"__type": <error name>, "message": ...}` with its HTTP status. Extension fields (numbered
from shapes.FIRST_EXTENSION_FIELD) are left out: AWS has no such members.

A small HTTP/1.1 server on asyncio streams (keep-alive, Content-Length bodies): the
protocol needs nothing more, and it keeps the gateway free of a web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from labelgate import shapes
from labelgate.errors import LabelgateError, error_class
from labelgate.server import calls, sigv4
from labelgate.server.dispatch import OPERATIONS, Call, Dispatcher

log = logging.getLogger(__name__)

TARGET_PREFIX = "RekognitionService."
TRANSPORT = "aws-json"
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_HEADER_BYTES = 64 * 1024
#: Error names answered with a server-side status; every other error is the caller's (400).
_STATUS = {"InternalServerError": 500, "NotImplementedOperation": 501,
           "ServiceUnavailableException": 503}
_AUTH_ERRORS = {"MissingAuthenticationTokenException", "IncompleteSignatureException",
                "UnrecognizedClientException", "InvalidSignatureException"}
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    request_id: str


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def error_response(error: LabelgateError, request_id: str) -> HttpResponse:
    status = 403 if error.code in _AUTH_ERRORS else _STATUS.get(error.code, 400)
    return HttpResponse(status, _error_body(error.code, error.message or error.code), request_id)


class AwsJsonFront:
    """Serves the AWS JSON 1.1 protocol on host:port, each call through the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, *, max_body_bytes: int) -> None:
        self.dispatcher = dispatcher
        self.max_body_bytes = max_body_bytes
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._connection, host, port,
                                                  limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    # -- HTTP ------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        """One request and its response; False when the connection should close."""
        line = await reader.readline()
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        except ValueError:
            await self._write(writer, HttpResponse(400, b"", calls.new_request_id()), False)
            return False
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        request_id = calls.new_request_id()
        if length < 0 or "chunked" in headers.get("transfer-encoding", "").lower():
            await self._write(writer, HttpResponse(
                400, _error_body("SerializationException", "A Content-Length body is required"),
                request_id), False)
            return False
        if length > self.max_body_bytes:
            await self._write(writer, HttpResponse(413, _error_body(
                "ValidationException", f"The request body is larger than {self.max_body_bytes} "
                "bytes"), request_id), False)
            return False
        body = await reader.readexactly(length) if length else b""
        response = await self.handle(method, target, headers, body, request_id)
        await self._write(writer, response, keep_alive)
        return keep_alive

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: HttpResponse,
                     keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"x-amzn-RequestId: {response.request_id}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + response.body)
        await writer.drain()

    # -- the protocol ------------------------------------------------------------------------

    async def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                     request_id: str) -> HttpResponse:
        """One AWS JSON 1.1 call: HTTP parts in, HTTP response out (transport-free)."""
        try:
            call = self._call(method, target, headers, body, request_id)
            response = await self.dispatcher.call(call)
        except LabelgateError as error:
            return error_response(error, request_id)
        data: Any = shapes.to_aws(response, times="epoch", blobs="base64", include_empty=True,
                                  extensions=False)
        return HttpResponse(200, json.dumps(data).encode(), request_id)

    def _call(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
              request_id: str) -> Call:
        """The dispatcher's Call for an HTTP request; the body is decoded only once the
        dispatcher has authenticated the caller."""
        name = headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        operation = OPERATIONS.get(name)
        if method != "POST" or target.split("?", 1)[0] not in ("/", ""):
            raise error_class("UnknownOperationException")(
                "Only POST / is served (the AWS JSON 1.1 protocol)")
        if operation is None or operation.streaming:  # the extensions are gRPC only
            raise error_class("UnknownOperationException")(
                f"Unknown operation {headers.get('x-amz-target', '')!r}; expected "
                f"X-Amz-Target: {TARGET_PREFIX}<Operation>")
        signed = sigv4.SignedRequest(method, target, headers, body)
        return Call(operation, request_id, TRANSPORT, credentials=signed,
                    decode=lambda: _decode(operation.request_type, body))


def _decode(request_type: type[Message], body: bytes) -> Message:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise error_class("SerializationException")("The request body is not JSON") from None
    if not isinstance(params, dict):
        raise error_class("SerializationException")("The request body must be an object")
    return shapes.from_aws(params, request_type, blobs="base64")


__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "AwsJsonFront", "HttpResponse"]
