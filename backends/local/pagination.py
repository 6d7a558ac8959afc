"""Opaque, tamper-proof page tokens (AIP-158 discipline on AWS's NextToken).

A token carries the operation, a digest of the request's filters and the last key seen,
signed with an installation secret. A forged, altered or foreign token, or one reused with
different filters, is rejected with InvalidPaginationTokenException. `""` means first page,
as the AWS examples send it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from labelgate.errors import InvalidPaginationTokenException

MAX_TOKEN_LENGTH = 1024


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @staticmethod
    def _scope_digest(operation: str, scope: Any) -> str:
        raw = json.dumps([operation, scope], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]

    def encode(self, operation: str, scope: Any, position: Any) -> str:
        """A token that resumes `operation` with the same `scope` after `position`."""
        payload = json.dumps(
            {"s": self._scope_digest(operation, scope), "p": position},
            separators=(",", ":"),
        ).encode()
        token = base64.urlsafe_b64encode(self._sign(payload) + payload).decode().rstrip("=")
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("page position too large for a token")
        return token

    def decode(self, operation: str, scope: Any, token: str | None) -> Any:
        """The position stored in `token`, or None for the first page."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sig, payload = raw[:16], raw[16:]
            if not hmac.compare_digest(sig, self._sign(payload)):
                raise ValueError("bad signature")
            data = json.loads(payload)
            if data["s"] != self._scope_digest(operation, scope):
                raise ValueError("token was issued for a different request")
            return data["p"]
        except Exception:
            raise InvalidPaginationTokenException("Invalid pagination token") from None
