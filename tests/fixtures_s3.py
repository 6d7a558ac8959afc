"""A real S3-protocol endpoint for tests: `moto_server` on a free loopback port.

`moto_s3_server()` starts it in a subprocess, waits until it answers and kills it on exit.
Test modules wrap it in a session fixture (see tests/local/test_blobs.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_command(port: int) -> list[str]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if exe:
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@contextmanager
def moto_s3_server(timeout: float = 30.0) -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server; it is killed afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(
        _moto_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means the server is up
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
