"""Tiny generated detection data: grey images with coloured squares, two easy classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.records import Box, Example

COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220)}


def make_examples(
    folder: Path,
    count: int,
    seed: int,
    labels: tuple[str, ...] = ("blue", "red"),
    size: int = 96,
    max_objects: int = 3,
    empty: int = 0,
    prefix: str = "img",
    sides: tuple[int, int] = (12, 22),
) -> list[Example]:
    """`count` images with 1..max_objects non-overlapping squares (sides px); the last
    `empty` images have none."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    examples = []
    for n in range(count):
        pixels = np.full((size, size, 3), 128, np.uint8)
        pixels += rng.integers(0, 12, pixels.shape, dtype=np.uint8)  # a little texture
        boxes: list[Box] = []
        wanted = 0 if n >= count - empty else int(rng.integers(1, max_objects + 1))
        tries = 0
        while len(boxes) < wanted and tries < 50:
            tries += 1
            side = int(rng.integers(sides[0], sides[1] + 1))
            left, top = (int(v) for v in rng.integers(0, size - side, 2))
            if any(
                left < b.left + b.width + 2
                and b.left < left + side + 2
                and top < b.top + b.height + 2
                and b.top < top + side + 2
                for b in boxes
            ):
                continue
            label = labels[int(rng.integers(0, len(labels)))]
            pixels[top : top + side, left : left + side] = COLOURS[label]
            boxes.append(Box(label, float(left), float(top), float(side), float(side)))
        path = folder / f"{prefix}{n:03d}.png"
        Image.fromarray(pixels).save(path)
        examples.append(
            Example(
                source_ref=f"s3://bucket/{path.name}",
                image_path=path,
                width=size,
                height=size,
                labels=tuple(sorted({b.label for b in boxes})),
                boxes=tuple(boxes),
            )
        )
    return examples
