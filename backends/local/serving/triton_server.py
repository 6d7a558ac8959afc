"""Starting and supervising the gateway's own `tritonserver` (runtime `triton`, no URL).

The binary is the one in the PyPI wheel `nvidia-pytriton`, installed in a separate virtual
environment (`make triton-venv` → `.venv-triton`: the wheel pins numpy < 2, the gateway
uses numpy 2). What it needs on a CPU machine (docs/operations.md (platform facts) §1):

* a backend directory whose `python/` folder holds `libtriton_python.so`,
  `triton_python_backend_utils.py` and the `triton_python_backend_stub` built for the
  environment's Python (the wheel keeps the stubs aside): made under the work dir;
* `LD_LIBRARY_PATH` = the wheel's `nvidia_pytriton.libs` + that Python's libdir (else the
  stub links the system's libpython); `PATH` starting with the environment's `bin`, so the
  stub's interpreter (and the model's imports: numpy, onnxruntime) come from it;
* `--model-control-mode=explicit`, loopback ports picked here, GPU metrics and pinned
  memory off.

The server runs in its own process group (it and its python-backend stubs), so stopping it
or cleaning up after a crash reaches exactly the processes this module started. When it dies
unexpectedly it is restarted (at most `max_restarts` times per `restart_window_s`) and
`on_restart` reloads the models; past that the failure is reported (`failure`, `on_down`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from labelgate.backends.local.serving.runtime import RuntimeFailure

log = logging.getLogger(__name__)

DEFAULT_VENV = ".venv-triton"
PID_FILE = "tritonserver.pid"
LOG_FILE = "tritonserver.log"


@dataclass(frozen=True)
class TritonInstall:
    """Where the wheel's server lies and what running it needs."""

    venv: Path
    binary: Path
    dist: Path  # site-packages/pytriton/tritonserver
    libs: Path  # site-packages/nvidia_pytriton.libs
    python_version: str  # "3.11": which python_backend_stubs/ to use
    python_libdir: str  # holds the libpython the stub links

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        ld = [str(self.libs), self.python_libdir, env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = ":".join(p for p in ld if p)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return env


def candidate_venvs(venv: Path | str | None = None) -> list[Path]:
    if venv:
        return [Path(venv)]
    # The repository's own layout: .venv (the gateway) beside .venv-triton. Found from the
    # interpreter, not the working directory, so the server may start from anywhere.
    return [Path(sys.prefix).parent / DEFAULT_VENV]


def find_install(venv: Path | str | None = None) -> TritonInstall:
    """Locate the Triton environment; RuntimeFailure says what is missing and how to fix it."""
    tried = []
    for root in candidate_venvs(venv):
        root = root.absolute()
        tried.append(str(root))
        binaries = sorted(
            root.glob("lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver")
        )
        python = root / "bin" / "python3"
        if not binaries or not python.exists():
            continue
        binary = binaries[-1]
        dist = binary.parent.parent
        code = (
            "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); "
            "print(sysconfig.get_config_var('LIBDIR'))"
        )
        try:
            probe = subprocess.run(
                [str(python), "-c", code], capture_output=True, text=True, timeout=30, check=True
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeFailure(f"the Triton environment's python does not run: {exc}") from None
        version, libdir = probe.stdout.split()[:2]
        return TritonInstall(
            venv=root,
            binary=binary,
            dist=dist,
            libs=dist.parent.parent / "nvidia_pytriton.libs",
            python_version=version,
            python_libdir=libdir,
        )
    raise RuntimeFailure(
        "no tritonserver found: create the Triton environment with `make triton-venv` "
        f"or set triton_venv (looked in {', '.join(tried)})"
    )


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    # Triton logs harmless CUDA notices on CPU machines; they only hide the real cause.
    keep = [ln for ln in text if "Cuda" not in ln and "CUDA" not in ln]
    return "\n".join(keep[-lines:])


class TritonServer:
    """One supervised `tritonserver` with its model repository under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        install: TritonInstall | None = None,
        *,
        venv: Path | str | None = None,
        host: str = "127.0.0.1",
        max_restarts: int = 3,
        restart_window_s: float = 300.0,
        ready_timeout_s: float = 60.0,
        stop_timeout_s: float = 15.0,
        on_restart: Callable[[], Awaitable[None]] | None = None,
        on_down: Callable[[str], None] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.repository = self.workdir / "repository"
        self._install = install
        self._venv = venv
        self.host = host
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.on_restart = on_restart
        self.on_down = on_down
        self.grpc_port: int | None = None
        self.metrics_port: int | None = None
        self.failure: str | None = None  # set when the server died and is not coming back
        self.restarts = 0
        self._restart_times: list[float] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    # -- what callers use -----------------------------------------------------------------
    @property
    def url(self) -> str:
        """host:port of the gRPC endpoint (tritonclient's form)."""
        if self.grpc_port is None:
            raise RuntimeFailure("the Triton server is not started")
        return f"{self.host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str | None:
        return f"http://{self.host}:{self.metrics_port}/metrics" if self.metrics_port else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start (or, after a failure, start afresh) and wait until the server is ready."""
        async with self._lock:
            if self.running:
                return
            self.failure = None
            self._stopping = False
            await self._start_process()
            self._monitor = asyncio.create_task(self._watch(), name="tritonserver-monitor")

    async def stop(self) -> None:
        self._stopping = True
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await monitor
        async with self._lock:
            await self._terminate()

    # -- process handling -----------------------------------------------------------------
    async def _start_process(self) -> None:
        if self._install is None:
            self._install = await asyncio.to_thread(find_install, self._venv)
        install = self._install
        await asyncio.to_thread(self._prepare, install)
        self._kill_stale()
        last_error = ""
        for attempt in range(3):  # a picked port may be taken before the server binds it
            if attempt or self.grpc_port is None:
                self.grpc_port, self.metrics_port = free_port(self.host), free_port(self.host)
            logfile = self.workdir / LOG_FILE
            if logfile.exists():
                os.replace(logfile, logfile.with_suffix(".log.1"))
            out = await asyncio.to_thread(open, logfile, "wb")
            with out:
                self._proc = await asyncio.create_subprocess_exec(
                    *self._args(install),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    env=install.env(),
                    cwd=str(self.workdir),
                    start_new_session=True,  # its own process group: it and its stubs
                )
            (self.workdir / PID_FILE).write_text(str(self._proc.pid))
            try:
                await self._wait_ready()
                log.info("tritonserver pid %s ready on %s", self._proc.pid, self.url)
                return
            except RuntimeFailure as exc:
                last_error = str(exc)
                await self._terminate()
                if "already in use" not in last_error:
                    break
        raise RuntimeFailure(f"the Triton server did not start: {last_error}")

    def _prepare(self, install: TritonInstall) -> None:
        """The backend directory with the python backend and the stub for our Python."""
        python = self.workdir / "backends" / "python"
        python.mkdir(parents=True, exist_ok=True)
        self.repository.mkdir(parents=True, exist_ok=True)
        src = install.dist / "backends" / "python"
        stub = install.dist / "python_backend_stubs" / install.python_version
        for path in (src / "libtriton_python.so", src / "triton_python_backend_utils.py",
                     stub / "triton_python_backend_stub"):  # fmt: skip
            if not path.is_file():
                raise RuntimeFailure(f"the Triton environment lacks {path}")
            target = python / path.name
            if not target.exists() or target.stat().st_size != path.stat().st_size:
                shutil.copy2(path, target)

    def _args(self, install: TritonInstall) -> list[str]:
        return [
            str(install.binary),
            f"--model-repository={self.repository}",
            "--model-control-mode=explicit",
            f"--backend-directory={self.workdir / 'backends'}",
            f"--cache-directory={install.dist / 'caches'}",
            "--allow-http=false",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",
            "--exit-timeout-secs=10",
            "--log-verbose=0",
        ]

    async def _wait_ready(self) -> None:
        from tritonclient.grpc.aio import InferenceServerClient

        assert self._proc is not None
        logfile = self.workdir / LOG_FILE
        deadline = time.monotonic() + self.ready_timeout_s
        client = InferenceServerClient(self.url)
        try:
            while True:
                if self._proc.returncode is not None:
                    raise RuntimeFailure(
                        f"tritonserver exited with code {self._proc.returncode}: {_tail(logfile)}"
                    )
                with contextlib.suppress(Exception):
                    if await client.is_server_ready(client_timeout=1.0):
                        return
                if time.monotonic() > deadline:
                    raise RuntimeFailure(
                        f"tritonserver not ready after {self.ready_timeout_s:.0f} s: "
                        f"{_tail(logfile)}"
                    )
                await asyncio.sleep(0.1)
        finally:
            await client.close()

    async def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the server leads its own group
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        # Stubs left behind by a crash belong to the same group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            pid_file = self.workdir / PID_FILE
            if int(pid_file.read_text()) == pgid:  # not a newer server's
                pid_file.unlink()

    def _kill_stale(self) -> None:
        """A server left running by a gateway that crashed, on this very work dir."""
        try:
            pid = int((self.workdir / PID_FILE).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return
        if "tritonserver" in cmdline and str(self.repository) in cmdline:
            log.warning("stopping tritonserver pid %s left by an earlier gateway", pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    async def _watch(self) -> None:
        """Restart the server when it dies (within the budget), else report it."""
        while True:
            proc = self._proc
            if proc is None:
                return
            code = await proc.wait()
            if self._stopping:
                return
            message = f"tritonserver (pid {proc.pid}) exited with code {code}"
            tail = _tail(self.workdir / LOG_FILE, 4)
            log.error("%s%s", message, f": {tail}" if tail else "")
            async with self._lock:
                await self._terminate()  # reap the stubs of the dead server
                now = time.monotonic()
                self._restart_times = [
                    t for t in self._restart_times if now - t < self.restart_window_s
                ]
                if len(self._restart_times) >= self.max_restarts:
                    self.failure = f"{message}; not restarted (restart limit reached)"
                    if self.on_down:
                        self.on_down(self.failure)
                    return
                self._restart_times.append(now)
                self.restarts += 1
                try:
                    await self._start_process()
                except RuntimeFailure as exc:
                    self.failure = f"{message}; restart failed: {exc}"
                    if self.on_down:
                        self.on_down(self.failure)
                    return
            if self.on_restart:
                try:
                    await self.on_restart()
                except Exception:
                    log.exception("reloading models after the tritonserver restart failed")


__all__ = ["DEFAULT_VENV", "TritonInstall", "TritonServer", "find_install"]
