"""Finding the caller's access key the way boto3 does, and signing every call with it.

Looked up in this order (the first that names a key wins), as boto3 does for these sources:
`AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`; then the profile `AWS_PROFILE` (default
`default`) of the shared credentials file `AWS_SHARED_CREDENTIALS_FILE` (default
`~/.aws/credentials`). So the gateway's `<data-dir>/root-credentials` works for the
`labelgate` CLI, this client and boto3 alike. No instance-metadata lookups: a gateway is not
an AWS endpoint, and a client must not wait on one.
"""

from __future__ import annotations

import collections
import configparser
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from labelgate.request_signing import Credentials, sign


class CredentialsError(Exception):
    """The configuration names credentials that cannot be read (a profile not in the file,
    a file that is not in the shared-credentials format)."""


def find_credentials(env: Mapping[str, str] | None = None) -> Credentials | None:
    env = os.environ if env is None else env
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        return Credentials(key_id, secret)
    path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    if not path.is_file():
        if env.get("AWS_PROFILE"):
            raise CredentialsError(f"profile {profile!r}: no credentials file at {path}")
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise CredentialsError(f"{path} is not a credentials file: {exc}") from None
    if not parser.has_section(profile):
        if env.get("AWS_PROFILE"):
            raise CredentialsError(f"profile {profile!r} is not in {path}")
        return None
    section = parser[profile]
    key_id, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key_id or not secret:
        raise CredentialsError(f"profile {profile!r} in {path} lacks aws_access_key_id or "
                               "aws_secret_access_key")
    return Credentials(key_id.strip(), secret.strip())


class _Details(collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                     "compression")), grpc.ClientCallDetails):
    pass


class SigningInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the request signature (labelgate.request_signing) to every call's metadata."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def _signed(self, details: grpc.ClientCallDetails, request: Any) -> _Details:
        method = details.method.decode() if isinstance(details.method, bytes) \
            else details.method
        pairs = (*(details.metadata or ()),
                 *sign(self.credentials, method, request.SerializeToString()))
        return _Details(details.method, details.timeout, pairs, details.credentials,
                        getattr(details, "wait_for_ready", None),
                        getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Callable[..., Any],
                              details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._signed(details, request), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any],
                               details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._signed(details, request), request)


__all__ = ["CredentialsError", "SigningInterceptor", "find_credentials"]
