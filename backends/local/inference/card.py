"""model.json, the card that travels with every exported model (format_version 1).

The card is the one contract between whoever trained a model and whoever runs it: which
task, which labels in which order, what the ONNX input wants (size, resize policy,
normalization) and what its outputs hold. Serving reads nothing else, so a bundle handed
to a user (`labelgate export-model`) is self-describing.

Keys this version does not know are kept (`extra`) and written back unchanged, so an
older reader never drops what a newer writer added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "labelgate-model"
FORMAT_VERSION = 1
CARD_FILE = "model.json"
TASKS = ("classification", "multilabel", "detection")

# Resize policies the shared preprocessing implements (inference/classifier.py).
SHORTER_SIDE_CENTER_CROP = "shorter_side_center_crop"
STRETCH = "stretch"


class CardError(ValueError):
    """model.json is missing, malformed or of a format this code cannot read."""


@dataclass(frozen=True)
class InputSpec:
    """The ONNX model's image input and how to make it from an RGB image."""

    name: str
    height: int
    width: int
    resize: str  # a resize policy, e.g. SHORTER_SIDE_CENTER_CROP or STRETCH
    layout: str = "NCHW"
    dtype: str = "float32"
    color: str = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel/255, before normalization
    extra: dict[str, Any] = field(default_factory=dict)  # policy parameters, newer keys

    _KNOWN = ("name", "height", "width", "resize", "layout", "dtype", "color", "value_range")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout,
            "dtype": self.dtype,
            "color": self.color,
            "height": self.height,
            "width": self.width,
            "resize": self.resize,
            "value_range": list(self.value_range),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        try:
            return cls(
                name=str(d["name"]),
                height=int(d["height"]),
                width=int(d["width"]),
                resize=str(d["resize"]),
                layout=str(d.get("layout", "NCHW")),
                dtype=str(d.get("dtype", "float32")),
                color=str(d.get("color", "RGB")),
                value_range=tuple(float(v) for v in d.get("value_range", (0.0, 1.0))),
                extra={k: v for k, v in d.items() if k not in cls._KNOWN},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"model.json: bad 'input': {exc}") from None


@dataclass(frozen=True)
class Normalization:
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        try:
            mean = tuple(float(v) for v in d["mean"])
            std = tuple(float(v) for v in d["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"model.json: bad 'normalization': {exc}") from None
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise CardError("model.json: normalization needs 3 means and 3 positive stds")
        return cls(mean=mean, std=std)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelCard:
    task: str
    labels: tuple[str, ...]
    backbone: str
    input: InputSpec
    normalization: Normalization = field(default_factory=Normalization)
    outputs: dict[str, Any] = field(default_factory=dict)  # task-specific output names
    onnx_file: str = "model.onnx"
    thresholds: dict[str, float] = field(default_factory=dict)  # set after evaluation
    training: dict[str, Any] = field(default_factory=dict)  # AutoML's choices
    metrics: dict[str, float] = field(default_factory=dict)  # set after evaluation
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version doesn't know

    _KNOWN = (
        "format", "format_version", "task", "labels", "backbone", "onnx_file", "input",
        "normalization", "outputs", "thresholds", "training", "metrics",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "labels": list(self.labels),
            "backbone": self.backbone,
            "onnx_file": self.onnx_file,
            "input": self.input.to_dict(),
            "normalization": self.normalization.to_dict(),
            "outputs": self.outputs,
            "thresholds": dict(self.thresholds),
            "training": self.training,
            "metrics": dict(self.metrics),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CardError(f"model.json: 'format' must be {FORMAT!r}")
        if d.get("format_version") != FORMAT_VERSION:
            raise CardError(
                f"model.json: format_version {d.get('format_version')!r} is not supported "
                f"(this version reads {FORMAT_VERSION})"
            )
        task = d.get("task")
        if task not in TASKS:
            raise CardError(f"model.json: unknown task {task!r}")
        labels = d.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise CardError("model.json: 'labels' must be a list of strings")
        return cls(
            task=task,
            labels=tuple(labels),
            backbone=str(d.get("backbone", "")),
            input=InputSpec.from_dict(d.get("input") or {}),
            normalization=Normalization.from_dict(d.get("normalization") or {}),
            outputs=dict(d.get("outputs") or {}),
            onnx_file=str(d.get("onnx_file", "model.onnx")),
            thresholds={str(k): float(v) for k, v in (d.get("thresholds") or {}).items()},
            training=dict(d.get("training") or {}),
            metrics={str(k): float(v) for k, v in (d.get("metrics") or {}).items()},
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        """Read a card from model.json or from the model directory holding it."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CardError(f"no {CARD_FILE} at {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"{path}: unreadable: {exc}") from None
        return cls.from_dict(data)

    def save(self, model_dir: Path) -> Path:
        """Write model.json into `model_dir`; returns its path."""
        path = Path(model_dir) / CARD_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def output_name(card: ModelCard, key: str) -> str:
    """The graph's name for output `key`: card `outputs[key]` is a name or {"name": ...}."""
    value = card.outputs.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("name", key))
    return key


__all__ = [
    "CARD_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "SHORTER_SIDE_CENTER_CROP",
    "STRETCH",
    "CardError",
    "InputSpec",
    "ModelCard",
    "Normalization",
    "output_name",
]
