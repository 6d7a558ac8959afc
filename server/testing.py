"""A real gateway on loopback for tests: `with running_gateway() as gw: dial(gw.address)`.

The gateway runs on its own event loop in a background thread, so tests stay synchronous
and can use the plain (sync) gRPC client. It binds free ports, keeps its data in a fresh
temporary directory unless told otherwise, surfaces start-up exceptions in the test, and
always stops and joins the thread on exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelgate.backends.base import Backend
from labelgate.server.app import Gateway
from labelgate.server.config import EPHEMERAL_METRICS_PORT, Settings, dial_address

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunningGateway:
    address: str  # "127.0.0.1:PORT", ready to dial
    port: int
    metrics_port: int | None  # None when metrics were turned off
    gateway: Gateway
    loop: asyncio.AbstractEventLoop
    data_dir: Path

    @property
    def metrics_url(self) -> str:
        return f"http://{self.gateway.settings.metrics_host}:{self.metrics_port}/metrics"

    def run_on_loop(self, coro: Any, timeout: float = STOP_TIMEOUT_S) -> Any:
        """Run a coroutine on the gateway's loop (e.g. poke a backend) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _test_settings(settings: Settings | None, overrides: dict[str, Any], data_dir: Path | None
                   ) -> Settings:
    # Free ports always (unless overridden): tests run in parallel and beside a dev server.
    changes: dict[str, Any] = {"host": "127.0.0.1", "port": 0,
                               "metrics_port": EPHEMERAL_METRICS_PORT}
    if settings is None:
        settings = Settings(shutdown_grace_seconds=1.0, data_dir=data_dir or Path("."))
    changes.update({k: v for k, v in overrides.items() if v is not None})
    return settings.replace(**changes)


@contextmanager
def running_gateway(
    settings: Settings | None = None,
    *,
    backends: Mapping[str, Backend] | None = None,
    start_timeout: float = START_TIMEOUT_S,
    stop_timeout: float = STOP_TIMEOUT_S,
    **overrides: Any,
) -> Iterator[RunningGateway]:
    """Start a Gateway in a background thread; yield once it is SERVING; stop it on exit.

    It always listens on 127.0.0.1 with a free gRPC port and a free metrics port. Without
    `settings` it also uses a 1 s shutdown grace and a temporary data_dir removed afterwards.
    `overrides` are Settings fields applied last (`metrics_port=0` turns metrics off).
    `backends` injects backend objects instead of loading the configured ones.
    """
    tmp: Path | None = None
    if settings is None and overrides.get("data_dir") is None:
        tmp = Path(tempfile.mkdtemp(prefix="labelgate-test-"))
    try:
        resolved = _test_settings(settings, overrides, tmp)
        gateway = Gateway(resolved, backends=backends)
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        boot = loop.create_task(gateway.start())
        boot.add_done_callback(lambda t: _settle(started, t))

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot)
            except BaseException:
                # Start failed or was cancelled; Gateway.start already released what it held.
                loop.close()
                return
            loop.run_forever()  # until stop below; then the loop is closed here
            _drain(loop)
            loop.close()

        thread = threading.Thread(target=serve, name="labelgate-test-gateway", daemon=True)
        thread.start()
        try:
            started.result(start_timeout)
        except concurrent.futures.TimeoutError:
            loop.call_soon_threadsafe(boot.cancel)  # start() cleans up after itself
            thread.join(stop_timeout)
            raise TimeoutError(f"gateway did not start within {start_timeout} s") from None
        except BaseException:
            thread.join(stop_timeout)
            raise
        assert gateway.port is not None
        try:
            yield RunningGateway(
                address=dial_address(gateway.settings.host, gateway.port),
                port=gateway.port,
                metrics_port=gateway.metrics_port,
                gateway=gateway,
                loop=loop,
                data_dir=resolved.data_dir,
            )
        finally:
            _stop(loop, gateway, thread, stop_timeout)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _settle(started: concurrent.futures.Future[None], boot: asyncio.Task[None]) -> None:
    if boot.cancelled():
        started.cancel()
    elif boot.exception() is not None:
        started.set_exception(boot.exception())
    else:
        started.set_result(None)


def _stop(loop: asyncio.AbstractEventLoop, gateway: Gateway, thread: threading.Thread,
          timeout: float) -> None:
    if not loop.is_closed():
        # Queued even if the thread has not entered run_forever yet; runs as soon as it does.
        future = asyncio.run_coroutine_threadsafe(gateway.stop(), loop)
        try:
            future.result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"gateway thread did not exit within {timeout} s")


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the gateway left running so closing the loop does not warn."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
