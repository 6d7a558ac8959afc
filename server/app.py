"""The gateway process: backends, gRPC server, health, reflection, metrics, lifecycle.

Start order is chosen for orchestrators: the port is bound and health answers NOT_SERVING
while backends start (a slow migration is visible, not a refused connection), then SERVING.
Stop is the reverse: NOT_SERVING first so load balancers drain, in-flight calls get the grace
period, then backends stop, then /metrics goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

import labelgate
from labelgate import aws_model
from labelgate.backends.base import Backend, load_backend
from labelgate.server.access import GatewayAuthenticator
from labelgate.server.aws_front import AwsJsonFront
from labelgate.server.config import EPHEMERAL_METRICS_PORT, Settings
from labelgate.server.dispatch import Dispatcher
from labelgate.server.identity.bootstrap import ensure_first_account
from labelgate.server.identity.directory import Directory, default_url
from labelgate.server.identity.key_vault import KeyVault, load_or_create_master_key
from labelgate.server.logging import configure_logging
from labelgate.server.metrics import GatewayMetrics, MetricsServer
from labelgate.server.router import Router
from labelgate.server.servicer import SERVICE_NAME, CustomLabelsServicer

#: The identity directory's master key, in the data directory (key_vault.py).
MASTER_KEY_FILE = "master.key"

log = logging.getLogger("labelgate.server")

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Gateway:
    """One labelgate gateway. Use `start()`/`stop()` or `serve_forever()` inside an event loop.

    `backends` injects ready-made backend objects (tests, embedding) instead of loading the
    ones named in `settings.backends` through the entry points. Not thread-safe: drive it from
    the loop it was started on.
    """

    def __init__(self, settings: Settings | None = None, *,
                 backends: Mapping[str, Backend] | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self._injected = dict(backends) if backends is not None else None
        self.backends: dict[str, Backend] = {}
        self.metrics = GatewayMetrics()
        self.health = health.aio.HealthServicer()
        self.router: Router | None = None
        self.dispatcher: Dispatcher | None = None
        self.port: int | None = None  # bound gRPC port, known after start()
        self.metrics_port: int | None = None  # bound /metrics port, None when off
        self._server: aio.Server | None = None
        self._metrics_server: MetricsServer | None = None
        self._aws_front: AwsJsonFront | None = None
        self.aws_port: int | None = None  # bound AWS-compatible HTTP port, None when off
        self._started: list[Backend] = []
        self._stopped = False
        self.directory: Directory | None = None

    @property
    def address(self) -> str:
        """`host:port` clients dial, with the bound port."""
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{self.port}"

    def _load_backends(self) -> dict[str, Backend]:
        if self._injected is not None:
            return self._injected
        data_dir = self.settings.data_dir
        return {name: load_backend(name, table, data_dir=data_dir)
                for name, table in self.settings.backends.items()}

    async def start(self) -> None:
        """Bind, answer health NOT_SERVING, start backends, then SERVING. Raises on failure
        after releasing whatever it had already started."""
        try:
            await self._start()
        except BaseException:
            await self.stop(0)
            raise

    async def _start(self) -> None:
        s = self.settings
        self.backends = self._load_backends()
        self.router = Router(self.backends, s.default_backend)
        self.directory = open_directory(s) if s.auth == "required" else None
        self.dispatcher = Dispatcher(self.router, self.metrics,
                                     authenticator=GatewayAuthenticator(
                                         s.aws_access_keys, directory=self.directory))
        for backend in self.backends.values():
            register = getattr(backend, "register_metrics", None)
            if register is not None:
                register(self.metrics.registry)

        for service in ("", SERVICE_NAME):
            await self.health.set(service, _NOT_SERVING)
        self._server = server = aio.server(
            options=[
                ("grpc.max_receive_message_length", s.max_message_bytes),
                ("grpc.max_send_message_length", s.max_message_bytes),
                # grpc turns SO_REUSEPORT on by default on Linux, which lets a second
                # gateway bind a busy port silently and steal half its calls.
                ("grpc.so_reuseport", 0),
            ],
        )
        CustomLabelsServicer(self.dispatcher).add_to_server(server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        try:
            self.port = server.add_insecure_port(s.address)
        except RuntimeError as e:  # grpc raises RuntimeError when it cannot bind
            raise OSError(f"cannot listen on {s.address}: {e}") from None
        await server.start()

        if s.metrics_port != 0:
            port = 0 if s.metrics_port == EPHEMERAL_METRICS_PORT else s.metrics_port
            self._metrics_server = MetricsServer(self.metrics.registry, s.metrics_host, port)
            self.metrics_port = self._metrics_server.port

        if s.aws_port != 0:
            self._aws_front = AwsJsonFront(
                self.dispatcher,
                max_body_bytes=s.max_message_bytes * 2,  # base64 grows blobs by a third
            )
            self.aws_port = await self._aws_front.start(
                s.aws_host, 0 if s.aws_port == EPHEMERAL_METRICS_PORT else s.aws_port
            )

        # Load botocore's API model now (~0.3 s) rather than on the first call's clock.
        await asyncio.to_thread(aws_model.service_model)
        for name, backend in self.backends.items():
            log.info("starting backend %s", name)
            await backend.start()
            self._started.append(backend)
        # Every backend has a handler (or an explicit "unimplemented") for every operation,
        # or the gateway does not start: no caller meets a missing method.
        self.router.bind()
        self.router.ready = True
        for service in ("", SERVICE_NAME):
            await self.health.set(service, _SERVING)
        log.info(
            "labelgate %s serving on %s (metrics %s, AWS front %s, backends %s, default %s)",
            labelgate.__version__, self.address,
            f"http://{s.metrics_host}:{self.metrics_port}/metrics" if self.metrics_port else "off",
            f"http://{s.aws_host}:{self.aws_port}" if self.aws_port else "off",
            ", ".join(self.backends), s.default_backend,
        )

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, finish in-flight calls for up to `grace` seconds, stop backends,
        close /metrics. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self.router is not None:
            self.router.ready = False
        await self.health.enter_graceful_shutdown()
        if self._aws_front is not None:
            await self._aws_front.close()
            self._aws_front = None
        if self._server is not None:
            if self.port:
                log.info("stopping: draining calls for up to %.1f s", grace)
            await self._server.stop(grace)
        for backend in reversed(self._started):
            try:
                await backend.stop()
            except Exception:
                # One backend failing to stop must not keep the others from stopping.
                log.exception("backend %s failed to stop cleanly", backend.name)
        self._started.clear()
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        if self.directory is not None:
            self.directory.close()
        log.info("labelgate stopped")

    async def serve_forever(self) -> None:
        """Start if needed and wait until the server terminates (after `stop()`)."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.wait_for_termination()


