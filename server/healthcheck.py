"""`python -m labelgate.server.healthcheck [ADDRESS]`: exit 0 when the gateway answers SERVING.

For container HEALTHCHECKs and scripts. The address defaults to the one the gateway itself
would bind from the same settings (`LABELGATE_PORT`, ...), a wildcard host dialled on
loopback (`config.dial_address`), so the check follows the configuration instead of
repeating it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labelgate.server.config import ConfigError, dial_address, load_settings

TIMEOUT_S = 3.0


def default_address() -> str:
    settings = load_settings()
    return dial_address(settings.host, settings.port)


def check(address: str, timeout: float = TIMEOUT_S) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        address = args[0] if args else default_address()
    except ConfigError as e:
        print(f"labelgate healthcheck: {e}", file=sys.stderr)
        return 1  # Docker reserves 2; any failure is "unhealthy"
    healthy = check(address)
    print(f"{address}: {'SERVING' if healthy else 'not serving'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
