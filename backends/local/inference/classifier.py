"""Image classifiers (softmax single-label and sigmoid multi-label) over an ONNX file.

Preprocessing is numpy + Pillow only, because serving imports it without torch; the
trainer evaluates its validation images through these same functions, so the numbers it
chose a model by are the numbers serving reproduces.

Resize policies (card `input.resize`), all one bilinear Pillow resize from a source box
(no intermediate rounding):
- "shorter_side_center_crop": scale so the image covers the input, then take the centre
  (`input.crop_fraction` < 1 crops tighter, the ImageNet 0.875 convention);
- "stretch": the whole image to the input size, aspect ratio not kept.
The ONNX graph applies softmax/sigmoid itself (and any test-time flip averaging), so its
output is already one probability per label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.card import (
    SHORTER_SIDE_CENTER_CROP,
    STRETCH,
    InputSpec,
    ModelCard,
    Normalization,
    output_name,
)
from labelgate.backends.local.inference.images import ImageInput, open_rgb
from labelgate.backends.local.inference.predictor import PredictItem, item_source, open_session
from labelgate.backends.local.training.contract import ImagePrediction

RESIZE_POLICIES = (SHORTER_SIDE_CENTER_CROP, STRETCH)


def source_box(
    width: int,
    height: int,
    out_width: int,
    out_height: int,
    policy: str,
    crop_fraction: float = 1.0,
) -> tuple[float, float, float, float]:
    """The region (left, top, right, bottom) of a width x height image that the policy
    maps onto the out_width x out_height input."""
    if policy == STRETCH:
        return (0.0, 0.0, float(width), float(height))
    if policy == SHORTER_SIDE_CENTER_CROP:
        scale = max(out_width / width, out_height / height) / crop_fraction
        crop_w, crop_h = out_width / scale, out_height / scale
        left, top = (width - crop_w) / 2.0, (height - crop_h) / 2.0
        return (left, top, left + crop_w, top + crop_h)
    raise ValueError(f"unknown resize policy {policy!r}; known: {', '.join(RESIZE_POLICIES)}")


def resize_image(
    image: Image.Image,
    width: int,
    height: int,
    policy: str,
    crop_fraction: float = 1.0,
) -> np.ndarray:
    """RGB image → uint8 array (height, width, 3) per the resize policy."""
    box = source_box(image.width, image.height, width, height, policy, crop_fraction)
    resized = image.resize((width, height), Image.Resampling.BILINEAR, box=box)
    return np.asarray(resized, dtype=np.uint8)


def resize_for_model(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """RGB image → uint8 (H, W, 3) exactly as the card's input wants it."""
    crop_fraction = float(spec.extra.get("crop_fraction", 1.0))
    return resize_image(image, spec.width, spec.height, spec.resize, crop_fraction)


def normalize_batch(batch: np.ndarray, normalization: Normalization) -> np.ndarray:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W): x / 255, then (x - mean) / std."""
    x = batch.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(normalization.mean, np.float32)) / np.asarray(normalization.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class ClassifierPredictor:
    """Scores every label of one image: softmax (classification) or sigmoid (multilabel)."""

    def __init__(self, model_dir: Path, card: ModelCard, *, threads: int = 1) -> None:
        if card.task not in ("classification", "multilabel"):
            raise ValueError(f"ClassifierPredictor cannot run a {card.task!r} model")
        self.card = card
        self._session = open_session(Path(model_dir) / card.onnx_file, threads=threads)
        self._input_name = card.input.name
        self._output_name = output_name(card, "scores")

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """One image → uint8 (H, W, 3), ready for `normalize_batch`."""
        return resize_for_model(open_rgb(image), self.card.input)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) → float32 (N, labels) probabilities."""
        x = normalize_batch(batch, self.card.normalization)
        (out,) = self._session.run([self._output_name], {self._input_name: x})
        return np.asarray(out, dtype=np.float32)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph on `pipeline.prepare`'s tensors: {output name: array}."""
        (out,) = self._session.run([self._output_name], inputs)
        return {self._output_name: out}

    def predict(self, image: ImageInput, source_ref: str = "") -> ImagePrediction:
        # Imported here: pipeline.py builds on this module.
        from labelgate.backends.local.inference import pipeline

        rgb = open_rgb(image)
        outputs = self.run(pipeline.prepare(self.card, rgb))
        return pipeline.interpret(self.card, outputs, rgb.size, source_ref)

    def predict_many(
        self, items: Iterable[PredictItem], batch_size: int = 16
    ) -> list[ImagePrediction]:
        results: list[ImagePrediction] = []
        pending: list[tuple[str, np.ndarray]] = []
        for item in items:
            source, ref = item_source(item)
            pending.append((ref, self.preprocess(source)))
            if len(pending) >= batch_size:
                results.extend(self._flush(pending))
                pending = []
        if pending:
            results.extend(self._flush(pending))
        return results

    def _flush(self, pending: Sequence[tuple[str, np.ndarray]]) -> list[ImagePrediction]:
        probs = self.scores(np.stack([arr for _, arr in pending]))
        return [self._prediction(ref, row) for (ref, _), row in zip(pending, probs, strict=True)]

    def _prediction(self, source_ref: str, row: np.ndarray) -> ImagePrediction:
        scores = {label: float(p) for label, p in zip(self.card.labels, row, strict=True)}
        return ImagePrediction(source_ref=source_ref, scores=scores)


__all__ = [
    "RESIZE_POLICIES",
    "ClassifierPredictor",
    "normalize_batch",
    "resize_for_model",
    "resize_image",
    "source_box",
]
