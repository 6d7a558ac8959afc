"""AutoML's rules for the detector, on box statistics alone (no images are opened)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelgate.backends.local.inference.records import Box, Example
from labelgate.backends.local.training.learners.detection_automl import (
    DetectorOptions,
    default_budget,
    plan_detector,
)


def _examples(
    n: int,
    width: int,
    height: int,
    boxes_per_image: int,
    box_size: tuple[float, float],
    aspect: tuple[float, float],
    labels: tuple[str, ...],
    y_range: tuple[float, float] = (0.05, 0.75),
    seed: int = 0,
) -> list[Example]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        boxes = []
        for _ in range(boxes_per_image):
            size = rng.uniform(*box_size)
            ratio = float(np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]))))
            w, h = size / np.sqrt(ratio), size * np.sqrt(ratio)
            left = rng.uniform(0, width - w)
            top = rng.uniform(y_range[0] * height, y_range[1] * height)
            label = labels[int(rng.integers(len(labels)))]
            boxes.append(Box(label, float(left), float(min(top, height - h)), float(w), float(h)))
        out.append(
            Example(
                source_ref=f"s3://b/{i}.png",
                image_path=Path(f"/nonexistent/{i}.png"),
                width=width,
                height=height,
                labels=tuple(sorted({b.label for b in boxes})),
                boxes=tuple(boxes),
            )
        )
    return out


PCB_LABELS = ("copper", "mousebite", "open", "pin-hole", "short", "spur")


def test_deeppcb_like_data_gets_the_prototype_setup():
    examples = _examples(1000, 640, 640, 7, (25, 70), (0.6, 1.6), PCB_LABELS)
    plan = plan_detector(examples, PCB_LABELS, None)
    assert plan.canvas == (480, 480)  # 0.75 scale: small defects become ~20 px
    assert plan.crop == (320, 320)
    assert plan.augment == "dihedral"
    sizes = [s for level in plan.net.anchor_sizes for s in level]
    assert len(plan.net.anchor_sizes) == 3 and len(sizes) == 6
    assert sizes == sorted(sizes) and 12 <= sizes[0] <= 16 and 60 <= sizes[-1] <= 80
    assert plan.net.aspect_ratios[1] == 1.0
    assert plan.val_count == 100
    assert plan.nms_candidates == (None, 0.7, 0.5)
    assert plan.net.roi_batch_size_per_image == 64
    assert plan.lr == 0.02 and plan.warmup_fraction == 0.05
    assert plan.time_budget_s == pytest.approx(default_budget(900, (480, 480)))
    assert 1400 <= plan.time_budget_s <= 1800
    record = plan.record()
    assert record["augmentation"] == "dihedral" and record["input_size"] == [480, 480]
    assert set(record["reasons"]) >= {"input_size", "anchors", "augmentation", "crop_size"}


def test_photos_with_standing_objects_get_horizontal_flips_only():
    examples = _examples(200, 640, 480, 2, (60, 200), (2.0, 3.0), ("person",), (0.3, 0.9))
    plan = plan_detector(examples, ("person",), 300.0)
    assert plan.augment == "hflip"
    assert plan.canvas == (288, 384)  # large objects: down to the 384 px long-side floor
    assert plan.net.aspect_ratios[2] >= 2.0  # tall boxes get tall anchors
    assert plan.nms_candidates == (None,)  # one class: nothing for class-blind NMS to do
    assert plan.time_budget_s == 300.0


def test_tiny_objects_are_enlarged_at_most_twice():
    examples = _examples(40, 200, 200, 3, (4, 6), (0.9, 1.1), ("dot",))
    plan = plan_detector(examples, ("dot",), 60.0)
    assert plan.canvas == (416, 416)  # 2x, rounded up to a multiple of 32


def test_large_images_are_capped():
    examples = _examples(20, 4000, 3000, 2, (400, 800), (0.8, 1.2), ("a", "b"))
    plan = plan_detector(examples, ("a", "b"), 60.0)
    assert max(plan.canvas) <= 1024


def test_few_images_have_no_validation_split():
    examples = _examples(6, 96, 96, 2, (15, 25), (0.8, 1.2), ("a", "b"))
    plan = plan_detector(examples, ("a", "b"), 60.0)
    assert plan.val_count == 0 and plan.patience is None and plan.nms_candidates == (None,)
    # Few images: a gentler learning rate and a longer warmup.
    assert plan.lr == 0.01 and plan.warmup_fraction == 0.25
    assert "lr" in plan.reasons


def test_fixed_defaults_ignore_the_data():
    examples = _examples(100, 640, 640, 7, (25, 70), (0.6, 1.6), PCB_LABELS)
    plan = plan_detector(examples, PCB_LABELS, 600.0, DetectorOptions(automl=False))
    assert plan.canvas == plan.crop == (640, 640)
    assert plan.net.anchor_sizes == ((32.0,), (64.0,), (128.0,))
    assert plan.net.aspect_ratios == (0.5, 1.0, 2.0)
    assert plan.augment == "hflip" and plan.val_count == 0 and plan.max_epochs == 12
    assert plan.nms_candidates == (None,)
