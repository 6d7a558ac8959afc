"""Object detection with an exported labelgate detector (ONNX Runtime, no torch).

The trainer predicts its test set through this module and serving uses it unchanged, so the
evaluation scores exactly what DetectCustomLabels returns.

Preprocessing per the card's "input" (resize policy "letterbox_top_left"): the image is
scaled by one factor so it fits the fixed canvas (height x width) with its aspect ratio kept,
placed at the top-left corner, and the rest of the canvas is padding whose normalized value
is 0 (the mean colour). Pixels are RGB in [0, 1], then (x - mean) / std per channel.
The graph returns boxes (x1, y1, x2, y2) in canvas pixels, scores in 0..1 and 0-based label
indices; `predict` maps the boxes back to original-image pixels (left, top, width, height).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.card import ModelCard, output_name
from labelgate.backends.local.inference.imaging import ImageInput, resize_region
from labelgate.backends.local.inference.predictor import PredictItem, item_source, open_session
from labelgate.backends.local.inference.records import Detection, ImagePrediction

RESIZE_POLICY = "letterbox_top_left"


def fitted_size(width: int, height: int, canvas_width: int, canvas_height: int) -> tuple[int, int]:
    """The size an image of width x height is resized to so it fits the canvas."""
    scale = min(canvas_width / width, canvas_height / height)
    new_w = min(canvas_width, max(1, round(width * scale)))
    new_h = min(canvas_height, max(1, round(height * scale)))
    return new_w, new_h


def fit_to_canvas(image: Image.Image, canvas_width: int, canvas_height: int) -> Image.Image:
    """Resize (bilinear, aspect kept) so the image fits the canvas; training does the same."""
    size = fitted_size(image.width, image.height, canvas_width, canvas_height)
    if size == image.size:
        return image
    return resize_region(image, *size)


def normalize(pixels: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 HxWx3 (or HxW, grey replicated) → float32 HxWx3 normalized per channel."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def place_on_canvas(
    pixels: np.ndarray,
    canvas_width: int,
    canvas_height: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """uint8 HxWx3 (or HxW) pixels → float32 3 x canvas_height x canvas_width: normalized
    at the top-left corner, 0 (the mean colour) elsewhere. Serving's canvas, the trainer's
    validation canvases and its training crops are all built here."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if height > canvas_height or width > canvas_width:
        raise ValueError(
            f"{width}x{height} pixels do not fit a {canvas_width}x{canvas_height} canvas"
        )
    x = np.zeros((3, canvas_height, canvas_width), np.float32)
    x[:, :height, :width] = normalize(pixels, mean, std).transpose(2, 0, 1)
    return x


def canvas_tensor(
    image: Image.Image,
    canvas_width: int,
    canvas_height: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> tuple[np.ndarray, float, float]:
    """The 1x3xHxW model input and the x / y scale factors from the original image."""
    resized = fit_to_canvas(image.convert("RGB"), canvas_width, canvas_height)
    x = place_on_canvas(np.asarray(resized), canvas_width, canvas_height, mean, std)
    return x[None], resized.width / image.width, resized.height / image.height


class DetectorPredictor:
    """Detections of one image from an exported detector. Safe to call from several threads."""

    def __init__(self, model_dir: Path, card: ModelCard, *, threads: int = 1) -> None:
        if card.task != "detection":
            raise ValueError(f"DetectorPredictor cannot run a {card.task!r} model")
        if card.input.resize != RESIZE_POLICY:
            raise ValueError(f"unsupported resize policy {card.input.resize!r} for detection")
        self.card = card
        self._session = open_session(Path(model_dir) / card.onnx_file, threads=threads)
        self._input_name = card.input.name
        self._output_names = [output_name(card, key) for key in ("boxes", "scores", "labels")]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph on `pipeline.prepare`'s tensors: {output name: array}."""
        outs = self._session.run(self._output_names, inputs)
        return dict(zip(self._output_names, outs, strict=True))

    def predict(self, image: ImageInput, source_ref: str = "") -> ImagePrediction:
        # Imported here: pipeline.py builds on this module.
        from labelgate.backends.local.inference import pipeline

        return pipeline.predict(self.card, self.run, image, source_ref)

    def predict_many(
        self, items: Iterable[PredictItem], batch_size: int = 16
    ) -> list[ImagePrediction]:
        # The graph takes one image (detections per image vary); batch_size is accepted for
        # the Predictor protocol only.
        del batch_size
        out = []
        for item in items:
            source, ref = item_source(item)
            out.append(self.predict(source, ref))
        return out


def to_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    scale_x: float,
    scale_y: float,
    width: int,
    height: int,
    names: Sequence[str],
) -> tuple[Detection, ...]:
    """Canvas-pixel xyxy boxes → original-image (left, top, width, height), best first."""
    out = []
    for (x1, y1, x2, y2), score, label in zip(
        boxes.tolist(), scores.tolist(), labels.tolist(), strict=True
    ):
        # Clip to the image: boxes may reach into the padding of the canvas.
        left = min(max(x1 / scale_x, 0.0), width)
        top = min(max(y1 / scale_y, 0.0), height)
        right = min(max(x2 / scale_x, 0.0), width)
        bottom = min(max(y2 / scale_y, 0.0), height)
        if right - left <= 0.0 or bottom - top <= 0.0:
            continue
        out.append(
            Detection(
                label=names[int(label)],
                confidence=float(score),
                left=left,
                top=top,
                width=right - left,
                height=bottom - top,
            )
        )
    out.sort(key=lambda d: -d.confidence)
    return tuple(out)


__all__ = [
    "RESIZE_POLICY",
    "DetectorPredictor",
    "canvas_tensor",
    "fit_to_canvas",
    "fitted_size",
    "normalize",
    "place_on_canvas",
    "to_detections",
]
