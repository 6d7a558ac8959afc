"""Tiny generated training data: one solid colour per label, 64x64 PNGs, manifest lines."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image

COLOURS = {
    "red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220),
    "yellow": (230, 220, 30), "black": (10, 10, 10),
}
SIZE = 64  # the smallest side Custom Labels accepts


@functools.cache
def png(colour: tuple[int, int, int], width: int = SIZE, height: int = SIZE,
        shade: int = 0) -> bytes:
    out = io.BytesIO()
    r, g, b = colour
    Image.new("RGB", (width, height), (min(255, r + shade), min(255, g + shade),
                                       min(255, b + shade))).save(out, format="PNG")
    return out.getvalue()


def label_colour(labels: Sequence[str]) -> tuple[int, int, int]:
    """The image colour for a set of labels: the mean of theirs."""
    colours = [COLOURS[label] for label in labels]
    return tuple(sum(c[i] for c in colours) // len(colours) for i in range(3))  # type: ignore


def classification(ref: str, *labels: str) -> dict[str, Any]:
    """One image-level attribute per label (several: a multi-label image)."""
    line: dict[str, Any] = {"source-ref": ref}
    for i, label in enumerate(labels):
        line[f"attr{i}"] = 1
        line[f"attr{i}-metadata"] = {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification", "job-name": f"labeling-job/attr{i}",
        }
    return line


def detection(ref: str, boxes: Iterable[tuple[str, int, int, int, int]],
              width: int = SIZE, height: int = SIZE) -> dict[str, Any]:
    boxes = list(boxes)
    names = sorted({b[0] for b in boxes})
    return {
        "source-ref": ref,
        "bb": {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [{"class_id": names.index(label), "left": left, "top": top,
                             "width": w, "height": h} for label, left, top, w, h in boxes],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(i): name for i, name in enumerate(names)},
            "type": "groundtruth/object-detection", "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00", "job-name": "labeling-job/bb",
        },
    }


def manifest(lines: Iterable[dict[str, Any] | str]) -> bytes:
    return "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n"
                   for ln in lines).encode()
