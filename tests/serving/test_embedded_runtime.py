"""EmbeddedRuntime on its own: worker processes per unit, scaling, a crashed unit replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from labelgate.backends.local.serving.embedded import EmbeddedRuntime
from labelgate.backends.local.serving.runtime import Deployment, RuntimeFailure
from tests.serving.conftest import classifier_files

RED = np.array([[220, 30, 30]], np.float32) / 255


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    classifier_files(tmp_path, {})
    return tmp_path


def _pids(runtime: EmbeddedRuntime, key: str) -> list[int]:
    return [u.process.pid for u in runtime._pools[key].units if not u.dead]


def test_units_are_processes_that_scale_and_a_crashed_one_is_replaced(model_dir: Path) -> None:
    async def scenario() -> None:
        runtime = EmbeddedRuntime()
        try:
            await runtime.load(Deployment(key="m", model_dir=model_dir, units=2))
            assert runtime.units("m") == 2 and len(set(_pids(runtime, "m"))) == 2
            (scores,) = (await runtime.infer("m", {"rgb": RED})).values()
            assert int(np.argmax(scores)) == 0
            await runtime.scale("m", 3)
            assert runtime.units("m") == 3
            await runtime.scale("m", 1)
            assert runtime.units("m") == 1
            (pid,) = _pids(runtime, "m")
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            with pytest.raises(RuntimeFailure):
                await runtime.infer("m", {"rgb": RED})
            for _ in range(600):  # the replacement starts in the background
                if runtime.units("m") == 1:
                    break
                await asyncio.sleep(0.05)
            assert runtime.units("m") == 1, "no replacement unit within 30 s"
            (replacement,) = _pids(runtime, "m")
            assert replacement != pid
            assert (await runtime.infer("m", {"rgb": RED}))["scores"].shape == (1, 3)
            await runtime.unload("m")
            with pytest.raises(RuntimeFailure):
                await runtime.infer("m", {"rgb": RED})
        finally:
            await runtime.close()

    asyncio.run(scenario())


def test_a_model_that_cannot_load_is_a_runtime_failure(tmp_path: Path) -> None:
    classifier_files(tmp_path, {})
    (tmp_path / "model.onnx").write_bytes(b"garbage")

    async def scenario() -> None:
        runtime = EmbeddedRuntime()
        with pytest.raises(RuntimeFailure, match="cannot load the model"):
            await runtime.load(Deployment(key="bad", model_dir=tmp_path, units=1))
        assert runtime.units("bad") == 0
        await runtime.close()

    asyncio.run(scenario())
