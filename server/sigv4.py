"""AWS Signature Version 4 verification for the AWS-compatible front (aws_front.py).

The signature is recomputed with botocore's own signer (`botocore.auth.SigV4Auth`) over the
request as received: the headers the client says it signed, the path, the query and the body,
at the client's timestamp and credential scope. So what boto3 signs verifies byte for byte,
and any change on the way (body, a signed header, the target) does not.

Errors are the ones AWS answers with: MissingAuthenticationTokenException (no
Authorization), IncompleteSignatureException (a malformed one), UnrecognizedClientException
(an unknown access key), InvalidSignatureException (a wrong signature or a stale timestamp).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labelgate.errors import LabelgateError, error_class

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far the client's X-Amz-Date may be from our clock (AWS allows 15 minutes).
MAX_SKEW = dt.timedelta(minutes=15)


def _error(code: str, message: str) -> Exception:
    return error_class(code)(message)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str  # with the query string, as on the request line
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def _authorization(value: str) -> tuple[str, list[str], str]:
    """(Credential, SignedHeaders, Signature) of an Authorization header."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise _error("IncompleteSignatureException",
                     f"Unsupported signature algorithm {algorithm!r}; use {ALGORITHM}")
    parts = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise _error("IncompleteSignatureException",
                     f"Authorization header requires {', '.join(missing)}")
    return parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"]


def credential_key_id(request: SignedRequest) -> str | None:
    """The access key id the request claims (to look its secret up), unverified."""
    try:
        credential, _, _ = _authorization(request.headers.get("authorization", ""))
    except LabelgateError:
        return None  # verify() names what is wrong
    return credential.split("/", 1)[0] or None


def verify(request: SignedRequest, secrets: Mapping[str, str],
           now: dt.datetime | None = None) -> str:
    """Check the request's SigV4 signature; return the access key id that signed it."""
    header = request.headers.get("authorization")
    if not header:
        raise _error("MissingAuthenticationTokenException", "Missing Authentication Token")
    credential, signed_headers, signature = _authorization(header)
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _error("IncompleteSignatureException", f"Malformed credential scope {credential!r}")
    access_key, date, region, service, _ = scope
    secret = secrets.get(access_key)
    if secret is None:
        raise _error("UnrecognizedClientException",
                     "The security token included in the request is invalid.")
    stamp = request.headers.get("x-amz-date", "")
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise _error("IncompleteSignatureException", "X-Amz-Date is missing or malformed") \
            from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - when) > MAX_SKEW or not stamp.startswith(date):
        raise _error("InvalidSignatureException",
                     f"Signature expired: {stamp} is not within 15 minutes of the server time")
    missing = [h for h in signed_headers if h not in request.headers]
    if missing or "host" not in signed_headers:
        raise _error("IncompleteSignatureException",
                     "SignedHeaders must include host and name only headers that were sent")

    rebuilt = AWSRequest(
        method=request.method, url=f"http://{request.headers['host']}{request.path}",
        data=request.body, headers={h: request.headers[h] for h in signed_headers},
    )
    rebuilt.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected, signature):
        raise _error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return access_key


__all__ = ["MAX_SKEW", "SignedRequest", "credential_key_id", "verify"]
