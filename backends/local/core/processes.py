"""Worker processes: how one is started, stopped, and recognised after a gateway restart.

A worker is `python -m labelgate.backends.local.training.worker <jobdir>/job.json` in its
own session (a Ctrl-C meant for the gateway does not reach it; the gateway stops it
itself), with the BLAS/OpenMP thread pools capped so several jobs and the gateway share the
machine predictably.

A gateway that died leaves its worker running. Its pid and host are in the store; the next
gateway stops it only if the process still runs a worker on that same job file (the pid may
belong to anything by now): Linux's /proc/<pid>/cmdline says so. Elsewhere, without /proc,
a stale worker is left alone (and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

WORKER_MODULE = "labelgate.backends.local.training.worker"
#: The thread-pool variables of OpenMP, MKL, OpenBLAS, numexpr and friends.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def this_host() -> str:
    return socket.gethostname()


def worker_command(job_path: Path, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", WORKER_MODULE, str(job_path)]


def worker_environment(threads: int | None, base: dict[str, str] | None = None
                       ) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    count = str(threads or os.cpu_count() or 1)
    for name in _THREAD_VARIABLES:
        env[name] = count
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")  # the report's plots; a server has no display
    return env


def _cmdline(pid: int) -> list[str] | None:
    """The process's arguments; None when it does not exist (or is a zombie), or /proc is
    not there to ask."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part] or None


def is_worker_for(pid: int, job_path: Path) -> bool:
    """True when `pid` is a live worker running on `job_path`."""
    args = _cmdline(pid)
    return bool(args) and WORKER_MODULE in args and str(job_path) in args


def _gone(pid: int) -> bool:
    """Reap `pid` if it happens to be our own child (never blocks); True once it is gone."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return _cmdline(pid) is None


def _has_proc() -> bool:
    return os.path.isdir("/proc")


async def stop_stale_worker(pid: int, host: str | None, job_path: Path, *,
                            grace_s: float = 5.0) -> bool:
    """Stop a worker a previous gateway left running; True if one was stopped."""
    if host is not None and host != this_host():
        log.warning("a training worker (pid %s) was started on host %s; it is not ours to "
                    "stop from %s", pid, host, this_host())
        return False
    if not _has_proc():
        log.warning("cannot tell whether pid %s is a stale training worker (no /proc); "
                    "leaving it alone", pid)
        return False
    if not is_worker_for(pid, job_path):
        return False
    log.warning("stopping training worker %s left behind by a previous gateway", pid)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if _gone(pid):
                return True
            await asyncio.sleep(0.05)
    log.error("training worker %s did not stop", pid)
    return True


async def terminate(process: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; returns once the process has exited."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    await wait_or_kill(process, grace_s)


async def wait_or_kill(process: asyncio.subprocess.Process, grace_s: float) -> None:
    """Wait up to `grace_s` for the process to exit (it was asked to), then SIGKILL it."""
    try:
        await asyncio.wait_for(process.wait(), grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def signal_name(number: int) -> str | None:
    """`SIGKILL` for 9; None for a number that names no signal."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def describe_exit(returncode: int) -> str:
    """`exited with code 1` / `was killed by signal SIGKILL (9)`."""
    if returncode < 0:
        name = signal_name(-returncode) or "signal"
        return f"was killed by signal {name} ({-returncode})"
    return f"exited with code {returncode}"


__all__ = [
    "WORKER_MODULE",
    "describe_exit",
    "is_worker_for",
    "signal_name",
    "stop_stale_worker",
    "terminate",
    "this_host",
    "wait_or_kill",
    "worker_command",
    "worker_environment",
]
