"""gRPC failures -> labelgate exceptions, in exactly one place.

The server sends every AWS error as a gRPC status whose `google.rpc.Status` details hold a
`google.rpc.ErrorInfo`: `reason` is the AWS error name (`ResourceInUseException`) and
`metadata["request_id"]` the request id. `error_from_rpc` turns that back into the same class
from `labelgate.errors`; statuses without ErrorInfo (a proxy, a dead endpoint, gRPC's own
limits) get the closest class by status code. `raise_rpc_error` raises it `from None` so
gRPC internals never reach the caller's traceback.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from labelgate import errors

REQUEST_ID_METADATA_KEY = "x-request-id"


class LabelgateConnectionError(errors.LabelgateError):
    """The endpoint could not be reached, or went away during the call.

    Named after botocore's `EndpointConnectionError`; the message names the endpoint. Not a
    service error: nothing reached a backend, so there is no request id.
    """

    code: ClassVar[str] = "EndpointConnectionError"
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str = "", *, endpoint: str = "",
                 request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.endpoint = endpoint


class LabelgateTimeoutError(LabelgateConnectionError):
    """The call's deadline (`ClientOptions.timeout`) passed before the answer came.

    Named after botocore's `ReadTimeoutError`. The server may still complete the request.
    """

    code: ClassVar[str] = "ReadTimeoutError"
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.DEADLINE_EXCEEDED


_S = grpc.StatusCode
# Statuses that arrive without an ErrorInfo: the server did not produce them as AWS errors
# (gRPC limits, a proxy, a server built without the error interceptor), so the class is a
# best guess from the code. The gRPC message is kept verbatim.
_BY_STATUS: dict[grpc.StatusCode, type[errors.LabelgateError]] = {
    _S.UNIMPLEMENTED: errors.NotImplementedOperation,
    _S.INVALID_ARGUMENT: errors.InvalidParameterException,
    _S.OUT_OF_RANGE: errors.InvalidParameterException,
    _S.NOT_FOUND: errors.ResourceNotFoundException,
    _S.ALREADY_EXISTS: errors.ResourceAlreadyExistsException,
    _S.FAILED_PRECONDITION: errors.ResourceInUseException,
    _S.ABORTED: errors.ResourceInUseException,
    _S.PERMISSION_DENIED: errors.AccessDeniedException,
    _S.UNAUTHENTICATED: errors.AccessDeniedException,
    _S.RESOURCE_EXHAUSTED: errors.LimitExceededException,
}


def _error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    if not hasattr(err, "trailing_metadata"):  # a bare RpcError that is not a grpc.Call
        return None
    try:
        status = rpc_status.from_call(err)
    except ValueError:  # details inconsistent with the status line: ignore them
        return None
    if status is None:
        return None
    found: list[error_details_pb2.ErrorInfo] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found.append(info)
    ours = [i for i in found if i.domain == errors.ERROR_DOMAIN]
    return (ours or found or [None])[0]


def _metadata_value(err: grpc.RpcError, key: str) -> str | None:
    for getter in ("trailing_metadata", "initial_metadata"):
        try:
            pairs = getattr(err, getter)() or ()
        except Exception:  # a bare RpcError (not a Call) has no metadata at all
            continue
        for k, v in pairs:
            if k == key:
                return v if isinstance(v, str) else v.decode("utf-8", "replace")
    return None


def error_from_rpc(err: grpc.RpcError, *, endpoint: str,
                   operation: str | None = None) -> errors.LabelgateError:
    """The labelgate exception a failed call stands for (not raised)."""
    code: grpc.StatusCode = err.code() if hasattr(err, "code") else _S.UNKNOWN
    message: str = (err.details() if hasattr(err, "details") else None) or ""
    info = _error_info(err)
    request_id = (info.metadata.get("request_id") if info is not None else None) or \
        _metadata_value(err, REQUEST_ID_METADATA_KEY)

    if info is not None and info.reason:
        return errors.error_class(info.reason)(message, request_id=request_id)
    if code == _S.UNAVAILABLE or code == _S.CANCELLED:
        return LabelgateConnectionError(
            f"Could not connect to the endpoint {endpoint}: {message or code.name}",
            endpoint=endpoint)
    if code == _S.DEADLINE_EXCEEDED:
        return LabelgateTimeoutError(
            f"Read timeout on endpoint {endpoint}" + (f" ({operation})" if operation else ""),
            endpoint=endpoint)
    if code == _S.UNIMPLEMENTED:
        what = operation or "This operation"
        return errors.NotImplementedOperation(
            f"{what} is not implemented by the server at {endpoint}", request_id=request_id)
    cls = _BY_STATUS.get(code, errors.InternalServerError)
    return cls(message or code.name, request_id=request_id)


def raise_rpc_error(err: grpc.RpcError, *, endpoint: str,
                    operation: str | None = None) -> NoReturn:
    """Raise `error_from_rpc(err)` with the gRPC exception hidden from the traceback."""
    raise error_from_rpc(err, endpoint=endpoint, operation=operation) from None
