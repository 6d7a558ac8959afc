"""Images for the classifiers: decoding once, training augmentation, evaluation arrays.

Three uses, three paths:
- training: each image is decoded once (JPEG draft mode for big photos) and kept in
  memory downscaled to a cap a bit above the training resolution, so an epoch costs
  augmentation and the network, never decoding. Augmentation is a random resized crop,
  horizontal flip (Pillow, in a prefetch thread) and colour jitter (torch, on the batch).
  All randomness comes from one numpy Generator per epoch, seeded from the run's seed, so
  a run is reproducible.
- evaluation (validation during training, feature extraction): the exact preprocessing
  serving uses (`inference.classifier.resize_image` on `open_rgb` of the original file),
  so validation numbers are serving numbers.
- the batches themselves: uint8 NHWC arrays until the last moment (4x less memory).
Every resize, training crops included, goes through `inference.images.resize_region`, which
keeps the crop box inside the image whatever the float arithmetic gave.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from labelgate.backends.local.inference.card import Normalization
from labelgate.backends.local.inference.classifier import normalize_batch, resize_image
from labelgate.backends.local.inference.imaging import Box, clamp_box, open_rgb, resize_region
from labelgate.backends.local.inference.records import Example

# Keep decoded images in memory while they fit in this many bytes; beyond it, decode
# from disk each time (slower, but a 50 000-photo set must not exhaust the worker).
MEMORY_BUDGET_BYTES = 3 << 30


@dataclass(frozen=True)
class AugmentConfig:
    min_scale: float = 0.25  # RandomResizedCrop area fraction
    max_scale: float = 1.0
    min_ratio: float = 3 / 4
    max_ratio: float = 4 / 3
    hflip: bool = True
    brightness: float = 0.3  # ColorJitter strengths: factor in [1 - s, 1 + s]
    contrast: float = 0.3
    saturation: float = 0.2

    def record(self) -> dict[str, object]:
        return {
            "random_resized_crop_scale": [self.min_scale, self.max_scale],
            "random_resized_crop_ratio": [round(self.min_ratio, 4), round(self.max_ratio, 4)],
            "horizontal_flip": self.hflip,
            "color_jitter": {
                "brightness": self.brightness,
                "contrast": self.contrast,
                "saturation": self.saturation,
            },
        }


class ImageStore:
    """Decoded RGB images by index, kept in memory when they fit the budget.

    `short_side_cap` downscales (training only: augmentation does not need more pixels);
    None keeps the decoded original, which is what evaluation must see.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        sizes: Sequence[tuple[int, int]],
        *,
        short_side_cap: int | None = None,
        memory_budget: int = MEMORY_BUDGET_BYTES,
        threads: int = 1,
    ) -> None:
        self.paths = list(paths)
        self.cap = short_side_cap
        expected = sum(3 * w * h * self._shrink(w, h) ** 2 for w, h in sizes)
        self._cache: list[Image.Image] | None = None
        if expected <= memory_budget:
            with ThreadPoolExecutor(max(1, threads)) as pool:  # decoding releases the GIL
                self._cache = list(pool.map(self._load, range(len(self.paths))))

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def in_memory(self) -> bool:
        return self._cache is not None

    def __getitem__(self, index: int) -> Image.Image:
        return self._cache[index] if self._cache is not None else self._load(index)

    def _shrink(self, width: int, height: int) -> float:
        if self.cap is None or min(width, height) <= self.cap:
            return 1.0
        return self.cap / min(width, height)

    def _load(self, index: int) -> Image.Image:
        path = self.paths[index]
        if self.cap is None:
            return open_rgb(path)
        with Image.open(path) as raw:
            # JPEG draft decodes at 1/2..1/8 scale directly, never below the requested size.
            raw.draft("RGB", (self.cap, self.cap))
            image = open_rgb(raw)
            image.load()
        factor = self._shrink(image.width, image.height)
        if factor < 1.0:
            size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = resize_region(image, *size, reducing_gap=3.0)
        return image


def random_resized_crop_box(
    width: int, height: int, rng: np.random.Generator, aug: AugmentConfig
) -> Box:
    """torchvision's RandomResizedCrop sampling, drawn from `rng` (10 tries, then centre);
    the box is always inside the image."""
    area = width * height
    log_lo, log_hi = math.log(aug.min_ratio), math.log(aug.max_ratio)
    for _ in range(10):
        target = area * rng.uniform(aug.min_scale, aug.max_scale)
        ratio = math.exp(rng.uniform(log_lo, log_hi))
        w = math.sqrt(target * ratio)
        h = math.sqrt(target / ratio)
        if 0 < w <= width and 0 < h <= height:
            left = rng.uniform(0, width - w)
            top = rng.uniform(0, height - h)
            # left + w may round a hair past the edge, which Pillow refuses.
            return clamp_box((left, top, left + w, top + h), width, height)
    # Fallback: the largest centre crop within the ratio range.
    ratio = width / height
    if ratio < aug.min_ratio:
        w, h = float(width), width / aug.min_ratio
    elif ratio > aug.max_ratio:
        w, h = height * aug.max_ratio, float(height)
    else:
        w, h = float(width), float(height)
    left, top = (width - w) / 2, (height - h) / 2
    return clamp_box((left, top, left + w, top + h), width, height)


