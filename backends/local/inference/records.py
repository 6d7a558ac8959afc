"""What training, evaluation and serving all speak of: task kinds, labelled images and the
predictions a model makes of them.

Coordinates are pixels of the original image, in the manifest's convention (left, top,
width, height), so ground truth and predictions compare without conversion. Confidences
are 0..1 (DetectCustomLabels reports them x100). Serving uses these without ever loading
the training code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TaskKind = Literal["classification", "multilabel", "detection"]
CLASSIFICATION: TaskKind = "classification"  # one image-level label per image: softmax
MULTILABEL: TaskKind = "multilabel"  # several image-level labels per image: sigmoid
DETECTION: TaskKind = "detection"  # bounding boxes


@dataclass(frozen=True, slots=True)
class Box:
    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Example:
    """One usable image of the training or test set."""

    source_ref: str
    image_path: Path  # a local copy the worker reads
    width: int
    height: int
    labels: tuple[str, ...]  # image-level labels; for detection the labels of its boxes
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    confidence: float
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class ImagePrediction:
    source_ref: str
    # classification / multilabel: a score for every model label (softmax or sigmoid)
    scores: Mapping[str, float] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()  # detection: every box kept by the model


__all__ = [
    "CLASSIFICATION",
    "DETECTION",
    "MULTILABEL",
    "Box",
    "Detection",
    "Example",
    "ImagePrediction",
    "TaskKind",
]
