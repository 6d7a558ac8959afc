"""The error model: one exception class per AWS error name.

Raised where a problem is detected (backends, validation), translated once to a gRPC status
by the server's error interceptor, and turned back into the same class by the client. The
gRPC code is chosen per class; the AWS name travels in `google.rpc.ErrorInfo.reason`, so a
message can change without breaking callers.
"""

from __future__ import annotations

from typing import ClassVar

import grpc

ERROR_DOMAIN = "labelgate.dev"


class LabelgateError(Exception):
    """Base class. `code` is the AWS error name; `grpc_code` the status it travels as."""

    code: ClassVar[str] = "LabelgateError"
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str = "", *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """`Name: message`, the form the CLI prints."""
        return f"{self.code}: {self.message}" if self.message else self.code


def _define(name: str, grpc_code: grpc.StatusCode, doc: str) -> type[LabelgateError]:
    return type(name, (LabelgateError,), {"code": name, "grpc_code": grpc_code, "__doc__": doc})


_S = grpc.StatusCode
AccessDeniedException = _define(
    "AccessDeniedException",
    _S.PERMISSION_DENIED,
    "The caller is not allowed to perform the action.",
)
InternalServerError = _define(
    "InternalServerError",
    _S.INTERNAL,
    "An unexpected failure in the service; carries a request id.",
)
InvalidParameterException = _define(
    "InvalidParameterException", _S.INVALID_ARGUMENT, "An input parameter violated a constraint."
)
ValidationException = _define(
    "ValidationException",
    _S.INVALID_ARGUMENT,
    "The request failed the API model's max/pattern/enum constraints.",
)
InvalidPaginationTokenException = _define(
    "InvalidPaginationTokenException",
    _S.INVALID_ARGUMENT,
    "The pagination token is invalid or expired.",
)
InvalidImageFormatException = _define(
    "InvalidImageFormatException",
    _S.INVALID_ARGUMENT,
    "The image is not a supported format (PNG or JPEG).",
)
InvalidS3ObjectException = _define(
    "InvalidS3ObjectException", _S.INVALID_ARGUMENT, "The S3 object cannot be read."
)
ImageTooLargeException = _define(
    "ImageTooLargeException", _S.INVALID_ARGUMENT, "The image is larger than allowed."
)
InvalidPolicyRevisionIdException = _define(
    "InvalidPolicyRevisionIdException",
    _S.FAILED_PRECONDITION,
    "The policy revision id does not match the latest.",
)
MalformedPolicyDocumentException = _define(
    "MalformedPolicyDocumentException",
    _S.INVALID_ARGUMENT,
    "The policy document is not a valid policy.",
)
ResourceNotFoundException = _define(
    "ResourceNotFoundException", _S.NOT_FOUND, "The named resource does not exist."
)
ResourceAlreadyExistsException = _define(
    "ResourceAlreadyExistsException",
    _S.ALREADY_EXISTS,
    "A resource with that identity already exists.",
)
ResourceInUseException = _define(
    "ResourceInUseException",
    _S.FAILED_PRECONDITION,
    "The resource is in use or in a state that forbids the action.",
)
ResourceNotReadyException = _define(
    "ResourceNotReadyException",
    _S.FAILED_PRECONDITION,
    "The resource is not ready yet (still being created).",
)
LimitExceededException = _define(
    "LimitExceededException", _S.RESOURCE_EXHAUSTED, "A service limit was exceeded."
)
ServiceQuotaExceededException = _define(
    "ServiceQuotaExceededException",
    _S.RESOURCE_EXHAUSTED,
    "A quota (tags, policies, copies) was exceeded.",
)
ProvisionedThroughputExceededException = _define(
    "ProvisionedThroughputExceededException",
    _S.RESOURCE_EXHAUSTED,
    "More requests than the running units serve.",
)
ThrottlingException = _define(
    "ThrottlingException",
    _S.UNAVAILABLE,
    "The service is temporarily unable to handle the request.",
)
# Authentication: the AWS names, carried as gRPC UNAUTHENTICATED (HTTP 403 on the AWS front).
MissingAuthenticationTokenException = _define(
    "MissingAuthenticationTokenException",
    _S.UNAUTHENTICATED,
    "The request carries no credentials.",
)
IncompleteSignatureException = _define(
    "IncompleteSignatureException",
    _S.UNAUTHENTICATED,
    "The request's signature is malformed or incomplete.",
)
UnrecognizedClientException = _define(
    "UnrecognizedClientException",
    _S.UNAUTHENTICATED,
    "The access key id is unknown or inactive.",
)
InvalidSignatureException = _define(
    "InvalidSignatureException",
    _S.UNAUTHENTICATED,
    "The signature does not match, has expired, or was already used.",
)
NotImplementedOperation = _define(
    "NotImplementedOperation",
    _S.UNIMPLEMENTED,
    "The backend does not implement this operation (yet).",
)

#: Every error class by AWS name; the client uses it to rebuild exceptions.
ERRORS_BY_CODE: dict[str, type[LabelgateError]] = {
    cls.code: cls for cls in LabelgateError.__subclasses__()
}


def error_class(code: str) -> type[LabelgateError]:
    """The class for an AWS error name; unknown names get a fresh subclass, never a crash."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        cls = _define(code, grpc.StatusCode.UNKNOWN, "An error this client does not know.")
        ERRORS_BY_CODE[code] = cls
    return cls


__all__ = ["ERRORS_BY_CODE", "ERROR_DOMAIN", "LabelgateError", "error_class"] + [
    c.__name__ for c in LabelgateError.__subclasses__()
]
