"""Image classifiers (softmax single-label and sigmoid multi-label) over an ONNX file.

Preprocessing is numpy + Pillow only, because serving imports it without torch; the
trainer evaluates its validation images through these same functions, so the numbers it
chose a model by are the numbers serving reproduces.

Resize policies (card `input.resize`), all one bilinear Pillow resize from a source box
(no intermediate rounding; `images.resize_region` keeps the box inside the image):
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
from labelgate.backends.local.inference.imaging import (
    Box,
    ImageInput,
    clamp_box,
    open_rgb,
    resize_region,
)
from labelgate.backends.local.inference.predictor import PredictItem, item_source, open_session
from labelgate.backends.local.inference.records import ImagePrediction

RESIZE_POLICIES = (SHORTER_SIDE_CENTER_CROP, STRETCH)


def source_box(
    width: int,
    height: int,
    out_width: int,
    out_height: int,
    policy: str,
    crop_fraction: float = 1.0,
) -> Box:
    """The region (left, top, right, bottom) of a width x height image that the policy
    maps onto the out_width x out_height input; always inside the image and not empty."""
    if policy == STRETCH:
        return (0.0, 0.0, float(width), float(height))
    if policy != SHORTER_SIDE_CENTER_CROP:
        raise ValueError(f"unknown resize policy {policy!r}; known: {', '.join(RESIZE_POLICIES)}")
    if not 0.0 < crop_fraction <= 1.0:
        raise ValueError(f"crop_fraction must be in (0, 1], not {crop_fraction!r}")
    # The side the input's aspect ratio fills is taken whole (times crop_fraction), the
    # other follows from the ratio: the integer comparison decides which, so a square
    # image keeps exactly its own sides rather than a scale-and-divide round trip's
    # 173.00000000000003.
    if width * out_height >= height * out_width:  # wider than the input: full height
        crop_h = height * crop_fraction
        crop_w = crop_h * out_width / out_height
    else:
        crop_w = width * crop_fraction
        crop_h = crop_w * out_height / out_width
    left, top = (width - crop_w) / 2.0, (height - crop_h) / 2.0
    return clamp_box((left, top, left + crop_w, top + crop_h), width, height)


def resize_image(
    image: Image.Image,
    width: int,
    height: int,
    policy: str,
    crop_fraction: float = 1.0,
) -> np.ndarray:
    """RGB image → uint8 array (height, width, 3) per the resize policy."""
    box = source_box(image.width, image.height, width, height, policy, crop_fraction)
    return np.asarray(resize_region(image, width, height, box), dtype=np.uint8)


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

        return pipeline.predict(self.card, self.run, image, source_ref)

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
