"""Pre/post-processing around an ONNX graph, so a serving runtime only runs the graph.

    prepare(card, image)                    -> {input name: batch-of-1 tensor}
    interpret(card, outputs, image_size)    -> ImagePrediction
    predict(card, run, image)               -> the two around `run` (the graph), in-process

`outputs` maps the card's output names to what the graph returned for that batch of 1
(`output_names(card)` lists them in order). The in-process predictors (classifier.py,
detector.py) go through these same two functions, and so do both serving runtimes
(embedded ONNX Runtime and Triton), so every path returns identical results for an image.

Classification inputs are NCHW float32 after the card's resize policy and normalization;
a card whose input layout is "NC" (a 1x1 input: one mean colour per image, as the tiny test
learner exports) gets (1, 3). Detection inputs are the letterboxed canvas (detector.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.card import ModelCard, output_name
from labelgate.backends.local.inference.classifier import normalize_batch, resize_for_model
from labelgate.backends.local.inference.detector import canvas_tensor, fitted_size, to_detections
from labelgate.backends.local.inference.imaging import ImageInput, open_rgb
from labelgate.backends.local.inference.records import ImagePrediction

_OUTPUT_KEYS = {
    "classification": ("scores",),
    "multilabel": ("scores",),
    "detection": ("boxes", "scores", "labels"),
}


def output_names(card: ModelCard) -> list[str]:
    """The graph outputs `interpret` needs, in the order it reads them."""
    return [output_name(card, key) for key in _OUTPUT_KEYS[card.task]]


def prepare(card: ModelCard, image: ImageInput) -> dict[str, np.ndarray]:
    """One image → the graph's named input tensors (a batch of one)."""
    rgb = open_rgb(image)
    spec, norm = card.input, card.normalization
    if card.task == "detection":
        x, _, _ = canvas_tensor(rgb, spec.width, spec.height, norm.mean, norm.std)
        return {spec.name: x}
    x = normalize_batch(resize_for_model(rgb, spec)[None], norm)  # (1, 3, H, W)
    if spec.layout == "NC":
        x = np.ascontiguousarray(x.reshape(1, -1))
    return {spec.name: x}


def image_size(image: ImageInput) -> tuple[int, int]:
    """(width, height) of the upright image, as `interpret` wants it."""
    if isinstance(image, Image.Image) and image.mode == "RGB":
        return image.size
    return open_rgb(image).size


def interpret(
    card: ModelCard,
    outputs: Mapping[str, np.ndarray],
    image_size: tuple[int, int],
    source_ref: str = "",
) -> ImagePrediction:
    """The graph's outputs for one image of `image_size` (width, height) → a prediction:
    a score per label, or boxes in original-image pixels best first."""
    if card.task == "detection":
        boxes, scores, labels = (np.asarray(outputs[name]) for name in output_names(card))
        width, height = image_size
        spec = card.input
        new_w, new_h = fitted_size(width, height, spec.width, spec.height)
        detections = to_detections(
            boxes, scores, labels, new_w / width, new_h / height, width, height, card.labels
        )
        return ImagePrediction(source_ref=source_ref, detections=detections)
    row = np.asarray(outputs[output_name(card, "scores")], dtype=np.float32)[0]
    scores = {label: float(p) for label, p in zip(card.labels, row, strict=True)}
    return ImagePrediction(source_ref=source_ref, scores=scores)


def predict(
    card: ModelCard,
    run: Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]],
    image: ImageInput,
    source_ref: str = "",
) -> ImagePrediction:
    """One image through `prepare`, the graph (`run`: input tensors → named outputs) and
    `interpret`: what the in-process predictors do for a single image."""
    rgb = open_rgb(image)
    return interpret(card, run(prepare(card, rgb)), rgb.size, source_ref)


__all__ = ["image_size", "interpret", "output_name", "output_names", "predict", "prepare"]
