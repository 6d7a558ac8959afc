"""Tiny generated image sets for the classifier tests (seconds to train on one thread)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from labelgate.backends.local.inference.records import CLASSIFICATION, MULTILABEL, Example
from labelgate.backends.local.training.contract import TrainingRequest, TrainingSettings

SIZE = 48
COLORS = {"red": (200, 40, 40), "blue": (40, 60, 200), "green": (40, 180, 60)}


def _noisy(rng: np.random.Generator, base: np.ndarray, amount: int = 40) -> np.ndarray:
    noise = rng.integers(-amount, amount + 1, size=base.shape)
    return np.clip(base.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def _save(folder: Path, name: str, pixels: np.ndarray, labels: Sequence[str]) -> Example:
    path = folder / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return Example(
        source_ref=f"s3://bucket/{name}.png",
        image_path=path,
        width=pixels.shape[1],
        height=pixels.shape[0],
        labels=tuple(labels),
    )


def color_images(
    folder: Path, per_label: int, labels: Sequence[str], seed: int, prefix: str
) -> list[Example]:
    """Solid colours with noise and a random darker square: learnable from colour alone."""
    rng = np.random.default_rng(seed)
    out = []
    for label in labels:
        for i in range(per_label):
            base = np.zeros((SIZE, SIZE + 8 * (i % 2), 3), np.uint8) + np.array(
                COLORS[label], np.uint8
            )
            y, x = rng.integers(0, SIZE // 2, size=2)
            base[y : y + 12, x : x + 12] //= 2
            out.append(_save(folder, f"{prefix}-{label}-{i}", _noisy(rng, base), [label]))
    return out


def random_label_images(
    folder: Path, n: int, labels: Sequence[str], seed: int, prefix: str
) -> list[Example]:
    """Pure noise with labels drawn at random: nothing to learn."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pixels = rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
        label = labels[i % len(labels)]
        out.append(_save(folder, f"{prefix}-noise-{i}", pixels, [label]))
    return out


def quadrant_images(folder: Path, n: int, seed: int, prefix: str) -> list[Example]:
    """Multi-label: label "red"/"blue"/"green" present when that colour fills a quadrant."""
    rng = np.random.default_rng(seed)
    names = sorted(COLORS)
    out = []
    for i in range(n):
        present = [name for name in names if rng.random() < 0.5] or [names[i % len(names)]]
        pixels = np.full((SIZE, SIZE, 3), 128, np.uint8)
        quads = rng.permutation(4)[: len(present)]
        for name, q in zip(present, quads, strict=False):
            y, x = (q // 2) * (SIZE // 2), (q % 2) * (SIZE // 2)
            pixels[y : y + SIZE // 2, x : x + SIZE // 2] = COLORS[name]
        out.append(_save(folder, f"{prefix}-multi-{i}", _noisy(rng, pixels, 25), present))
    return out


def request(
    task: str,
    train: Sequence[Example],
    test: Sequence[Example],
    workdir: Path,
    *,
    seed: int = 0,
    time_budget_s: float | None = 600.0,
) -> TrainingRequest:
    labels = tuple(sorted({label for e in (*train, *test) for label in e.labels}))
    assert task in (CLASSIFICATION, MULTILABEL)
    return TrainingRequest(
        task=task,  # type: ignore[arg-type]
        labels=labels,
        train=tuple(train),
        test=tuple(test),
        workdir=workdir,
        settings=TrainingSettings(seed=seed, time_budget_s=time_budget_s, threads=1),
    )
