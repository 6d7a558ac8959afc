"""The `aws` backend: every Custom Labels operation passed to Amazon Rekognition via boto3.

No per-operation code: for each of the 23 operations the proto request becomes boto3's
parameters with the descriptor-driven converter (`shapes.to_aws`), boto3 validates and
sends it (SigV4, retries, the credential chain), and the response dict comes back through
the same converter (`shapes.from_aws`, lenient about members a newer AWS API may add).
AWS errors are raised as the labelgate exception of the same name, so a caller cannot tell
which backend answered.

Settings (`[backends.aws]`, all optional; the typed AwsSettings, `settings_type`): `region`,
`profile`, `endpoint_url` (another Rekognition-compatible endpoint, e.g. a labelgate AWS
front), `max_attempts`, `connect_timeout`, `read_timeout`, `arn_prefixes` (ARNs this backend
owns besides AWS's own partitions: a labelgate front's `arn:labelgate:`). Credentials come
from boto3's normal chain (environment, profile, instance role), or
`aws_access_key_id`/`aws_secret_access_key`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from pydantic import Field, field_validator

from labelgate import shapes
from labelgate.backends.base import BackendBase, BackendSettings, RequestContext
from labelgate.errors import InternalServerError, ValidationException, error_class

AWS_PARTITIONS = ("arn:aws:", "arn:aws-cn:", "arn:aws-us-gov:")


class AwsSettings(BackendSettings):
    """Every key of `[backends.aws]` (all optional; docs/configuration.md)."""

    region: str | None = None  # None: boto3's default region
    profile: str | None = None  # a profile of the AWS config files
    endpoint_url: str | None = None  # another Rekognition-compatible endpoint
    max_attempts: int = Field(3, ge=1)  # boto3 retries (standard mode)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    # ARNs this backend owns besides AWS's own partitions (a labelgate front's
    # `arn:labelgate:`); text from the environment is comma separated.
    arn_prefixes: tuple[str, ...] = ()
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    @field_validator("arn_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    def credentials(self) -> dict[str, str]:
        """The keys given here, as boto3 session arguments."""
        return {name: value for name in
                ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
                if (value := getattr(self, name))}


class AwsBackend(BackendBase):
    # The labelgate extensions have no Rekognition counterpart.
    unimplemented = frozenset(shapes.STREAMING_OPERATIONS)
    """Amazon Rekognition Custom Labels (or any endpoint speaking its protocol) via boto3."""

    name = "aws"
    settings_type = AwsSettings

    def __init__(self, *, region: str | None = None, profile: str | None = None,
                 endpoint_url: str | None = None, max_attempts: int = 3,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 arn_prefixes: Sequence[str] = (),
                 credentials: Mapping[str, str] | None = None, client: Any = None) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.arn_prefixes = AWS_PARTITIONS + tuple(arn_prefixes)
        self.credentials = dict(credentials or {})
        self.client = client  # a boto3 Rekognition client; made at start() when not given

    @classmethod
    def from_config(cls, config: AwsSettings | Mapping[str, Any], *,
                    data_dir: Path) -> AwsBackend:
        """From the typed `[backends.aws]` settings, or a mapping validated into them
        (SettingsError, a ValueError, names each bad or unknown key)."""
        settings: AwsSettings = cls.typed_settings(config)
        return cls(
            region=settings.region, profile=settings.profile,
            endpoint_url=settings.endpoint_url,
            max_attempts=settings.max_attempts,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            arn_prefixes=settings.arn_prefixes,
            credentials=settings.credentials(),
        )

    def make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile, region_name=self.region,
                                        **self.credentials)
        return session.client(
            "rekognition", endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"},
                          connect_timeout=self.connect_timeout,
                          read_timeout=self.read_timeout,
                          max_pool_connections=32),
        )

    async def start(self) -> None:
        if self.client is None:
            self.client = await asyncio.to_thread(self.make_client)

    async def stop(self) -> None:
        if self.client is not None and hasattr(self.client, "close"):
            await asyncio.to_thread(self.client.close)

    def owns_arn(self, arn: str) -> bool:
        return arn.startswith(self.arn_prefixes)

    async def call(self, operation: str, request: Message) -> Message:
        """Run `operation` through boto3 and convert the answer back to its proto type."""
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        # Extension fields (a training budget, ...) are ours: Rekognition has no such members.
        params = shapes.to_aws(request, extensions=False)
        method = getattr(self.client, shapes.snake_operation(operation))
        try:
            result = await asyncio.to_thread(method, **params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise error_class(error.get("Code") or "InternalServerError")(
                error.get("Message") or str(exc)) from None
        except ParamValidationError as exc:
            raise ValidationException(str(exc)) from None
        except BotoCoreError as exc:
            raise InternalServerError(f"Calling Rekognition failed: {exc}") from None
        result.pop("ResponseMetadata", None)
        return shapes.from_aws(result, shapes.operation_types(operation)[1], strict=False)


def _operation_method(operation: str
                      ) -> Callable[[AwsBackend, Message, RequestContext], Awaitable[Message]]:
    async def method(self: AwsBackend, request: Message, context: RequestContext) -> Message:
        return await self.call(operation, request)

    method.__name__ = shapes.snake_operation(operation)
    method.__doc__ = f"{operation}, passed to Rekognition through boto3."
    return method


for _operation in shapes.OPERATIONS:
    setattr(AwsBackend, shapes.snake_operation(_operation), _operation_method(_operation))


__all__ = ["AWS_PARTITIONS", "AwsBackend", "AwsSettings"]
