"""Background jobs keyed by resource: one runner per resource, a thread pool of their own.

Dataset imports and training jobs run the same way: the request commits the pending job to
the store and returns; a runner task here does the blocking work in a worker thread. The
store, not this object, is the record of what is pending, so `close()` may stop runners
between steps and the service's `resume()` restarts them at the next start.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class JobInterrupted(Exception):
    """The service is stopping; the job stays pending and runs again at the next start."""


class BackgroundJobs:
    """Runs `start(key, runner)` tasks, at most one per key.

    Starting a key whose runner is still going marks it to run once more when it ends,
    so a job committed while the previous one finishes is never missed.
    """

    def __init__(self, name: str, max_threads: int) -> None:
        self._name = name
        self._max_threads = max_threads
        # Set by close(); long jobs poll it between steps and raise JobInterrupted.
        self.stop = threading.Event()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        # Jobs get threads of their own: a long import or validation must not hold the
        # default executor's threads that every request's `db.run` needs.
        self._executor: ThreadPoolExecutor | None = None

    def open(self) -> None:
        """Accept jobs again after close() (the backend is starting)."""
        self.stop.clear()

    def start(self, key: int, runner: Callable[[], Awaitable[None]]) -> None:
        if self.stop.is_set():
            return  # the job stays pending in the store and resumes at the next start
        if key in self._tasks:
            self._again.add(key)
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._run(key, runner), name=f"{self._name}-{key}"
        )

    async def _run(self, key: int, runner: Callable[[], Awaitable[None]]) -> None:
        try:
            while True:
                self._again.discard(key)
                await runner()
                # No await between this check and the pop below, so start() either sees
                # this runner and flags it, or sees none and starts another.
                if key not in self._again or self.stop.is_set():
                    return
        finally:
            self._tasks.pop(key, None)
            self._again.discard(key)

    async def in_thread(self, fn: Callable[..., T], *args: object) -> T:
        """Run blocking job work on the jobs' own threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_threads, thread_name_prefix=self._name)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        """Signal stop and wait for the runners (each stops at its next check)."""
        self.stop.set()
        running = list(self._tasks.values())
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def wait_idle(self) -> None:
        """Wait until no job runs (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))
