"""Which backend handles a request, and the call into it.

Transport-neutral: the gRPC servicer and the AWS-compatible HTTP front both end here with a
proto request and a `RequestContext`. Routing follows docs/architecture.md (Backends): a
request that names an ARN goes to the backend that owns it; a request without one
(CreateProject, DescribeProjects) goes to the default backend, or to the one named by the
`x-labelgate-backend` metadata key.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from google.protobuf import descriptor as _d
from google.protobuf.message import Message

from labelgate.backends.base import Backend, Handler, RequestContext, handler_table
from labelgate.errors import (
    InvalidParameterException,
    NotImplementedOperation,
    ResourceNotFoundException,
    ThrottlingException,
)
from labelgate.server import calls
from labelgate.shapes import SERVICE

#: Backend name that receives AWS ARNs (`arn:aws:…`, `arn:aws-cn:…`) when it is configured.
AWS_BACKEND = "aws"

# Where an operation names more than one ARN, the one that decides routing. CopyProjectVersion
# is carried out by (and creates its result in) the destination project's backend.
_ROUTING_FIELD: dict[str, str] = {"CopyProjectVersion": "destination_project_arn"}

FieldPath = tuple[_d.FieldDescriptor, ...]


def _is_arn_field(field: _d.FieldDescriptor) -> bool:
    return field.type == _d.FieldDescriptor.TYPE_STRING and (
        field.name == "arn" or field.name.endswith("_arn")
    )


def _arn_paths(message: _d.Descriptor, prefix: FieldPath = ()) -> list[FieldPath]:
    """Every path to an ARN field: the message's own ARN fields first, then nested ones."""
    own = [(*prefix, f) for f in message.fields if _is_arn_field(f)]
    nested: list[FieldPath] = []
    for f in message.fields:
        if f.message_type is not None and not f.message_type.GetOptions().map_entry and \
                f.message_type.full_name != "google.protobuf.Timestamp" and len(prefix) < 4:
            nested.extend(_arn_paths(f.message_type, (*prefix, f)))
    return own + nested


@functools.cache
def arn_paths(operation: str) -> tuple[FieldPath, ...]:
    """ARN field paths of `operation`'s request, in the order they decide routing."""
    paths = _arn_paths(SERVICE.methods_by_name[operation].input_type)
    preferred = _ROUTING_FIELD.get(operation)
    paths.sort(key=lambda p: [f.name for f in p] != [preferred])  # stable: others keep order
    return tuple(paths)


def _values(message: Message, path: FieldPath) -> Iterator[str]:
    head, rest = path[0], path[1:]
    if head.is_repeated:
        items = list(getattr(message, head.name))
    else:
        items = [getattr(message, head.name)] if message.HasField(head.name) else []
    for item in items:
        if rest:
            yield from _values(item, rest)
        elif item:
            yield item


def request_arns(operation: str, request: Message) -> list[str]:
    """The ARNs `request` names, the one that decides routing first."""
    return [arn for path in arn_paths(operation) for arn in _values(request, path)]


def is_aws_arn(arn: str) -> bool:
    return arn.startswith(("arn:aws:", "arn:aws-"))


class Router:
    """Routes each operation to one backend and calls its method for it.

    `ready` stays False until the gateway has started every backend; calls before that are
    refused with ThrottlingException (UNAVAILABLE), which clients already retry.
    """

    def __init__(self, backends: Mapping[str, Backend], default: str) -> None:
        if default not in backends:
            raise ValueError(f"default backend {default!r} is not among {sorted(backends)}")
        self.backends = dict(backends)
        self.default = default
        self.ready = False
        self._tables: dict[str, dict[str, Handler | None]] = {}

    def backend_for(self, operation: str, request: Message, context: RequestContext
                    ) -> tuple[str, Backend]:
        """(name, backend) that must handle `request`; raises the AWS error when none can."""
        override = context.metadata.get(calls.BACKEND_KEY)
        if override is not None and override not in self.backends:
            raise InvalidParameterException(
                f"Unknown backend {override!r} in {calls.BACKEND_KEY}; "
                f"configured: {', '.join(sorted(self.backends))}"
            )
        arns = request_arns(operation, request)
        if not arns:
            name = override or self.default
            return name, self.backends[name]
        # An ARN decides by itself: a resource lives in exactly one backend, whatever the
        # caller asked for, so the override only chooses where new resources are created.
        arn = arns[0]
        if is_aws_arn(arn) and AWS_BACKEND in self.backends:
            return AWS_BACKEND, self.backends[AWS_BACKEND]
        for name, backend in self.backends.items():
            if backend.owns_arn(arn):
                return name, backend
        raise ResourceNotFoundException(
            f"No configured backend holds the resource {arn} "
            f"(backends: {', '.join(sorted(self.backends))})"
        )

    def bind(self) -> None:
        """Find every backend's handlers now (after start: a backend may build its services
        there); IncompleteBackend stops the gateway's start instead of failing a call."""
        self._tables = {name: handler_table(backend) for name, backend in self.backends.items()}

    def _table(self, name: str, backend: Backend) -> dict[str, Handler | None]:
        table = self._tables.get(name)
        if table is None:  # a router used without bind() (tests): found on first use
            table = self._tables[name] = handler_table(backend)
        return table

    def _method(self, operation: str, request: Message, context: RequestContext) -> Any:
        if not self.ready:
            raise ThrottlingException("labelgate is starting up; retry shortly")
        name, backend = self.backend_for(operation, request, context)
        state = calls.current()
        if state is not None:
            state.backend = name  # for metrics and logs
        handler = self._table(name, backend).get(operation)
        if handler is None:
            raise NotImplementedOperation(
                f"{operation} is not implemented by the {name!r} backend"
            )
        return handler

    async def dispatch(self, operation: str, request: Message, context: RequestContext) -> Any:
        """Call the owning backend's handler for `operation` and return its response."""
        return await self._method(operation, request, context)(request, context)

    def open_stream(self, operation: str, request: Message, context: RequestContext
                    ) -> AsyncIterator[Any]:
        """The owning backend's response stream for a server-streaming `operation`."""
        return self._method(operation, request, context)(request, context)
