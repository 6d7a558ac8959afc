"""Who is calling, and may they: the dispatcher's first two steps.

`Authenticator.authenticate(call)` turns the evidence a transport collected (a SigV4-signed
HTTP request today; signed gRPC metadata once accounts exist) into a `Principal`, or raises
the AWS authentication error. `Authorizer.authorize(principal, call)` allows the call or
raises AccessDeniedException. Both are hooks: the gateway's own implementations below are
what it runs today, and accounts, keys and policies plug in here without touching a
transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from labelgate.server import sigv4

if TYPE_CHECKING:
    from labelgate.server.dispatch import Call


@dataclass(frozen=True)
class Principal:
    """The caller as the gateway knows it: an access key id, or anonymous."""

    id: str
    authenticated: bool = False


ANONYMOUS = Principal("anonymous")


class Authenticator(Protocol):
    async def authenticate(self, call: Call) -> Principal: ...


class Authorizer(Protocol):
    async def authorize(self, principal: Principal, call: Call) -> None: ...


class GatewayAuthenticator:
    """SigV4 on the AWS front when access keys are configured; anonymous otherwise (the gRPC
    API has no credentials yet, and the gateway warns at start when it listens beyond
    loopback)."""

    def __init__(self, aws_access_keys: Mapping[str, str] | None = None) -> None:
        self.aws_access_keys = dict(aws_access_keys or {})

    async def authenticate(self, call: Call) -> Principal:
        evidence = call.credentials
        if isinstance(evidence, sigv4.SignedRequest) and self.aws_access_keys:
            return Principal(sigv4.verify(evidence, self.aws_access_keys), authenticated=True)
        return ANONYMOUS


class AllowAll:
    """Every principal may call every operation (one trust domain, no policies yet)."""

    async def authorize(self, principal: Principal, call: Call) -> None:
        return None


__all__ = ["ANONYMOUS", "AllowAll", "Authenticator", "Authorizer", "GatewayAuthenticator",
           "Principal"]
