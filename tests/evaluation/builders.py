"""Test sets and predictions built by hand, so every expected figure can be counted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labelgate.backends.local.inference.records import Box, Detection, Example, ImagePrediction

NO_IMAGE = Path("/nonexistent/image.png")  # the report draws a placeholder for it


def image_example(i: int, labels: Sequence[str], *, path: Path = NO_IMAGE, size: int = 64
                  ) -> Example:
    return Example(source_ref=f"s3://bucket/img/{i:04d}.png", image_path=path, width=size,
                   height=size, labels=tuple(labels))


def scored(example: Example, scores: dict[str, float]) -> ImagePrediction:
    return ImagePrediction(source_ref=example.source_ref, scores=dict(scores))


def counts_test_set(labels: Sequence[str], counts: dict[str, Sequence[int]],
                    thresholds: dict[str, float], low: float = 0.01
                    ) -> tuple[list[Example], list[ImagePrediction]]:
    """A classification test set from a top-1 count table (GT -> predicted, label order):
    the predicted label scores exactly its threshold, every other label `low`."""
    examples, predictions = [], []
    for truth in labels:
        for predicted, n in zip(labels, counts[truth], strict=True):
            for _ in range(n):
                example = image_example(len(examples), [truth])
                scores = {label: low for label in labels}
                scores[predicted] = thresholds[predicted]
                examples.append(example)
                predictions.append(scored(example, scores))
    return examples, predictions


def box(label: str, left: float, top: float, width: float = 40, height: float = 40) -> Box:
    return Box(label, left, top, width, height)


def det(label: str, confidence: float, left: float, top: float, width: float = 40,
        height: float = 40) -> Detection:
    return Detection(label, confidence, left, top, width, height)


def box_example(i: int, boxes: Sequence[Box], *, path: Path = NO_IMAGE, size: int = 1000
                ) -> Example:
    return Example(source_ref=f"s3://bucket/img/{i:04d}.jpg", image_path=path, width=size,
                   height=size, labels=tuple(sorted({b.label for b in boxes})),
                   boxes=tuple(boxes))


def detected(example: Example, detections: Sequence[Detection]) -> ImagePrediction:
    return ImagePrediction(source_ref=example.source_ref, detections=tuple(detections))


def grid_position(k: int) -> tuple[float, float]:
    """Far-apart 40 px slots in a 1000 px image (no two slots overlap)."""
    return float((k % 15) * 60), float((k // 15) * 60)
