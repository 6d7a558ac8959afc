"""ONNX export of a trained detector and its model card.

The legacy TorchScript exporter (`dynamo=False`, opset 17) is used: the dynamo exporter
fails on torchvision's data-dependent NMS (docs/operations.md (platform facts) §2(d)), while the
legacy one reproduced Faster R-CNN's eager boxes exactly. The graph takes one normalized
image of the fixed canvas size and returns the final detections (per-class NMS, then the
class-blind NMS when chosen), so the file is usable on its own outside labelgate.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from labelgate.backends.local.inference.card import InputSpec, ModelCard, Normalization
from labelgate.backends.local.inference.detector import RESIZE_POLICY
from labelgate.backends.local.training.learners.detection_model import DetectorNet

ONNX_FILE = "model.onnx"
INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "scores", "labels")
OPSET = 17


def export_detector(model: DetectorNet, path: Path, sample: torch.Tensor) -> Path:
    """Trace `model` on `sample` (1x3xHxW, normalized canvas) and write the ONNX file."""
    cpu = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()
    sample = sample.detach().to("cpu").contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter announces its deprecation and torchvision's tracing paths
        # emit TracerWarnings about constant shapes, which a fixed input size makes true.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            cpu,
            (sample,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "detections"} for name in OUTPUT_NAMES},
            do_constant_folding=True,
        )
    return path


def detector_card(
    labels: Sequence[str],
    canvas: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    training: dict[str, Any],
    backbone: str = "efficientnet_lite0",
) -> ModelCard:
    """The card serving needs to reproduce the trainer's predictions."""
    height, width = canvas
    spec = InputSpec(
        name=INPUT_NAME,
        height=height,
        width=width,
        resize=RESIZE_POLICY,
        extra={
            "batch": 1,
            "resample": "bilinear",
            "resize_note": (
                "scale = min(width / image_width, height / image_height); resize the RGB "
                "image to (round(image_width * scale), round(image_height * scale)) and put it "
                "at the top-left of the canvas; the rest of the canvas is 0 after "
                "normalization (the mean colour)"
            ),
        },
    )
    outputs = {
        "boxes": {
            "name": "boxes",
            "shape": ["detections", 4],
            "dtype": "float32",
            "format": "xyxy",
            "frame": "canvas pixels; divide x by the x scale (resized width / image width) "
            "and y by the y scale to get original-image pixels, then clip to the image",
        },
        "scores": {
            "name": "scores",
            "shape": ["detections"],
            "dtype": "float32",
            "range": [0, 1],
            "order": "descending per class",
        },
        "labels": {
            "name": "labels",
            "shape": ["detections"],
            "dtype": "int64",
            "meaning": "0-based index into labels",
        },
    }
    return ModelCard(
        task="detection",
        labels=tuple(labels),
        backbone=backbone,
        input=spec,
        normalization=Normalization(mean=tuple(mean), std=tuple(std)),  # type: ignore[arg-type]
        outputs=outputs,
        onnx_file=ONNX_FILE,
        training=training,
    )


__all__ = ["INPUT_NAME", "ONNX_FILE", "OPSET", "OUTPUT_NAMES", "detector_card", "export_detector"]
