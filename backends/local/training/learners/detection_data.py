"""Training data for the detector: letterboxed images in memory, the validation split, crops.

Every image is resized once exactly as serving will resize it (inference/detector.py's
`fit_to_canvas`), so the objects the network learns have the sizes it will see; training
then samples random crops of that image (the whole image when it is no larger than a crop).
Crops keep the image at the top-left with padding right/bottom, like the serving canvas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.detector import fit_to_canvas, place_on_canvas
from labelgate.backends.local.inference.imaging import open_rgb
from labelgate.backends.local.inference.records import Example

# A box cut by a crop stays a training target when at least this much of it is inside.
MIN_VISIBLE_FRACTION = 0.5
MIN_BOX_SIDE = 1.0  # canvas pixels; thinner remains are dropped

ImageLoader = Callable[[Path], Image.Image]


def load_rgb(path: Path) -> Image.Image:
    """The image as serving decodes it (EXIF orientation applied, 8-bit RGB)."""
    return open_rgb(path)


@dataclass(frozen=True)
class ImageRecord:
    """One image resized to fit the canvas, with its boxes in resized pixels."""

    pixels: np.ndarray  # uint8 HxW (grey) or HxWx3
    boxes: np.ndarray  # float32 [N, 4] xyxy
    labels: np.ndarray  # int64 [N], 0-based
    scale_x: float
    scale_y: float

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def load_record(
    example: Example,
    label_index: dict[str, int],
    canvas: tuple[int, int],
    loader: ImageLoader = load_rgb,
) -> ImageRecord:
    image = loader(example.image_path)
    resized = fit_to_canvas(image, canvas[1], canvas[0])
    pixels = np.asarray(resized, dtype=np.uint8)
    # Grey images (DeepPCB) are kept with one channel: a third of the memory, same values.
    if (
        pixels.ndim == 3
        and np.array_equal(pixels[:, :, 0], pixels[:, :, 1])
        and np.array_equal(pixels[:, :, 0], pixels[:, :, 2])
    ):
        pixels = np.ascontiguousarray(pixels[:, :, 0])
    sx, sy = resized.width / image.width, resized.height / image.height
    boxes = np.array(
        [
            [b.left * sx, b.top * sy, (b.left + b.width) * sx, (b.top + b.height) * sy]
            for b in example.boxes
        ],
        np.float32,
    ).reshape(-1, 4)
    labels = np.array([label_index[b.label] for b in example.boxes], np.int64)
    return ImageRecord(pixels, boxes, labels, sx, sy)


def split_validation(
    examples: Sequence[Example], count: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Indices (train, val): `count` images for validation, every label in it if possible.

    Labels are visited from the rarest; each gets one image of its own in the validation
    split while it still has at least two training images, then random images fill it up.
    """
    n = len(examples)
    if count <= 0:
        return list(range(n)), []
    order = [int(i) for i in rng.permutation(n)]
    val: list[int] = []
    chosen: set[int] = set()
    counts: dict[str, int] = {}
    for ex in examples:
        for label in set(ex.labels):
            counts[label] = counts.get(label, 0) + 1
    for label in sorted(counts, key=lambda k: (counts[k], k)):
        if len(val) >= count or counts[label] < 3:
            continue
        if any(label in examples[i].labels for i in val):
            continue
        for i in order:
            if i not in chosen and label in examples[i].labels:
                val.append(i)
                chosen.add(i)
                break
    for i in order:
        if len(val) >= count:
            break
        if i not in chosen:
            val.append(i)
            chosen.add(i)
    train = [i for i in range(n) if i not in chosen]
    return train, sorted(val)


def canvas_input(record: ImageRecord, canvas: tuple[int, int], mean, std) -> np.ndarray:
    """The 3xHxW normalized canvas of one record (padding = 0), as serving builds it."""
    return place_on_canvas(record.pixels, canvas[1], canvas[0], mean, std)


@dataclass(frozen=True)
class Crop:
    image: np.ndarray  # float32 3xHxW, normalized, padding 0
    boxes: np.ndarray  # float32 [N, 4] xyxy in crop pixels
    labels: np.ndarray  # int64 [N]


def sample_crop(
    record: ImageRecord,
    size: tuple[int, int],
    augment: str,
    rng: np.random.Generator,
    mean: Sequence[float],
    std: Sequence[float],
) -> Crop:
    """A random crop of `size` (h, w) with the chosen flips.

    augment: "none", "hflip" (horizontal flip, p = 0.5) or "dihedral" (horizontal and
    vertical flips and transpose, each p = 0.5: the 8 symmetries of the square; only for
    square crops).
    """
    ch, cw = size
    y0 = int(rng.integers(0, max(0, record.height - ch) + 1))
    x0 = int(rng.integers(0, max(0, record.width - cw) + 1))
    region = record.pixels[y0 : y0 + ch, x0 : x0 + cw]
    rh, rw = int(region.shape[0]), int(region.shape[1])
    boxes = record.boxes - np.array([x0, y0, x0, y0], np.float32)
    clipped = np.stack(
        [
            boxes[:, 0].clip(0, rw),
            boxes[:, 1].clip(0, rh),
            boxes[:, 2].clip(0, rw),
            boxes[:, 3].clip(0, rh),
        ],
        axis=1,
    ).reshape(-1, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (
        (visible >= MIN_VISIBLE_FRACTION * np.maximum(area, 1e-6))
        & (clipped[:, 2] - clipped[:, 0] >= MIN_BOX_SIDE)
        & (clipped[:, 3] - clipped[:, 1] >= MIN_BOX_SIDE)
    )
    boxes, labels = clipped[keep], record.labels[keep]
    # Flip the image region itself (not the padded crop) so the padding stays at the
    # right/bottom as on the serving canvas.
    if augment in ("hflip", "dihedral") and rng.random() < 0.5:
        region = region[:, ::-1]
        boxes = np.stack([rw - boxes[:, 2], boxes[:, 1], rw - boxes[:, 0], boxes[:, 3]], 1)
    if augment == "dihedral":
        if rng.random() < 0.5:
            region = region[::-1]
            boxes = np.stack([boxes[:, 0], rh - boxes[:, 3], boxes[:, 2], rh - boxes[:, 1]], 1)
        if ch == cw and rng.random() < 0.5:
            region = region.swapaxes(0, 1)
            boxes = boxes[:, [1, 0, 3, 2]]
            rh, rw = rw, rh
    image = place_on_canvas(np.ascontiguousarray(region), cw, ch, mean, std)
    return Crop(image, np.ascontiguousarray(boxes, np.float32).reshape(-1, 4), labels)


__all__ = [
    "Crop",
    "ImageLoader",
    "ImageRecord",
    "canvas_input",
    "load_record",
    "load_rgb",
    "sample_crop",
    "split_validation",
]
