"""The Triton model repository entry of a deployment (runtime `triton`, docs/architecture.md).

One entry per deployment, named by `Deployment.key`:

    <repository>/<key>/config.pbtxt
    <repository>/<key>/1/model.onnx
    <repository>/<key>/1/model.py      (python flavour only)

Two flavours of the same config:

* `onnxruntime`: `platform: "onnxruntime_onnx"`, for NVIDIA's Triton images (their
  onnxruntime backend runs model.onnx directly).
* `python`: `backend: "python"` with `model.py` (triton_model.py) wrapping ONNX Runtime, for
  servers whose only backend is the python one (the `tritonserver` of the PyPI wheel
  `nvidia-pytriton`, which the tests and the gateway's own server use).

Inputs and outputs are the ONNX graph's own names, dtypes and shapes. The batch dimension
follows the card: a model whose card fixes `input.batch` (the detectors: one image per run)
gets `max_batch_size: 0` and its full shapes; otherwise the graph's first axis must be
symbolic, becomes Triton's batch axis and dynamic batching is on.
`instance_group [{count: units, kind: KIND_CPU}]` makes one model instance per unit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format

from labelgate.backends.local.inference.card import CardError, ModelCard
from labelgate.backends.local.serving.runtime import Deployment, RuntimeFailure

PYTHON = "python"
ONNXRUNTIME = "onnxruntime"
FLAVOURS = (PYTHON, ONNXRUNTIME)
VERSION = "1"
ONNX_FILE = "model.onnx"  # the name inside the entry, whatever the card calls it
MODEL_PY = "model.py"
TEMPLATE = Path(__file__).with_name("triton_model.py")

# ONNX Runtime's type strings → Triton data types (and the numpy dtype names tests compare).
_ORT_TYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "tensor(double)": "TYPE_FP64",
    "tensor(int8)": "TYPE_INT8",
    "tensor(int16)": "TYPE_INT16",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(uint16)": "TYPE_UINT16",
    "tensor(uint32)": "TYPE_UINT32",
    "tensor(uint64)": "TYPE_UINT64",
    "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str  # Triton's TYPE_* name
    shape: tuple[int | str, ...]  # the graph's shape; symbolic axes are strings


@dataclass(frozen=True)
class GraphSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class EntrySettings:
    """How the gateway shapes every entry (backend config `triton_*` keys)."""

    flavour: str = PYTHON
    max_batch_size: int = 32  # for batchable models; chunks larger batches
    max_queue_delay_us: int = 500  # dynamic batching's wait for a fuller batch

    def __post_init__(self) -> None:
        if self.flavour not in FLAVOURS:
            raise ValueError(f"triton flavour must be one of {FLAVOURS}, not {self.flavour!r}")
        if self.max_batch_size < 1 or self.max_queue_delay_us < 0:
            raise ValueError("triton max_batch_size must be >= 1 and queue delay >= 0")


def _dim(d: object) -> int | str:
    return d if isinstance(d, int) and d >= 0 else str(d or "?")


def read_signature(onnx_path: Path) -> GraphSignature:
    """Input/output names, Triton dtypes and shapes of an ONNX graph (via ONNX Runtime)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/NoSuchFile classes
        raise RuntimeFailure(f"cannot read the model graph {onnx_path.name}: {exc}") from None

    def specs(args: Sequence[object]) -> tuple[TensorSpec, ...]:
        out = []
        for a in args:
            dtype = _ORT_TYPES.get(a.type)  # type: ignore[attr-defined]
            if dtype is None:
                raise RuntimeFailure(f"tensor {a.name!r} has an unsupported type {a.type}")  # type: ignore[attr-defined]
            out.append(TensorSpec(a.name, dtype, tuple(_dim(d) for d in a.shape)))  # type: ignore[attr-defined]
        return tuple(out)

    return GraphSignature(specs(sess.get_inputs()), specs(sess.get_outputs()))


def batchable(card: ModelCard, signature: GraphSignature) -> bool:
    """True when Triton may batch along the first axis (see the module docstring)."""
    if card.input.extra.get("batch") is not None:  # the card fixes the batch: one per run
        return False
    tensors = signature.inputs + signature.outputs
    return all(t.shape and isinstance(t.shape[0], str) for t in tensors)


def _dims(shape: Sequence[int | str]) -> list[int]:
    return [d if isinstance(d, int) else -1 for d in shape]


