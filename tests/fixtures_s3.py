"""A real S3-protocol endpoint for tests: `moto_server` on a free loopback port.

`moto_s3_server()` starts it in a subprocess, waits until it answers and kills it on exit.
Test modules wrap it in a session fixture (see tests/local/test_blobs.py).

Each server is its own process, so moto's process-wide settings (IAM enforcement, see
`enforce_iam`) never leak from one test module's server into another's.
`moto_s3_server(per_account_bucket_owners=True)` runs the labelled test shim
tests/moto_bucket_owners.py instead of plain moto_server (GetBucketAcl names each bucket's
account as its owner; plain moto hard-codes one owner).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_command(port: int, *, per_account_bucket_owners: bool = False) -> list[str]:
    if per_account_bucket_owners:
        shim = Path(__file__).with_name("moto_bucket_owners.py")
        return [sys.executable, str(shim), "-H", "127.0.0.1", "-p", str(port)]
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if exe:
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@contextmanager
def moto_s3_server(
    timeout: float = 30.0,
    *,
    env: Mapping[str, str] | None = None,
    per_account_bucket_owners: bool = False,
) -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server; it is killed afterwards. `env` is
    added to the server process's environment (moto reads its settings from there)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", **(env or {})}
    command = _moto_command(port, per_account_bucket_owners=per_account_bucket_owners)
    with started_moto(command, url, full_env, timeout):
        yield url


@contextmanager
def started_moto(command: list[str], url: str, env: Mapping[str, str],
                 timeout: float = 30.0) -> Iterator[subprocess.Popen]:
    """Run `command` (a moto server for `url`) until it answers; stop it on exit."""
    # The server logs a line per request: to a file, since a pipe nobody reads fills up
    # (after ~900 requests) and then hangs the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=dict(env))
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
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
            yield proc
        finally:
            stop_moto(proc)


def stop_moto(proc: subprocess.Popen) -> None:
    """Stop a moto server now; nothing more happens when it has already stopped."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def enforce_iam(url: str, enforced: bool = True) -> None:
    """Turn moto's IAM authentication and authorization on (or off) for every later request.

    This is moto's INITIAL_NO_AUTH_ACTION_COUNT setting (the number of requests served
    before signatures and IAM policies are checked), set through the server's own
    `/moto-api/reset-auth` endpoint, which also zeroes the request counter: the switch
    happens at a known point instead of after counting the setup's requests. Once on, a
    request must be signed with the access key of an IAM user (or assumed role) of the
    account and is refused (403) unless that identity's policies allow the action;
    unknown access keys, like the default `testing`, are refused too.
    """
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth", data=b"0" if enforced else b"inf", method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would hide the body
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
