"""Who is calling, and may they: the dispatcher's first two steps.

`Authenticator.authenticate(call)` turns the evidence a transport collected into a
`Principal`, or raises the AWS authentication error: a signed gRPC call
(labelgate.request_signing) or a SigV4-signed HTTP request (sigv4.py), each checked
against the access keys of the identity directory (server/identity/) and, on the AWS
front, the static `aws_access_keys`. `Authorizer.authorize(principal, call)` allows the
call or raises AccessDeniedException. Transports only collect evidence; everything about
credentials happens here, once, for both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from labelgate import errors, request_signing
from labelgate.server import sigv4
from labelgate.server.identity.directory import Directory, KeyOwner

if TYPE_CHECKING:
    from labelgate.server.dispatch import Call

#: How long a looked-up key is trusted before the directory is asked again: a deactivated
#: or deleted key stops working within this time on every gateway.
KEY_CACHE_SECONDS = 30.0
#: Nonces remembered at most (a replay window's worth of calls at a high rate).
MAX_NONCES = 1_000_000


@dataclass(frozen=True)
class Principal:
    """The caller as the gateway knows it: an access key and its owner, or anonymous."""

    id: str
    authenticated: bool = False
    account_id: str | None = None
    user_arn: str | None = None
    admin: bool = False


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True)
class GrpcEvidence:
    """What a gRPC call shows of its caller: the method, the request's wire bytes (what the
    signature covers) and the metadata."""

    method: str
    body: bytes
    metadata: Mapping[str, str]


class Authenticator(Protocol):
    async def authenticate(self, call: Call) -> Principal: ...


class Authorizer(Protocol):
    async def authorize(self, principal: Principal, call: Call) -> None: ...


class _Keys:
    """The directory's active keys, cached for KEY_CACHE_SECONDS (misses included, so an
    unknown key cannot make every call a database query)."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[float, KeyOwner | None]] = {}

    async def get(self, key_id: str) -> KeyOwner | None:
        if not request_signing.ACCESS_KEY_ID.fullmatch(key_id):
            return None  # no such key can exist: no query, nothing cached
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        owner = await asyncio.to_thread(self.directory.find_key, key_id)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key_id] = (now, owner)
        return owner


class _Nonces:
    """Nonces seen within the replay window: each signed call is accepted once."""

    def __init__(self, window: dt.timedelta) -> None:
        self.window = window.total_seconds() * 2  # skew either way
        self._seen: dict[str, float] = {}

    def first_use(self, nonce: str) -> bool:
        now = time.monotonic()
        if len(self._seen) >= MAX_NONCES:
            self._seen = {n: t for n, t in self._seen.items() if now - t < self.window}
        if nonce in self._seen and now - self._seen[nonce] < self.window:
            return False
        self._seen[nonce] = now
        return True


class _SigV4Secrets(Mapping[str, str]):
    """The secrets SigV4 verification may look up: static keys, then looked-up owners."""

    def __init__(self, static: Mapping[str, str], owner: KeyOwner | None) -> None:
        self.static, self.owner = static, owner

    def __getitem__(self, key_id: str) -> str:
        if key_id in self.static:
            return self.static[key_id]
        if self.owner is not None and self.owner.access_key_id == key_id:
            return self.owner.secret_access_key
        raise KeyError(key_id)

    def __iter__(self) -> Iterator[str]:
        yield from self.static
        if self.owner is not None:
            yield self.owner.access_key_id

    def __len__(self) -> int:
        return len(self.static) + (self.owner is not None)


class GatewayAuthenticator:
    """`directory` None: the explicit no-authentication mode (gRPC calls are anonymous; the
    AWS front checks SigV4 only against static `aws_access_keys`, when there are any)."""

    def __init__(self, aws_access_keys: Mapping[str, str] | None = None, *,
                 directory: Directory | None = None) -> None:
        self.aws_access_keys = dict(aws_access_keys or {})
        self.keys = _Keys(directory) if directory is not None else None
        self.nonces = _Nonces(request_signing.MAX_SKEW)

    async def authenticate(self, call: Call) -> Principal:
        evidence = call.credentials
        if isinstance(evidence, sigv4.SignedRequest):
            return await self._sigv4(evidence)
        if self.keys is None:
            return ANONYMOUS
        if isinstance(evidence, GrpcEvidence):
            return await self._signed_grpc(evidence)
        raise errors.MissingAuthenticationTokenException("Missing Authentication Token")

    async def _sigv4(self, request: sigv4.SignedRequest) -> Principal:
        if self.keys is None and not self.aws_access_keys:
            return ANONYMOUS
        owner = None
        key_id = sigv4.credential_key_id(request)
        if key_id is not None and key_id not in self.aws_access_keys and self.keys is not None:
            owner = await self.keys.get(key_id)
        verified = sigv4.verify(request, _SigV4Secrets(self.aws_access_keys, owner))
        return _principal(verified, owner)

    async def _signed_grpc(self, evidence: GrpcEvidence) -> Principal:
        assert self.keys is not None
        try:
            signed = request_signing.read_signed_call(evidence.metadata)
            if signed is None:
                raise errors.MissingAuthenticationTokenException(
                    "Missing Authentication Token: sign the call with an access key "
                    "(labelgate.client.Client reads it as boto3 does)")
            signed_at = request_signing.signing_time(signed.date)
        except request_signing.SignatureFormatError as exc:
            raise errors.IncompleteSignatureException(str(exc)) from None
        skew = abs(dt.datetime.now(dt.UTC) - signed_at)
        if skew > request_signing.MAX_SKEW:
            raise errors.InvalidSignatureException(
                f"Signature expired: signed at {signed.date}, more than "
                f"{int(request_signing.MAX_SKEW.total_seconds())} s from the gateway's clock")
        owner = await self.keys.get(signed.access_key_id)
        if owner is None:
            raise errors.UnrecognizedClientException(
                "The security token included in the request is invalid")
        expected = request_signing.signature(owner.secret_access_key, evidence.method,
                                             evidence.body, signed.date, signed.nonce)
        if not hmac.compare_digest(expected, signed.signature):
            raise errors.InvalidSignatureException(
                "The request signature we calculated does not match the signature you "
                "provided")
        if not self.nonces.first_use(signed.nonce):
            raise errors.InvalidSignatureException("The signed request was already used")
        return _principal(owner.access_key_id, owner)


def _principal(key_id: str, owner: KeyOwner | None) -> Principal:
    if owner is None:  # a static aws_access_keys key: no account behind it
        return Principal(key_id, authenticated=True)
    return Principal(key_id, authenticated=True, account_id=owner.account_id,
                     user_arn=owner.user_arn, admin=owner.admin)


class AllowAll:
    """Every principal may call every operation (policies are not enforced yet)."""

    async def authorize(self, principal: Principal, call: Call) -> None:
        return None


__all__ = ["ANONYMOUS", "AllowAll", "Authenticator", "Authorizer", "GatewayAuthenticator",
           "GrpcEvidence", "Principal"]
