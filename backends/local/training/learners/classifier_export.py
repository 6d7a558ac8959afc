"""ONNX export of a trained classifier, and the model card that describes it.

The exported graph takes the normalized NCHW float image batch (dynamic batch size) and
returns one probability per label: softmax (classification) or sigmoid (multilabel) is
inside the graph, and so is the optional test-time horizontal-flip averaging. The trainer
judges its candidates with this very module (`ProbabilityNet`), so what validation chose
is what the file computes.

Legacy TorchScript exporter (`dynamo=False`, opset 17): measured 0.4 s for Lite0 and
agreement with PyTorch to ~3e-6 (docs/training-notes.md).
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labelgate.backends.local.inference.card import InputSpec, ModelCard, Normalization

INPUT_NAME = "image"
OUTPUT_NAME = "scores"
ONNX_FILE = "model.onnx"
OPSET = 17


class ProbabilityNet(nn.Module):
    """logits → probabilities, optionally averaged with the horizontally flipped image."""

    def __init__(self, net: nn.Module, *, multilabel: bool, flip_tta: bool) -> None:
        super().__init__()
        self.net = net
        self.multilabel = multilabel
        self.flip_tta = flip_tta

    def _probs(self, x: Tensor) -> Tensor:
        logits = self.net(x)
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)

    def forward(self, x: Tensor) -> Tensor:
        probs = self._probs(x)
        if self.flip_tta:
            probs = (probs + self._probs(torch.flip(x, dims=[3]))) * 0.5
        return probs


def write_onnx(
    module: nn.Module,
    path: Path | io.BytesIO,
    *,
    height: int,
    width: int,
    dynamic_size: bool = False,
) -> None:
    """Write `module` (copied to CPU, eval mode) as ONNX with a dynamic batch axis, to a
    file or a buffer; `dynamic_size` also leaves the image height and width free."""
    cpu = copy.deepcopy(module).cpu().eval()
    dummy = torch.zeros(1, 3, height, width)
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        torch.onnx.export(
            cpu,
            (dummy,),
            path if isinstance(path, io.BytesIO) else str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )


def onnx_bytes(module: nn.Module, *, height: int = 224, width: int = 224) -> bytes:
    """`module` as an in-memory ONNX model taking images of any size."""
    buffer = io.BytesIO()
    write_onnx(module, buffer, height=height, width=width, dynamic_size=True)
    return buffer.getvalue()


def classifier_card(
    *,
    task: str,
    labels: tuple[str, ...],
    backbone: str,
    height: int,
    width: int,
    resize: str,
    crop_fraction: float,
    normalization: Normalization,
    flip_tta: bool,
    training: dict[str, Any],
) -> ModelCard:
    activation = "sigmoid" if task == "multilabel" else "softmax"
    return ModelCard(
        task=task,
        labels=labels,
        backbone=backbone,
        onnx_file=ONNX_FILE,
        input=InputSpec(
            name=INPUT_NAME,
            height=height,
            width=width,
            resize=resize,
            extra={"crop_fraction": crop_fraction, "interpolation": "bilinear"},
        ),
        normalization=normalization,
        outputs={
            "scores": {
                "name": OUTPUT_NAME,
                "shape": ["batch", len(labels)],
                "activation": activation,
                "flip_averaged": flip_tta,
                "holds": f"{activation} probability of each label, in 'labels' order",
            }
        },
        training=training,
    )


def export_classifier(
    module: ProbabilityNet, model_dir: Path, card: ModelCard
) -> tuple[Path, ModelCard]:
    """model_dir/model.onnx + model_dir/model.json (without thresholds and metrics)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = model_dir / card.onnx_file
    write_onnx(module, onnx_path, height=card.input.height, width=card.input.width)
    card.save(model_dir)
    return onnx_path, card


__all__ = [
    "INPUT_NAME",
    "ONNX_FILE",
    "OUTPUT_NAME",
    "ProbabilityNet",
    "classifier_card",
    "export_classifier",
    "onnx_bytes",
    "write_onnx",
]