async def _serve_until_signalled(settings: Settings) -> None:
    gateway = Gateway(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not possible off the main thread; then Ctrl-C still raises KeyboardInterrupt and
        # the finally below stops the gateway.
        with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, _on_signal, sig, stop)
            installed.append(sig)
    try:
        # A signal during start (a long migration, say) must not wait for start to finish.
        starting = asyncio.ensure_future(gateway.start())
        signalled = asyncio.ensure_future(stop.wait())
        await asyncio.wait((starting, signalled), return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting  # re-raises a start failure
        await signalled
    finally:
        # Handlers stay installed while stopping, so a second signal forces the exit.
        await gateway.stop(settings.shutdown_grace_seconds)
        for sig in installed:
            loop.remove_signal_handler(sig)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        log.warning("received %s again, exiting without waiting for calls to finish", sig.name)
        logging.shutdown()
        os._exit(128 + sig.value)
    log.info("received %s, shutting down", sig.name)
    stop.set()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def exposure_warnings(settings: Settings) -> list[str]:
    """What an operator must know when the API is reachable beyond this machine: the gRPC
    API has no authentication yet, and the AWS front checks signatures only with keys."""
    warnings = []
    if settings.host not in LOOPBACK_HOSTS and settings.auth == "off":
        warnings.append(f"the gRPC API listens on {settings.address} without authentication: "
                        "anyone who can reach it can use every operation; keep it on a trusted "
                        "network")
    if settings.aws_port and settings.aws_host not in LOOPBACK_HOSTS \
            and not settings.aws_access_keys and settings.auth == "off":
        warnings.append(f"the AWS-compatible API listens on {settings.aws_host} without "
                        "[aws_access_keys]: signatures are not checked")
    return warnings


def open_directory(settings: Settings) -> Directory:
    """The identity directory, with the first account made on an empty one."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    vault = KeyVault(load_or_create_master_key(settings.data_dir / MASTER_KEY_FILE))
    directory = Directory(settings.identity_database_url or default_url(settings.data_dir),
                          vault)
    ensure_first_account(directory, settings.data_dir)
    return directory


def run(settings: Settings) -> None:
    """Blocking entry point: configure logging, serve until SIGTERM/SIGINT, stop gracefully.

    Returns after a clean stop. When the gateway cannot start (port taken, backend failing),
    logs why and raises SystemExit(1), so command-line callers need no handling of their own.
    """
    configure_logging(settings.log_level, settings.log_format)
    log.info("labelgate %s starting on %s", labelgate.__version__, settings.address)
    for warning in exposure_warnings(settings):
        log.warning("%s", warning)
    try:
        asyncio.run(_serve_until_signalled(settings))
    except (OSError, ValueError) as e:  # bind failures, bad backend config: say it plainly
        log.error("labelgate could not start: %s", e)
        raise SystemExit(1) from None
    except Exception:
        log.exception("labelgate failed")
        raise SystemExit(1) from None


__all__ = ["Gateway", "run"]

