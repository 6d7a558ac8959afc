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
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from labelgate.errors import InvalidPaginationTokenException

MAX_TOKEN_LENGTH = 1024

Row = TypeVar("Row")


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


def page_size(requested: int, default: int) -> int:
    """MaxResults, or the operation's default when absent (the gateway checks the bounds)."""
    return requested if requested > 0 else default


def keyset_page(
    session: Session, stmt: Select[tuple[Row]], key: Any, after: int | None, limit: int
) -> tuple[Sequence[Row], int | None]:
    """One page of `stmt` ordered by the integer `key` (creation order), resuming after the
    key `after`; returns the rows and the key to resume from, None on the last page.

    Keyset rather than offset paging, so rows created or deleted between calls neither
    repeat nor get skipped.
    """
    if after is not None:
        stmt = stmt.where(key > after)
    rows = session.scalars(stmt.order_by(key).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, getattr(rows[-1], key.key)
