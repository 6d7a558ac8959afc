"""A moto_server that a test can stop while the gateway uses it (an S3 outage), and that
serves any number of requests.

`tests.fixtures_s3.moto_s3_server` keeps the server's stderr in a pipe it reads only when
the server fails to start; werkzeug logs one line per request there, so after ~900 requests
the pipe is full and the server hangs (every later call times out). The whole-story tests
make thousands of requests, so this server logs to a file instead.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.fixtures_s3 import _free_port, _moto_command

START_TIMEOUT_S = 30.0


@dataclass
class StoppableS3:
    url: str
    port: int
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server now (idempotent): later requests find nothing listening."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def stoppable_s3_server(port: int | None = None) -> Iterator[StoppableS3]:
    """A fresh server on `port` (a free one when None); an outage test passes the port of
    the server it stopped, to bring the store back (empty: moto keeps objects in memory)."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(_moto_command(port), stdout=subprocess.DEVNULL, stderr=log,
                                   env={**os.environ, **env})
        server = StoppableS3(url, port, process)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"moto_server exited: {log.read().decode()[-2000:]}")
                try:
                    urllib.request.urlopen(f"{url}/", timeout=1).close()
                    break
                except urllib.error.HTTPError:
                    break  # any HTTP answer means the server is up
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server did not answer on {url}") from None
                    time.sleep(0.1)
            yield server
        finally:
            server.stop()
