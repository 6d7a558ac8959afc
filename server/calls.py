"""The state of the call being handled, visible to everything running inside it.

A contextvar rather than a parameter, because it must reach code that never sees the call:
log records emitted deep in a backend, and the interceptor that records which backend the
router picked. grpc.aio runs each RPC in its own task, so the value never leaks between calls.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

REQUEST_ID_KEY = "x-request-id"
BACKEND_KEY = "x-labelgate-backend"

# Ids we accept from callers: they go back out as metadata and into logs, so printable,
# header-safe and short; anything else is replaced by a fresh id.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


@dataclass
class CallState:
    request_id: str
    method: str
    backend: str | None = None  # set by the router once the call is routed


_current: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "labelgate_call", default=None
)


def current() -> CallState | None:
    """The call being handled by this task, or None outside a call."""
    return _current.get()


def enter(state: CallState) -> contextvars.Token:
    return _current.set(state)


def leave(token: contextvars.Token) -> None:
    _current.reset(token)


def new_request_id() -> str:
    return str(uuid.uuid4())


def request_id_from(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The caller's `x-request-id` when it is usable, else a new uuid4."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _REQUEST_ID_RE.fullmatch(value):
            return value
    return new_request_id()


def text_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """Invocation metadata as a plain dict for backends; binary (`-bin`) entries are dropped."""
    return {k: v for k, v in (metadata or ()) if isinstance(v, str)}
