"""Backend plugins: the `Backend` protocol and the entry-point loader."""

from labelgate.backends.base import (
    BACKEND_ENTRY_POINT_GROUP,
    Backend,
    BackendBase,
    RequestContext,
    available_backends,
    load_backend,
)

__all__ = [
    "BACKEND_ENTRY_POINT_GROUP",
    "Backend",
    "BackendBase",
    "RequestContext",
    "available_backends",
    "load_backend",
]
