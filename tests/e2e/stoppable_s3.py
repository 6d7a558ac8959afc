"""A moto_server that a test can stop while the gateway uses it (an S3 outage) and start
again on the same port."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.fixtures_s3 import _free_port, _moto_command, started_moto, stop_moto

START_TIMEOUT_S = 30.0


@dataclass
class StoppableS3:
    url: str
    port: int
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server now (idempotent): later requests find nothing listening."""
        stop_moto(self.process)


@contextmanager
def stoppable_s3_server(port: int | None = None) -> Iterator[StoppableS3]:
    """A fresh server on `port` (a free one when None); an outage test passes the port of
    the server it stopped, to bring the store back (empty: moto keeps objects in memory)."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with started_moto(_moto_command(port), url, env, START_TIMEOUT_S) as process:
        server = StoppableS3(url, port, process)
        yield server
