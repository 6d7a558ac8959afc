"""The gateway's Prometheus metrics and their /metrics HTTP endpoint.

Each gateway owns a CollectorRegistry instead of the process-global one, so tests can run
several gateways in one process and backends can add their own series to the same page
(a backend with `register_metrics(registry)` is handed it before start).
"""

from __future__ import annotations

import platform
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

import labelgate

# Unary control calls take milliseconds; DetectCustomLabels on CPU can take a second or two.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    """Request count and latency per RPC and backend, plus build info."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "labelgate_requests", "gRPC requests handled, by method, backend and status code.",
            ["method", "backend", "code"], registry=self.registry,
        )
        self.duration = Histogram(
            "labelgate_request_duration_seconds", "Time to handle a gRPC request.",
            ["method", "backend"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.stream_messages = Counter(
            "labelgate_stream_messages",
            "Messages sent on server-streaming calls (the extensions), by method and backend.",
            ["method", "backend"], registry=self.registry,
        )
        self.build_info = Gauge(
            "labelgate_build_info", "Always 1; labels say which labelgate is running.",
            ["version", "python"], registry=self.registry,
        )
        self.build_info.labels(labelgate.__version__, platform.python_version()).set(1)

    def observe(self, method: str, backend: str, code: str, seconds: float) -> None:
        self.requests.labels(method, backend, code).inc()
        self.duration.labels(method, backend).observe(seconds)

    def streamed(self, method: str, backend: str) -> None:
        self.stream_messages.labels(method, backend).inc()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # scrapes every few seconds would drown the structured log


class MetricsServer:
    """/metrics over HTTP in a daemon thread; port 0 binds a free port (see `.port`).

    prometheus_client's start_http_server would do, except that its serve loop polls every
    0.5 s, which every stop() (and so every test gateway) would wait out.
    """

    POLL_INTERVAL_S = 0.05

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        server_class = type("MetricsHTTPServer", (ThreadingWSGIServer,), {
            "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET,
        })
        self._httpd = make_server(host, port, make_wsgi_app(registry), server_class,
                                  handler_class=_QuietHandler)
        self.host = host
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(self.POLL_INTERVAL_S,),
            name="labelgate-metrics", daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
