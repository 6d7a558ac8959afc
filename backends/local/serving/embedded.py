"""The `embedded` runtime: one ONNX Runtime worker process per inference unit.

Each unit is `python -m labelgate.backends.local.serving.embedded_worker` holding one
session with `threads_per_unit` intra-op threads, so a unit is a bounded share of the CPU
and a crashing model takes down one unit, never the gateway. A unit runs one request at a
time; requests go to the unit with the fewest in flight (ties: round robin). Admission
control (how many may wait) is the serving service's job, not this module's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelgate.backends.local.core.processes import wait_or_kill
from labelgate.backends.local.inference.card import ModelCard
from labelgate.backends.local.serving.embedded_worker import HEADER
from labelgate.backends.local.serving.runtime import Deployment, RuntimeFailure

log = logging.getLogger(__name__)

WORKER_MODULE = "labelgate.backends.local.serving.embedded_worker"
START_TIMEOUT_S = 120.0


@dataclass
class _Unit:
    process: asyncio.subprocess.Process
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    in_flight: int = 0
    dead: bool = False

    async def call(self, message: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(HEADER.pack(len(data)) + data)
        await self.process.stdin.drain()
        return await self.receive()

    async def receive(self) -> Any:
        assert self.process.stdout is not None
        header = await self.process.stdout.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        return pickle.loads(await self.process.stdout.readexactly(size))

    async def close(self, grace_s: float = 5.0) -> None:
        self.dead = True
        process = self.process
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()  # the worker exits at end of input
            await wait_or_kill(process, grace_s)


@dataclass
class _Pool:
    deployment: Deployment
    units: list[_Unit]
    turn: itertools.count = field(default_factory=itertools.count)


class EmbeddedRuntime:
    """ONNX Runtime sessions in worker processes, one per inference unit."""

    name = "embedded"

    def __init__(self, *, python: str = sys.executable,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self._python = python
        self._start_timeout_s = start_timeout_s
        self._pools: dict[str, _Pool] = {}

    # -- the Runtime protocol ------------------------------------------------------------

    async def load(self, deployment: Deployment) -> None:
        if deployment.key in self._pools:
            await self.unload(deployment.key)
        units = await self._spawn(deployment, deployment.units)
        self._pools[deployment.key] = _Pool(deployment, units)

    async def scale(self, key: str, units: int) -> None:
        pool = self._pool(key)
        units = max(1, units)
        live = [u for u in pool.units if not u.dead]
        if units > len(live):
            live += await self._spawn(pool.deployment, units - len(live))
        elif units < len(live):
            # Retire the least busy units; they finish what they hold (the lock) first.
            live.sort(key=lambda u: u.in_flight)
            retired, live = live[: len(live) - units], live[len(live) - units:]
            for unit in retired:
                unit.dead = True  # no new work from now on
            asyncio.get_running_loop().create_task(self._retire(retired))
        pool.units = live

    async def infer(self, key: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        pool = self._pool(key)
        unit = self._pick(pool)
        unit.in_flight += 1
        try:
            async with unit.lock:
                if unit.dead and unit.process.returncode is not None:
                    raise RuntimeFailure("the inference unit stopped")
                try:
                    status, payload = await unit.call(dict(inputs))
                except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
                    unit.dead = True
                    asyncio.get_running_loop().create_task(self._replace(key, unit))
                    raise RuntimeFailure("the inference unit stopped unexpectedly") from None
        finally:
            unit.in_flight -= 1
        if status != "ok":
            raise RuntimeFailure(f"the model failed on this image: {payload}")
        return payload

    async def unload(self, key: str) -> None:
        pool = self._pools.pop(key, None)
        if pool is not None:
            await asyncio.gather(*(u.close() for u in pool.units), return_exceptions=True)

    async def close(self) -> None:
        for key in list(self._pools):
            await self.unload(key)

    # -- extensions ------------------------------------------------------------------------

    def units(self, key: str) -> int:
        """Units of `key` able to take work now."""
        pool = self._pools.get(key)
        return 0 if pool is None else sum(1 for u in pool.units if not u.dead)

    # -- internals --------------------------------------------------------------------------

    def _pool(self, key: str) -> _Pool:
        pool = self._pools.get(key)
        if pool is None:
            raise RuntimeFailure(f"deployment {key} is not loaded")
        return pool

    @staticmethod
    def _pick(pool: _Pool) -> _Unit:
        live = [u for u in pool.units if not u.dead]
        if not live:
            raise RuntimeFailure("no inference unit is in service")
        start = next(pool.turn) % len(live)
        ordered = live[start:] + live[:start]
        return min(ordered, key=lambda u: u.in_flight)

    async def _spawn(self, deployment: Deployment, count: int) -> list[_Unit]:
        try:
            card = ModelCard.load(deployment.model_dir)
        except ValueError as exc:
            raise RuntimeFailure(str(exc)) from None
        onnx_path = deployment.model_dir / card.onnx_file
        if not onnx_path.is_file():
            raise RuntimeFailure(f"the model bundle has no {card.onnx_file}")
        results = await asyncio.gather(
            *(self._start_unit(str(onnx_path), deployment.threads_per_unit)
              for _ in range(count)),
            return_exceptions=True,
        )
        units = [r for r in results if isinstance(r, _Unit)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await asyncio.gather(*(u.close() for u in units), return_exceptions=True)
            error = failures[0]
            if isinstance(error, RuntimeFailure):
                raise error
            raise RuntimeFailure(f"could not start an inference unit: {error}") from None
        return units

    async def _start_unit(self, onnx_path: str, threads: int) -> _Unit:
        process = await asyncio.create_subprocess_exec(
            self._python, "-m", WORKER_MODULE, onnx_path, str(max(1, threads)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        unit = _Unit(process)
        try:
            status, payload = await asyncio.wait_for(unit.receive(), self._start_timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError):
            await unit.close(grace_s=0.5)
            raise RuntimeFailure("an inference unit did not start") from None
        except BaseException:  # cancelled (the model was stopped while starting)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        if status != "ready":
            await unit.close(grace_s=0.5)
            raise RuntimeFailure(str(payload))
        return unit

    async def _retire(self, units: list[_Unit]) -> None:
        for unit in units:
            async with unit.lock:
                await unit.close()

    async def _replace(self, key: str, unit: _Unit) -> None:
        """A unit died: start another in its place (AWS restarts a failed IU in place)."""
        await unit.close(grace_s=0.5)
        pool = self._pools.get(key)
        if pool is None or unit not in pool.units:
            return
        log.warning("deployment %s: an inference unit exited; starting a new one", key)
        try:
            (new,) = await self._spawn(pool.deployment, 1)
        except RuntimeFailure:
            log.exception("deployment %s: could not replace an inference unit", key)
            return
        if self._pools.get(key) is pool and unit in pool.units:
            pool.units[pool.units.index(unit)] = new
        else:
            await new.close()


__all__ = ["WORKER_MODULE", "EmbeddedRuntime"]
