"""The labelgate Python client.

`Client` has one typed method per Rekognition Custom Labels operation plus waiters;
`ClientOptions` holds the connection settings. Errors are the AWS-named classes of
`labelgate.errors`, plus `LabelgateConnectionError` / `LabelgateTimeoutError` for transport
failures and `WaiterError` for waiters that end without success.
"""

from labelgate.client._client import (
    BACKEND_METADATA_KEY,
    DEFAULT_TARGET,
    PAGINATED,
    Client,
    operation_name,
)
from labelgate.client._errors import (
    LabelgateConnectionError,
    LabelgateTimeoutError,
    error_from_rpc,
    raise_rpc_error,
)
from labelgate.client._options import ClientOptions, KeepAliveOptions
from labelgate.client._waiters import WAITERS, WaiterError, WaiterModel

__all__ = [
    "BACKEND_METADATA_KEY",
    "DEFAULT_TARGET",
    "PAGINATED",
    "WAITERS",
    "Client",
    "ClientOptions",
    "KeepAliveOptions",
    "LabelgateConnectionError",
    "LabelgateTimeoutError",
    "WaiterError",
    "WaiterModel",
    "error_from_rpc",
    "operation_name",
    "raise_rpc_error",
]
