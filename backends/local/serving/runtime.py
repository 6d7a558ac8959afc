"""The seam between serving and the engines that run ONNX models (docs/architecture.md, serving).

Serving (service.py) owns the lifecycle in the store, admission control, metering and the
shared pre/post-processing (labelgate.backends.local.inference): a runtime only runs the
ONNX graph. So both runtimes return identical results for the same image: they are handed
the same input tensors and their raw outputs go through the same post-processing.

* `embedded` (default): ONNX Runtime sessions in worker processes, one per inference unit.
* `triton`: a Triton Inference Server model per deployment (instance_group.count = units),
  loaded/unloaded through the repository API in EXPLICIT mode, inferred through tritonclient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Deployment:
    """One running model version."""

    key: str  # stable and unique per model version, safe as a file/model name: [a-z0-9_-]
    model_dir: Path  # holds model.onnx and model.json (the card)
    units: int  # inference units in service (>= 1)
    threads_per_unit: int = 1


class RuntimeFailure(Exception):
    """A runtime could not load, scale or run a deployment (message is user-presentable)."""


class Runtime(Protocol):
    name: str

    async def load(self, deployment: Deployment) -> None:
        """Make the deployment ready to infer with `deployment.units` units; raise
        RuntimeFailure when it cannot (the version then goes FAILED with the message)."""

    async def scale(self, key: str, units: int) -> None:
        """Change the number of units of a loaded deployment."""

    async def infer(self, key: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the ONNX graph once on a batch: named inputs in, named outputs out."""

    async def unload(self, key: str) -> None: ...

    async def close(self) -> None:
        """Unload everything and release processes/servers the runtime started."""
