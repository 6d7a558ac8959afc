"""A `labelgate.server` subprocess for benchmarks: the real gateway, as an operator runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labelgate.client import Client


@dataclass(frozen=True)
class GatewayProcess:
    address: str
    pid: int
    data_dir: Path

    def blob_path(self, bucket: str, key: str) -> Path:
        """Where the local blob store keeps `s3://bucket/key`."""
        return self.data_dir / "s3" / bucket / key


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway_process(data_dir: Path, *, config: Path | None = None,
                    env: dict[str, str] | None = None,
                    log: Path | None = None) -> Iterator[GatewayProcess]:
    """Start the gateway on a free port, wait until it answers, SIGTERM it at the end.

    The caller's LABELGATE_* variables are dropped so a developer's settings do not leak
    into a measurement; pass what the benchmark needs in `env` or `config`.
    """
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LABELGATE_")}
    clean.update(env or {})
    argv = [sys.executable, "-m", "labelgate.server", "--port", str(port),
            "--metrics-port", "0", "--data-dir", str(data_dir), "--log-level", "WARNING"]
    if config is not None:
        argv += ["--config", str(config)]
    sink = log.open("ab") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(argv, env=clean, stdout=sink, stderr=sink)
    address = f"127.0.0.1:{port}"
    try:
        with Client(address) as client:
            for _ in range(600):
                try:
                    client.describe_projects()
                    break
                except Exception:
                    if server.poll() is not None:
                        raise RuntimeError(f"the gateway exited with {server.returncode}") from None
                    time.sleep(0.1)
        yield GatewayProcess(address=address, pid=server.pid, data_dir=Path(data_dir))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        if log is not None:
            sink.close()
