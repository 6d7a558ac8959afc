"""What both learners share about running torch: the device, the learning-rate schedule."""

from __future__ import annotations

import math

import torch


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when torch sees a GPU, else the CPU; anything else is torch's name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def warmup_cosine(progress: float, warmup: float, *, start: float = 0.0, floor: float = 0.0
                  ) -> float:
    """The learning-rate factor at `progress` (0..1 of the run): a linear rise from `start`
    to 1 over the first `warmup` of the run (never under `floor`), then a cosine down to 0
    over the rest."""
    if progress < warmup:
        return max(floor, start + (1.0 - start) * progress / warmup)
    rest = (progress - warmup) / max(1e-9, 1.0 - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, rest)))


__all__ = ["resolve_device", "warmup_cosine"]