@dataclass
class TrainBatch:
    pixels: np.ndarray  # uint8 (N, H, W, 3)
    jitter: np.ndarray  # float32 (N, 3): brightness, contrast, saturation factors
    indices: np.ndarray  # which training images


class TrainBatches:
    """Shuffled, augmented batches for one epoch at a time, prepared in a helper thread."""

    def __init__(
        self,
        images: ImageStore,
        *,
        batch_size: int,
        aug: AugmentConfig,
        seed: int,
    ) -> None:
        self.images = images
        self.batch_size = max(1, min(batch_size, len(images)))
        self.aug = aug
        self.seed = seed

    def steps_per_epoch(self) -> int:
        # Drop the ragged last batch: a batch of 1-2 images gives BatchNorm poor statistics.
        return max(1, len(self.images) // self.batch_size)

    def epoch(self, epoch: int, resolution: int) -> Iterator[TrainBatch]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.images))
        plans = []
        for step in range(self.steps_per_epoch()):
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]
            plans.append(idx)
        # The random draws happen in this one thread in a fixed order: reproducible.
        return _prefetch((lambda idx=idx: self._make(idx, rng, resolution)) for idx in plans)

    def _make(self, idx: np.ndarray, rng: np.random.Generator, resolution: int) -> TrainBatch:
        aug = self.aug
        pixels = np.empty((len(idx), resolution, resolution, 3), np.uint8)
        for row, i in enumerate(idx):
            image = self.images[int(i)]
            box = random_resized_crop_box(image.width, image.height, rng, aug)
            crop = resize_region(image, resolution, resolution, box)
            if aug.hflip and rng.random() < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            pixels[row] = np.asarray(crop, np.uint8)
        strengths = np.array([aug.brightness, aug.contrast, aug.saturation], np.float32)
        jitter = 1.0 + rng.uniform(-1.0, 1.0, size=(len(idx), 3)).astype(np.float32) * strengths
        return TrainBatch(pixels=pixels, jitter=jitter, indices=idx)


def _prefetch(jobs: Iterator[Callable[[], TrainBatch]], depth: int = 2) -> Iterator[TrainBatch]:
    """Run the batch-making jobs one after another in a thread, `depth` batches ahead.

    Pillow releases the GIL while resizing, so preparing the next batch overlaps the
    network's step. Stopping early (budget reached) just abandons the thread's queue.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for job in jobs:
                if stop.is_set():
                    return
                out.put(job())
        except BaseException as exc:  # surfaced in the consumer
            out.put(exc)
            return
        out.put(None)

    thread = threading.Thread(target=work, name="train-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


_GRAY = (0.299, 0.587, 0.114)


def batch_tensor(batch: TrainBatch, normalization: Normalization, device: torch.device) -> Tensor:
    """uint8 NHWC + jitter factors → normalized float NCHW (channels_last) on `device`."""
    x = torch.from_numpy(batch.pixels).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    factors = torch.from_numpy(batch.jitter).to(device)
    gray_w = torch.tensor(_GRAY, device=device).view(1, 3, 1, 1)
    x = x * factors[:, 0].view(-1, 1, 1, 1)  # brightness
    mean = (x * gray_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = (x - mean) * factors[:, 1].view(-1, 1, 1, 1) + mean  # contrast
    x = x.clamp_(0.0, 1.0)
    gray = (x * gray_w).sum(1, keepdim=True)
    x = (gray + (x - gray) * factors[:, 2].view(-1, 1, 1, 1)).clamp_(0.0, 1.0)  # saturation
    m = torch.tensor(normalization.mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(normalization.std, device=device).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def eval_pixels(
    images: ImageStore,
    width: int,
    height: int,
    policy: str,
    crop_fraction: float = 1.0,
) -> np.ndarray:
    """The serving preprocessing of every image: uint8 (N, H, W, 3)."""
    out = np.empty((len(images), height, width, 3), np.uint8)
    for i in range(len(images)):
        out[i] = resize_image(images[i], width, height, policy, crop_fraction)
    return out


def eval_tensor(pixels: np.ndarray, normalization: Normalization, device: torch.device) -> Tensor:
    """uint8 NHWC → the same float NCHW serving feeds ONNX (bit-identical numpy path)."""
    x = torch.from_numpy(normalize_batch(pixels, normalization)).to(device)
    return x.contiguous(memory_format=torch.channels_last)


def example_store(
    examples: Sequence[Example], *, short_side_cap: int | None, threads: int
) -> ImageStore:
    return ImageStore(
        [e.image_path for e in examples],
        [(e.width, e.height) for e in examples],
        short_side_cap=short_side_cap,
        threads=threads,
    )


__all__ = [
    "AugmentConfig",
    "ImageStore",
    "TrainBatch",
    "TrainBatches",
    "batch_tensor",
    "eval_pixels",
    "eval_tensor",
    "example_store",
    "random_resized_crop_box",
]
