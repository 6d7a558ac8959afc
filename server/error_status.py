"""LabelgateError -> gRPC status, following AIP-193.

The AWS error name travels as `google.rpc.ErrorInfo.reason` in the status details (the
`grpc-status-details-bin` trailer), so clients rebuild the exact exception class from a
machine-readable field and the message stays free to change.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from labelgate.errors import ERROR_DOMAIN, InternalServerError, LabelgateError


def error_info(error: LabelgateError, request_id: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(
        reason=error.code, domain=ERROR_DOMAIN, metadata={"request_id": request_id}
    )


def to_grpc_status(error: LabelgateError, request_id: str) -> grpc.Status:
    """The status (code, message, trailing details) that carries `error` to the client."""
    detail = any_pb2.Any()
    detail.Pack(error_info(error, request_id))
    status = status_pb2.Status(
        code=error.grpc_code.value[0], message=error.message or error.code, details=[detail]
    )
    return rpc_status.to_status(status)


def internal_error(request_id: str) -> InternalServerError:
    """What the caller sees for an unexpected exception: an id to quote, never the cause."""
    return InternalServerError(
        f"Internal server error; quote request id {request_id} when reporting it",
        request_id=request_id,
    )
