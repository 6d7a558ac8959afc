"""`load_predictor(model_dir)`: the model bundle (model.json + ONNX file) → a Predictor.

The card's task picks the implementation through a small registry of lazily imported
factories, so serving loads only what the model needs (and nothing here imports torch).
A factory is called as `factory(model_dir=..., card=..., threads=...) -> Predictor`.

The trainer predicts its test set through this same function, so the evaluation scores
exactly what serving will return.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from labelgate.backends.local.inference.card import ModelCard
from labelgate.backends.local.inference.imaging import ImageInput
from labelgate.backends.local.inference.records import Example, ImagePrediction

if TYPE_CHECKING:
    import onnxruntime

PredictItem = Example | ImageInput
PredictorFactory = Callable[..., "Predictor"]


class Predictor(Protocol):
    """Runs one exported model on images. Safe to call from several threads at once."""

    card: ModelCard

    def predict(self, image: ImageInput, source_ref: str = "") -> ImagePrediction: ...

    def predict_many(
        self, items: Iterable[PredictItem], batch_size: int = 16
    ) -> list[ImagePrediction]: ...


# task → "module:factory"; imported on first use.
_REGISTRY: dict[str, str] = {
    "classification": "labelgate.backends.local.inference.classifier:ClassifierPredictor",
    "multilabel": "labelgate.backends.local.inference.classifier:ClassifierPredictor",
    "detection": "labelgate.backends.local.inference.detector:DetectorPredictor",
}


def register(task: str, factory: str) -> None:
    """Point `task` at a "module:callable" factory (tests and plug-ins use this)."""
    _REGISTRY[task] = factory


def load_predictor(model_dir: Path, *, threads: int = 1) -> Predictor:
    """Read model_dir/model.json and build the predictor its task needs."""
    model_dir = Path(model_dir)
    card = ModelCard.load(model_dir)
    target = _REGISTRY.get(card.task)
    if target is None:
        raise ValueError(f"no predictor is registered for task {card.task!r}")
    module_name, _, attr = target.partition(":")
    factory: PredictorFactory = getattr(importlib.import_module(module_name), attr)
    # Keywords, so a factory may order its parameters as it likes.
    return factory(model_dir=model_dir, card=card, threads=threads)


def open_session(
    model: Path | bytes, *, threads: int = 1, spin: bool = True
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session with bounded threads (serving packs several per host).

    `model` is an .onnx file or its bytes. `spin=False` stops idle intra-op threads from
    busy-waiting for the next run: for sessions that share the cores with other work
    (the trainer's validation passes between PyTorch training steps).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def item_source(item: PredictItem) -> tuple[ImageInput, str]:
    """What to decode for `item`, and the source_ref its prediction carries."""
    if isinstance(item, Example):
        return item.image_path, item.source_ref
    if isinstance(item, (str, Path)):
        return item, str(item)
    return item, ""


__all__ = [
    "PredictItem",
    "Predictor",
    "item_source",
    "load_predictor",
    "open_session",
    "register",
]
