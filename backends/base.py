"""The contract between the gateway and a backend.

A backend handles each RPC with one async callable, found once at start-up (`handler_table`):
by default its method named after the RPC (the snake_case of the name). Proto request in,
proto response out, errors raised as `labelgate.errors` classes. Backends never see gRPC
types; the gateway's dispatcher calls them with a `RequestContext`. An RPC a backend does not
serve is named in its `unimplemented` set (callers get NotImplementedOperation); one neither
served nor named stops the gateway from starting.

Backends register in the entry-point group `labelgate.backends`; each entry point names a
class with a `from_config(config, *, data_dir)` factory.

Optional hook: a backend with `register_metrics(registry)` gets the gateway's Prometheus
`CollectorRegistry` before `start()`, so its own series (detect latency, inference units)
appear on the same /metrics page.

The labelgate extensions (server-streaming RPCs, `shapes.STREAMING_OPERATIONS`) are plain
methods that return an async iterator of response messages; errors may be raised when it is
first iterated.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from google.protobuf.message import Message

from labelgate.shapes import OPERATIONS, STREAMING_OPERATIONS, snake_operation

BACKEND_ENTRY_POINT_GROUP = "labelgate.backends"
#: Every RPC of the service, from its descriptor: the AWS operations, then the extensions.
ALL_OPERATIONS: tuple[str, ...] = (*OPERATIONS, *STREAMING_OPERATIONS)


@dataclass(frozen=True)
class RequestContext:
    """What a backend may know about the call: never transport objects."""

    request_id: str
    operation: str
    metadata: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Message, RequestContext], Any]  # an awaitable, or an async iterator


@runtime_checkable
class Backend(Protocol):
    """Lifecycle, ARN ownership and one handler per operation of the service.

    Handlers are found once, at start-up (`handler_table`): a backend's `handlers()` when
    it has one, else its methods named after the operations (`create_project` for
    CreateProject). Every operation of the service must have a handler or be listed in
    `unimplemented`; anything else stops the gateway from starting, so a missing method is
    never first met by a caller.
    """

    name: str
    unimplemented: frozenset[str]

    async def start(self) -> None:
        """Open stores, resume background work. Health turns SERVING after every start()."""

    async def stop(self) -> None:
        """Finish or checkpoint background work and release resources."""

    def owns_arn(self, arn: str) -> bool:
        """True when `arn` names a resource this backend holds (routing by ARN)."""


class BackendBase:
    """Defaults for a backend: nothing to start or stop, no ARNs, nothing unimplemented."""

    name = "base"
    unimplemented: frozenset[str] = frozenset()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def owns_arn(self, arn: str) -> bool:
        return False


class IncompleteBackend(ValueError):
    """A backend has no handler for an operation it does not declare unimplemented."""


def methods_for(*providers: object) -> dict[str, Handler]:
    """{operation: bound method} for the methods of `providers` named after operations.

    One operation found on two providers is an error: which one answers must never depend
    on the order they are listed in.
    """
    table: dict[str, Handler] = {}
    for operation in ALL_OPERATIONS:
        found = [getattr(p, snake_operation(operation)) for p in providers
                 if callable(getattr(p, snake_operation(operation), None))]
        if len(found) > 1:
            raise IncompleteBackend(f"{operation} is implemented twice: {found}")
        if found:
            table[operation] = found[0]
    return table


def handler_table(backend: Backend) -> dict[str, Handler | None]:
    """Every operation's handler (None: declared unimplemented); IncompleteBackend when one
    is neither implemented nor declared."""
    provided = getattr(backend, "handlers", None)
    table: dict[str, Handler | None] = dict(provided() if callable(provided)
                                            else methods_for(backend))
    unknown = sorted(set(table) - set(ALL_OPERATIONS))
    if unknown:
        raise IncompleteBackend(f"backend {backend.name!r} has handlers for unknown "
                                f"operations: {', '.join(unknown)}")
    declared = frozenset(getattr(backend, "unimplemented", ()))
    missing = [op for op in ALL_OPERATIONS if op not in table and op not in declared]
    if missing:
        raise IncompleteBackend(
            f"backend {backend.name!r} implements neither these operations nor lists them "
            f"in `unimplemented`: {', '.join(missing)}")
    return {op: table.get(op) for op in ALL_OPERATIONS}


def undefined_operations(cls: type) -> frozenset[str]:
    """The operations `cls` has no method for (test backends that answer only a few)."""
    return frozenset(op for op in ALL_OPERATIONS
                     if not callable(getattr(cls, snake_operation(op), None)))


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed backends by name, from the `labelgate.backends` entry-point group."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=BACKEND_ENTRY_POINT_GROUP)}


def load_backend(name: str, config: Mapping[str, Any], *, data_dir: Path) -> Backend:
    """Instantiate the backend registered as `name` with its config table."""
    entry_points = available_backends()
    if name not in entry_points:
        known = ", ".join(sorted(entry_points)) or "none"
        raise ValueError(f"unknown backend {name!r} (installed: {known})")
    cls = entry_points[name].load()
    backend = cls.from_config(config, data_dir=data_dir)
    backend.name = name
    return backend
