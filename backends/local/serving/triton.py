"""Runtime `triton`: each deployment is a Triton Inference Server model (docs/architecture.md,
Serving).

* Server: `url` (host:port of Triton's gRPC endpoint) uses an existing server; without one
  the runtime starts and supervises its own `tritonserver` (triton_server.py) under
  `<data_dir>/triton`, on the first load.
* Repository entry (triton_repository.py): config.pbtxt with `instance_group.count` = units
  and dynamic batching, written under the repository folder. With our own server (or
  `shared_repository=True`: an external server reading the same folder) the model is loaded
  by name; otherwise its files travel in the `load_model` request (Triton's repository API
  accepts config + files), so an external server needs no shared disk.
* Load/unload through the repository API in EXPLICIT mode; `scale` reloads the model with a
  config override carrying the new count (Triton keeps serving the old instances until the
  new ones are ready). Inference through `tritonclient.grpc.aio`.

Failures surface as RuntimeFailure with a user-presentable message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from labelgate.backends.base import BackendSettings, validate_settings
from labelgate.backends.local.serving.runtime import Deployment, RuntimeFailure
from labelgate.backends.local.serving.triton_repository import (
    ONNXRUNTIME,
    PYTHON,
    EntrySettings,
    ModelEntry,
    build_entry,
    remove_entry,
)
from labelgate.backends.local.serving.triton_server import TritonServer

log = logging.getLogger(__name__)

# Triton TYPE_* → the tritonclient datatype string and numpy dtype.
_WIRE = {
    "TYPE_FP32": ("FP32", np.float32),
    "TYPE_FP16": ("FP16", np.float16),
    "TYPE_FP64": ("FP64", np.float64),
    "TYPE_INT8": ("INT8", np.int8),
    "TYPE_INT16": ("INT16", np.int16),
    "TYPE_INT32": ("INT32", np.int32),
    "TYPE_INT64": ("INT64", np.int64),
    "TYPE_UINT8": ("UINT8", np.uint8),
    "TYPE_UINT16": ("UINT16", np.uint16),
    "TYPE_UINT32": ("UINT32", np.uint32),
    "TYPE_UINT64": ("UINT64", np.uint64),
    "TYPE_BOOL": ("BOOL", np.bool_),
    "TYPE_STRING": ("BYTES", np.object_),
}


class TritonKeys(BackendSettings):
    """The `[backends.local]` keys of this runtime (`triton_*`, all optional; part of the
    local backend's LocalSettings). Unset: TritonRuntime's own defaults."""

    triton_url: str | None = None  # host:port of an existing server; None: our own
    triton_venv: Path | None = None  # the Triton environment (default .venv-triton)
    triton_flavour: Literal["python", "onnxruntime"] | None = None  # None: by server
    triton_shared_repository: bool = False  # an external server reads our repository
    triton_repository: Path | None = None  # None: <data_dir>/triton/repository
    triton_max_batch_size: int = Field(32, ge=0)
    triton_max_queue_delay_us: int = Field(500, ge=0)
    triton_max_restarts: int = Field(3, ge=0)
    triton_ready_timeout_s: float = Field(60.0, gt=0)
    triton_load_timeout_s: float = Field(300.0, gt=0)
    triton_infer_timeout_s: float = Field(60.0, gt=0)


class TritonRuntime:
    name = "triton"

    def __init__(
        self,
        data_dir: Path | str,
        *,
        url: str | None = None,
        venv: Path | str | None = None,
        flavour: str | None = None,
        shared_repository: bool = False,
        repository: Path | str | None = None,
        max_batch_size: int = 32,
        max_queue_delay_us: int = 500,
        max_restarts: int = 3,
        ready_timeout_s: float = 60.0,
        load_timeout_s: float = 300.0,
        infer_timeout_s: float = 60.0,
        on_server_down: Callable[[str], None] | None = None,
    ) -> None:
        workdir = Path(data_dir) / "triton"
        self.url = url
        self.server: TritonServer | None = None
        if url is None:
            self.server = TritonServer(
                workdir,
                venv=venv,
                max_restarts=max_restarts,
                ready_timeout_s=ready_timeout_s,
                on_restart=self._reload_all,
                on_down=self._server_down,
            )
            self.repository = self.server.repository
            self._by_name = True
        else:
            self.repository = Path(repository) if repository else workdir / "repository"
            self._by_name = shared_repository
        # The wheel's server has only the python backend; NVIDIA's images run ONNX natively.
        self.settings = EntrySettings(
            flavour=flavour or (PYTHON if url is None else ONNXRUNTIME),
            max_batch_size=max_batch_size,
            max_queue_delay_us=max_queue_delay_us,
        )
        self.load_timeout_s = load_timeout_s
        self.infer_timeout_s = infer_timeout_s
        self.on_server_down = on_server_down
        self._entries: dict[str, ModelEntry] = {}
        self._units: dict[str, int] = {}
        self._client: Any = None
        self._client_url: str | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, settings: TritonKeys | Mapping[str, Any], *,
                    data_dir: Path | str) -> TritonRuntime:
        """Built from the backend's typed settings (a mapping is read for its `triton_*`
        keys only; an unknown one is an error)."""
        if not isinstance(settings, TritonKeys):
            settings = validate_settings(TritonKeys, {k: v for k, v in settings.items()
                                                      if k.startswith("triton_")})
        return cls(
            data_dir,
            url=settings.triton_url,
            venv=settings.triton_venv,
            flavour=settings.triton_flavour,
            shared_repository=settings.triton_shared_repository,
            repository=settings.triton_repository,
            max_batch_size=settings.triton_max_batch_size,
            max_queue_delay_us=settings.triton_max_queue_delay_us,
            max_restarts=settings.triton_max_restarts,
            ready_timeout_s=settings.triton_ready_timeout_s,
            load_timeout_s=settings.triton_load_timeout_s,
            infer_timeout_s=settings.triton_infer_timeout_s,
        )

    # -- Runtime protocol ---------------------------------------------------------------
    async def load(self, deployment: Deployment) -> None:
        if deployment.units < 1:
            raise RuntimeFailure("a deployment needs at least one inference unit")
        entry = await asyncio.to_thread(build_entry, deployment, self.settings)
        async with self._lock:
            await asyncio.to_thread(entry.write, self.repository)
            try:
                await self._ensure_server()
                await self._load(entry, entry.units, by_name=self._by_name)
            except RuntimeFailure:
                if entry.name not in self._entries:  # leave no half-made entry behind
                    await asyncio.to_thread(remove_entry, self.repository, entry.name)
                raise
            self._entries[entry.name] = entry
            self._units[entry.name] = entry.units

    async def scale(self, key: str, units: int) -> None:
        if units < 1:
            raise RuntimeFailure("a deployment needs at least one inference unit")
        async with self._lock:
            entry = self._entry(key)
            if self._units[key] == units:
                return
            await asyncio.to_thread(entry.write, self.repository, units)
            await self._load(entry, units, by_name=False)
            self._units[key] = units

    async def infer(self, key: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tritonclient.grpc import InferInput, InferRequestedOutput
        from tritonclient.utils import InferenceServerException

        entry = self._entry(key)
        self._check_server()
        arrays = {}
        for spec in entry.signature.inputs:
            if spec.name not in inputs:
                raise RuntimeFailure(f"missing model input {spec.name!r}")
            arrays[spec.name] = np.ascontiguousarray(inputs[spec.name], _WIRE[spec.data_type][1])
        chunks = [arrays]
        if entry.max_batch_size:  # Triton refuses batches above max_batch_size: split them
            size = len(next(iter(arrays.values())))
            if size == 0:
                raise RuntimeFailure("an empty batch cannot be inferred")
            step = entry.max_batch_size
            chunks = [{n: a[i : i + step] for n, a in arrays.items()} for i in range(0, size, step)]
        client = await self._get_client()
        outputs = [InferRequestedOutput(s.name) for s in entry.signature.outputs]

        async def run(chunk: dict[str, np.ndarray]) -> Any:
            request = []
            for spec in entry.signature.inputs:
                x = chunk[spec.name]
                item = InferInput(spec.name, list(x.shape), _WIRE[spec.data_type][0])
                item.set_data_from_numpy(x)
                request.append(item)
            return await client.infer(
                key, request, outputs=outputs, client_timeout=self.infer_timeout_s
            )

        try:
            results = await asyncio.gather(*(run(c) for c in chunks))
        except InferenceServerException as exc:
            self._check_server()
            raise RuntimeFailure(f"Triton inference failed: {_message(exc)}") from None
        names = [s.name for s in entry.signature.outputs]
        if len(results) == 1:
            return {n: results[0].as_numpy(n) for n in names}
        return {n: np.concatenate([r.as_numpy(n) for r in results]) for n in names}

    async def unload(self, key: str) -> None:
        async with self._lock:
            entry = self._entries.pop(key, None)
            self._units.pop(key, None)
            if entry is None:
                return
            if self._server_up():
                with contextlib.suppress(RuntimeFailure):
                    await self._unload(key)
            await asyncio.to_thread(remove_entry, self.repository, key)

    async def close(self) -> None:
        async with self._lock:
            keys = list(self._entries)
            if self.server is None and self._server_up():
                for key in keys:  # an external server outlives us: leave it clean
                    with contextlib.suppress(RuntimeFailure):
                        await self._unload(key)
            self._entries.clear()
            self._units.clear()
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.close()
                self._client = None
            if self.server is not None:
                await self.server.stop()
            for key in keys:
                await asyncio.to_thread(remove_entry, self.repository, key)

    # -- extras for serving and tests ---------------------------------------------------
    def units(self, key: str) -> int:
        self._entry(key)
        return self._units[key]

    def entry(self, key: str) -> ModelEntry:
        return self._entry(key)

    async def model_config(self, key: str) -> dict[str, Any]:
        """The config Triton runs the model with (as a dict, Triton's JSON names)."""
        from google.protobuf import json_format
        from tritonclient.utils import InferenceServerException

        client = await self._get_client()
        try:
            response = await client.get_model_config(key, client_timeout=10.0)
        except InferenceServerException as exc:
            raise RuntimeFailure(_message(exc)) from None
        return json_format.MessageToDict(response.config, preserving_proto_field_name=True)

    # -- internals ----------------------------------------------------------------------
    def _entry(self, key: str) -> ModelEntry:
        entry = self._entries.get(key)
        if entry is None:
            raise RuntimeFailure(f"model {key!r} is not loaded")
        return entry

    def _server_up(self) -> bool:
        return self.server is None or self.server.running

    def _check_server(self) -> None:
        if self.server is not None and not self.server.running:
            reason = self.server.failure or "it is restarting"
            raise RuntimeFailure(f"the Triton server is not available: {reason}")

    def _server_down(self, message: str) -> None:
        if self.on_server_down is not None:
            self.on_server_down(message)

    async def _ensure_server(self) -> None:
        if self.server is not None and not self.server.running:
            await self.server.start()

    async def _get_client(self) -> Any:
        from tritonclient.grpc.aio import InferenceServerClient

        url = self.server.url if self.server is not None else self.url
        if self._client is None or self._client_url != url:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.close()
            self._client = InferenceServerClient(url)
            self._client_url = url
        return self._client

    async def _load(self, entry: ModelEntry, units: int, *, by_name: bool) -> None:
        """Load or reload: by name from the shared repository (config.pbtxt), else with the
        config override (and the files, when the server does not share our folder)."""
        from tritonclient.utils import InferenceServerException

        client = await self._get_client()
        kwargs: dict[str, Any] = {}
        if not by_name:
            kwargs["config"] = entry.config_json(units)
            if not self._by_name:
                kwargs["files"] = await asyncio.to_thread(entry.files)
        started = time.monotonic()
        try:
            await client.load_model(entry.name, client_timeout=self.load_timeout_s, **kwargs)
            ready = await client.is_model_ready(entry.name, client_timeout=10.0)
        except InferenceServerException as exc:
            raise RuntimeFailure(f"Triton could not load the model: {_message(exc)}") from None
        if not ready:
            raise RuntimeFailure("Triton loaded the model but it is not ready")
        log.info("triton model %s ready with %d unit(s) in %.2f s",
                 entry.name, units, time.monotonic() - started)  # fmt: skip

    async def _unload(self, key: str) -> None:
        from tritonclient.utils import InferenceServerException

        client = await self._get_client()
        try:
            await client.unload_model(key, client_timeout=self.load_timeout_s)
            deadline = time.monotonic() + 30.0
            while await client.is_model_ready(key, client_timeout=5.0):
                if time.monotonic() > deadline:
                    raise RuntimeFailure(f"Triton did not unload {key!r} in 30 s")
                await asyncio.sleep(0.05)
        except InferenceServerException as exc:
            raise RuntimeFailure(f"Triton could not unload the model: {_message(exc)}") from None

    async def _reload_all(self) -> None:
        """After our server restarted: load every deployment again (their config.pbtxt
        carries the current unit counts)."""
        async with self._lock:
            for name, entry in list(self._entries.items()):
                try:
                    await self._load(entry, self._units[name], by_name=True)
                except RuntimeFailure as exc:
                    log.error("reloading %s after the Triton restart failed: %s", name, exc)
                    self._server_down(f"{name}: {exc}")


def _message(exc: Exception) -> str:
    msg = getattr(exc, "message", None)
    text = msg() if callable(msg) else str(exc)
    return str(text).strip() or type(exc).__name__


__all__ = ["TritonKeys", "TritonRuntime"]
