"""Connection options of `labelgate.client.Client`, gathered in one documented object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc

from labelgate import __version__

MiB = 1024 * 1024


@dataclass(frozen=True)
class KeepAliveOptions:
    """HTTP/2 keepalive pings (gRPC channel arguments `grpc.keepalive_*`).

    The defaults send no pings (gRPC's own defaults): a client that holds a channel open
    across long waits (training takes hours) behind a NAT or load balancer should set
    `time_ms` below the idle timeout of whatever sits in between.
    """

    #: Interval between pings while a call is open (`grpc.keepalive_time_ms`).
    time_ms: int = 2**31 - 1
    #: How long to wait for a ping's ack before closing the connection.
    timeout_ms: int = 20_000
    #: Ping even when no call is open (`grpc.keepalive_permit_without_calls`).
    permit_without_calls: bool = False
    #: Pings allowed without data in between; 0 means no limit.
    max_pings_without_data: int = 2


@dataclass(frozen=True)
class ClientOptions:
    """Everything about the channel and the calls that is not a request field.

    `timeout` is the deadline of each call in seconds (None waits forever); a method's own
    `timeout=` argument overrides it for that call. The message limits default to 16 MiB
    because AWS allows 5 MiB images (`DetectCustomLabels`) and 5 MiB `GroundTruth` blobs,
    while a `ListDatasetEntries` page can hold 100 entries of up to 100,000 characters; gRPC's
    own 4 MiB default would refuse all three. `metadata` is sent with every call.
    `credentials` switches to a TLS channel (`grpc.ssl_channel_credentials(...)`).
    """

    timeout: float | None = 60.0
    max_send_message_length: int = 16 * MiB
    max_receive_message_length: int = 16 * MiB
    keepalive: KeepAliveOptions = field(default_factory=KeepAliveOptions)
    metadata: Mapping[str, str] = field(default_factory=dict)
    credentials: grpc.ChannelCredentials | None = None
    #: Extra raw channel arguments, appended last so they win.
    channel_options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be positive or None, not {self.timeout!r}")
        for name in ("max_send_message_length", "max_receive_message_length"):
            value = getattr(self, name)
            # -1 is gRPC's "unlimited"; anything else below 6 MiB cannot carry a 5 MiB image.
            if value != -1 and value < 6 * MiB:
                raise ValueError(f"{name} must be at least 6 MiB (or -1), not {value}")

    def channel_arguments(self) -> list[tuple[str, object]]:
        """The gRPC channel arguments these options stand for."""
        ka = self.keepalive
        return [
            ("grpc.max_send_message_length", self.max_send_message_length),
            ("grpc.max_receive_message_length", self.max_receive_message_length),
            ("grpc.keepalive_time_ms", ka.time_ms),
            ("grpc.keepalive_timeout_ms", ka.timeout_ms),
            ("grpc.keepalive_permit_without_calls", int(ka.permit_without_calls)),
            ("grpc.http2.max_pings_without_data", ka.max_pings_without_data),
            ("grpc.primary_user_agent", f"labelgate-python/{__version__}"),
            *self.channel_options,
        ]
