"""Signed gRPC calls: how a caller proves it holds an access key's secret without sending it.

In the spirit of SigV4, scaled down to what a gRPC call has: the signature is an
HMAC-SHA256, keyed by the secret access key, over the algorithm, the signing time, a
one-time nonce, the full method name and the SHA-256 of the request's wire bytes. The
gateway recomputes it with its own copy of the secret, accepts a signing time within
`MAX_SKEW` of its clock and each nonce once within that window, so a recorded call cannot
be replayed and a changed request no longer matches. Three metadata keys carry it:

    authorization  LG1-HMAC-SHA256 Credential=<access key id>, Signature=<hex>
    x-lg-date      20261206T051522Z (UTC)
    x-lg-nonce     32 hex digits, random per call

Pure standard library: clients in any language can implement it from this page and
docs/architecture.md (Security).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

ALGORITHM = "LG1-HMAC-SHA256"
AUTHORIZATION_KEY = "authorization"
DATE_KEY = "x-lg-date"
NONCE_KEY = "x-lg-nonce"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: How far a signing time may be from the gateway's clock, either way.
MAX_SKEW = dt.timedelta(minutes=5)
#: IAM's access key id shape (16 to 128 word characters): anything else is refused before a
#: lookup, so made-up ids cost the gateway neither a query nor cache memory.
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9_]{16,128}")
#: The nonce: 32 hex digits (16 random bytes); bounded, since the gateway remembers them.
NONCE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class SignedCall:
    """What the gateway reads back from a call's metadata."""

    access_key_id: str
    signature: str
    date: str
    nonce: str


class SignatureFormatError(ValueError):
    """The metadata names a signature but it is malformed (which part is in the message)."""


def string_to_sign(method: str, body: bytes, date: str, nonce: str) -> bytes:
    return "\n".join(
        (ALGORITHM, date, nonce, method, hashlib.sha256(body).hexdigest())
    ).encode()


def signature(secret: str, method: str, body: bytes, date: str, nonce: str) -> str:
    return hmac.new(secret.encode(), string_to_sign(method, body, date, nonce),
                    hashlib.sha256).hexdigest()


def sign(credentials: Credentials, method: str, body: bytes,
         now: dt.datetime | None = None, nonce: str | None = None) -> tuple[tuple[str, str], ...]:
    """The metadata pairs that sign a call of `method` (`/package.Service/Method`) with
    request wire bytes `body`."""
    date = (now or dt.datetime.now(dt.UTC)).strftime(DATE_FORMAT)
    nonce = nonce or secrets.token_hex(16)
    value = signature(credentials.secret_access_key, method, body, date, nonce)
    return (
        (AUTHORIZATION_KEY,
         f"{ALGORITHM} Credential={credentials.access_key_id}, Signature={value}"),
        (DATE_KEY, date),
        (NONCE_KEY, nonce),
    )


def read_signed_call(metadata: Mapping[str, str]) -> SignedCall | None:
    """The signature a call's metadata carries; None when it carries none."""
    authorization = metadata.get(AUTHORIZATION_KEY)
    if authorization is None:
        return None
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureFormatError(f"Unsupported authorization algorithm {algorithm!r}; "
                                   f"expected {ALGORITHM}")
    parts = dict(p.strip().partition("=")[::2] for p in rest.split(","))
    key_id, value = parts.get("Credential", ""), parts.get("Signature", "")
    date, nonce = metadata.get(DATE_KEY, ""), metadata.get(NONCE_KEY, "")
    if not key_id or not value or not date or not nonce:
        raise SignatureFormatError(
            f"A signed call needs Credential and Signature in {AUTHORIZATION_KEY}, "
            f"and {DATE_KEY} and {NONCE_KEY}")
    if not NONCE.fullmatch(nonce):
        raise SignatureFormatError(f"{NONCE_KEY} must be 32 lower-case hex digits")
    return SignedCall(key_id, value, date, nonce)


def signing_time(date: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(date, DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureFormatError(f"{DATE_KEY} must look like 20261206T051522Z") from None


__all__ = ["ACCESS_KEY_ID", "ALGORITHM", "MAX_SKEW", "NONCE",
           "Credentials", "SignatureFormatError", "SignedCall",
           "read_signed_call", "sign", "signature", "signing_time"]
