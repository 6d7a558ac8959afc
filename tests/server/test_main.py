"""`python -m labelgate.server` as an operator runs it: serve, scrape, SIGTERM, exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labelgate.server.__main__ import parse_args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(address: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"gateway at {address} did not become SERVING in {timeout} s")


@pytest.mark.slow
def test_sigterm_stops_the_server_gracefully(tmp_path):
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELGATE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelgate.server", "--port", str(port),
         "--metrics-port", str(metrics_port), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        wait_serving(f"127.0.0.1:{port}", proc)
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"labelgate_build_info" in response.read()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    # stderr is not a terminal, so the log is JSON lines.
    messages = [json.loads(line)["message"] for line in stderr.splitlines() if line.strip()]
    assert any(f"127.0.0.1:{port}" in m and "serving on" in m for m in messages), messages
    assert any("SIGTERM" in m for m in messages)
    assert messages[-1] == "labelgate stopped"
    assert (tmp_path / "data").is_dir()


def test_bad_config_exits_2_with_the_reason(tmp_path, capsys):
    from labelgate.server.__main__ import main

    config = tmp_path / "bad.toml"
    config.write_text("prot = 1\n")
    assert main(["--config", str(config)]) == 2
    assert "labelgate: prot: unknown setting" in capsys.readouterr().err


def test_cli_options_map_to_settings():
    args = parse_args(["--host", "0.0.0.0", "--port", "0", "--data-dir", "d",
                       "--metrics-port", "0", "--config", "c.toml"])
    assert (args.host, args.port, str(args.data_dir), args.metrics_port, str(args.config)) == (
        "0.0.0.0", 0, "d", 0, "c.toml")
    assert parse_args([]).port is None  # unset options never override file or environment