@dataclass(frozen=True)
class ModelEntry:
    """Everything Triton needs to load one deployment."""

    name: str
    flavour: str
    onnx_path: Path  # the bundle's model file
    signature: GraphSignature
    max_batch_size: int  # 0 = no batch axis (the graph's shapes are used whole)
    max_queue_delay_us: int
    units: int
    threads: int

    def config(self, units: int | None = None) -> Any:
        """The tritonclient `model_config_pb2.ModelConfig` of this entry."""
        from tritonclient.grpc import model_config_pb2 as mc

        cfg = mc.ModelConfig(name=self.name, max_batch_size=self.max_batch_size)
        if self.flavour == ONNXRUNTIME:
            cfg.platform = "onnxruntime_onnx"
            cfg.default_model_filename = ONNX_FILE
            cfg.parameters["intra_op_thread_count"].string_value = str(self.threads)
            cfg.parameters["inter_op_thread_count"].string_value = "1"
        else:
            cfg.backend = "python"
            cfg.parameters["intra_op_threads"].string_value = str(self.threads)
        skip = 1 if self.max_batch_size else 0
        for spec, target in ((s, cfg.input.add()) for s in self.signature.inputs):
            target.name, target.data_type = spec.name, mc.DataType.Value(spec.data_type)
            target.dims.extend(_dims(spec.shape[skip:]))
        for spec, target in ((s, cfg.output.add()) for s in self.signature.outputs):
            target.name, target.data_type = spec.name, mc.DataType.Value(spec.data_type)
            target.dims.extend(_dims(spec.shape[skip:]))
        group = cfg.instance_group.add()
        group.count = self.units if units is None else units
        group.kind = mc.ModelInstanceGroup.KIND_CPU
        if self.max_batch_size:
            cfg.dynamic_batching.max_queue_delay_microseconds = self.max_queue_delay_us
        return cfg

    def config_pbtxt(self, units: int | None = None) -> str:
        return text_format.MessageToString(self.config(units))

    def config_json(self, units: int | None = None) -> str:
        """The config as the repository API's `config` override wants it."""
        return json.dumps(
            json_format.MessageToDict(self.config(units), preserving_proto_field_name=True)
        )

    def files(self) -> dict[str, bytes]:
        """The version folder's files, for `load_model(files=...)` (a server that does not
        share our repository folder)."""
        out = {f"file:{VERSION}/{ONNX_FILE}": self.onnx_path.read_bytes()}
        if self.flavour == PYTHON:
            out[f"file:{VERSION}/{MODEL_PY}"] = TEMPLATE.read_bytes()
        return out

    def write(self, repository: Path, units: int | None = None) -> Path:
        """Write (or rewrite) the entry under `repository`; returns its folder."""
        folder = repository / self.name
        version = folder / VERSION
        version.mkdir(parents=True, exist_ok=True)
        _place(self.onnx_path, version / ONNX_FILE)
        if self.flavour == PYTHON:
            shutil.copyfile(TEMPLATE, version / MODEL_PY)
        _atomic_write(folder / "config.pbtxt", self.config_pbtxt(units))
        return folder


def build_entry(deployment: Deployment, settings: EntrySettings) -> ModelEntry:
    """Read the deployment's card and graph and describe its repository entry."""
    try:
        card = ModelCard.load(deployment.model_dir)
    except CardError as exc:
        raise RuntimeFailure(str(exc)) from None
    onnx_path = Path(deployment.model_dir) / card.onnx_file
    if not onnx_path.is_file():
        raise RuntimeFailure(f"the model bundle has no {card.onnx_file}")
    signature = read_signature(onnx_path)
    return ModelEntry(
        name=deployment.key,
        flavour=settings.flavour,
        onnx_path=onnx_path,
        signature=signature,
        max_batch_size=settings.max_batch_size if batchable(card, signature) else 0,
        max_queue_delay_us=settings.max_queue_delay_us,
        units=deployment.units,
        threads=max(1, deployment.threads_per_unit),
    )


def remove_entry(repository: Path, name: str) -> None:
    shutil.rmtree(repository / name, ignore_errors=True)


def _place(src: Path, dst: Path) -> None:
    """Hard-link the model file into the entry (same filesystem), else copy it."""
    if dst.exists():
        if dst.stat().st_ino == src.stat().st_ino:
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "FLAVOURS",
    "ONNXRUNTIME",
    "PYTHON",
    "EntrySettings",
    "GraphSignature",
    "ModelEntry",
    "TensorSpec",
    "batchable",
    "build_entry",
    "read_signature",
    "remove_entry",
]
