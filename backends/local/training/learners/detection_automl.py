"""The detector's AutoML: every training choice derived from the training boxes and images.

Rules, not searches: the CPU budget allows one training run, so each choice is a rule
calibrated on the DeepPCB prototype (docs/training-notes.md) and recorded with
its reason. Two choices are measured on the validation split after training instead: the
checkpoint (best val score) and class-blind NMS (on/off, IoU).

`fixed_plan` is the benchmark baseline: the same detector with fixed default
hyper-parameters and no data-driven choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from labelgate.backends.local.inference.records import Example
from labelgate.backends.local.training.learners.detection_model import NetConfig

SMALL_OBJECT_TARGET_PX = 20.0  # 5th-percentile object size (sqrt area) after resizing
MAX_CANVAS_SIDE = 1024  # CPU cost grows with the canvas area
MIN_CANVAS_SIDE = 64
MIN_CANVAS_LONG_SIDE = 384
CROP_SIDE = 320  # prototype: 320 px crops of 480 px images, 6 crops/s on 2 cores
# SGD learning rate for a batch of 8, by training-set size: the prototype's 0.02 from 500
# images up (measured on DeepPCB, H100, 452 iterations: test mAP@0.5 0.883 at 0.02 against
# 0.861 at 0.01), 0.01 up to 100 images (tiny generated sets, 60 iterations: mAP 0.83/0.99
# at 0.01 against 0.71/0.78 at 0.02 over two seeds), geometric in between.
LR_LARGE, LR_SMALL = 0.02, 0.01
LR_LARGE_FROM, LR_SMALL_UPTO = 500, 100
# Warmup covers at least this many planned iterations (short runs blew up at 0.02 with a
# 3-iteration warmup), between 5 % and 25 % of the schedule.
WARMUP_ITERATIONS = 100
ANCHORS_PER_LEVEL = 2
LEVELS = 3  # P3-P5
# Learning time per training image at a 480x480 canvas when the caller gives no budget:
# DeepPCB's 1000 images get ~27 min, what the prototype needed for 0.94 mAP@0.5 on 2 cores.
DEFAULT_SECONDS_PER_IMAGE = 1.65
MIN_DEFAULT_BUDGET_S = 120.0
MAX_DEFAULT_BUDGET_S = 3600.0


@dataclass(frozen=True)
class DetectorOptions:
    """Caller overrides (tests, the benchmark baseline); None leaves the choice to AutoML."""

    automl: bool = True  # False = fixed default hyper-parameters (benchmark baseline)
    max_epochs: int | None = None
    batch_size: int | None = None
    val_count: int | None = None
    augment: str | None = None  # "none" | "hflip" | "dihedral"
    lr: float | None = None  # for batch 8; scaled linearly with the batch size
    small_object_px: float | None = None  # resize target of the 5th-percentile object size
    pretrained: bool = True


@dataclass(frozen=True)
class DetectorPlan:
    canvas: tuple[int, int]  # (height, width) of the network input
    crop: tuple[int, int]  # (height, width) of the training crops
    net: NetConfig
    augment: str
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    warmup_fraction: float
    grad_clip: float
    max_epochs: int
    patience: int | None  # validation rounds without improvement before stopping
    val_count: int
    time_budget_s: float
    nms_candidates: tuple[float | None, ...]  # class-blind NMS IoUs tried on val
    reasons: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON-able record stored with the version (card "training")."""
        net = asdict(self.net)
        return {
            "architecture": "faster_rcnn",
            "backbone_taps": [4, 10, 15],
            "fpn_channels": net["fpn_channels"],
            "frozen": f"batchnorm everywhere; stem and blocks 0-{net['freeze_through_block']}",
            "input_size": list(self.canvas),
            "resize": "letterbox_top_left",
            "crop_size": list(self.crop),
            "anchor_sizes": [list(s) for s in self.net.anchor_sizes],
            "aspect_ratios": list(self.net.aspect_ratios),
            "augmentation": self.augment,
            "batch_size": self.batch_size,
            "optimizer": "sgd",
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "schedule": f"linear warmup over {self.warmup_fraction:.0%} then cosine to 0; "
            "progress is iterations / planned iterations, or elapsed / time budget once that "
            "is ahead (past 10% of the budget)",
            "grad_clip": self.grad_clip,
            "max_epochs": self.max_epochs,
            "early_stopping_patience": self.patience,
            "validation_images": self.val_count,
            "time_budget_s": round(self.time_budget_s, 1),
            "score_threshold": self.net.box_score_thresh,
            "per_class_nms_iou": self.net.box_nms_thresh,
            "rpn_batch_per_image": self.net.rpn_batch_size_per_image,
            "roi_batch_per_image": self.net.roi_batch_size_per_image,
            "detections_per_image": self.net.detections_per_img,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True)
class DataStats:
    n_images: int
    n_boxes: int
    median_width: float
    median_height: float
    portrait_fraction: float  # images taller than wide
    square_fraction: float  # images within 10 % of square
    box_sizes: np.ndarray  # sqrt(area) in original pixels
    box_long_sides: np.ndarray
    box_aspects: np.ndarray  # height / width
    box_labels: tuple[str, ...]
    center_y: np.ndarray  # box centre height / image height
    boxes_per_image: np.ndarray


def data_stats(examples: Sequence[Example]) -> DataStats:
    boxes = [(b, ex) for ex in examples for b in ex.boxes if b.width > 0 and b.height > 0]
    widths = np.array([ex.width for ex in examples], float)
    heights = np.array([ex.height for ex in examples], float)
    ratio = heights / np.maximum(widths, 1)
    return DataStats(
        n_images=len(examples),
        n_boxes=len(boxes),
        median_width=float(np.median(widths)),
        median_height=float(np.median(heights)),
        portrait_fraction=float((ratio > 1.0).mean()),
        square_fraction=float(((ratio > 1 / 1.1) & (ratio < 1.1)).mean()),
        box_sizes=np.array([math.sqrt(b.width * b.height) for b, _ in boxes]),
        box_long_sides=np.array([max(b.width, b.height) for b, _ in boxes]),
        box_aspects=np.array([b.height / b.width for b, _ in boxes]),
        box_labels=tuple(b.label for b, _ in boxes),
        center_y=np.array([(b.top + b.height / 2) / max(ex.height, 1) for b, ex in boxes]),
        boxes_per_image=np.array([len(ex.boxes) for ex in examples]),
    )


def _round32(x: float) -> int:
    return int(max(32, math.ceil(x / 32.0) * 32))


def _choose_scale(stats: DataStats, target_px: float, reasons: dict[str, str]) -> float:
    small = float(np.percentile(stats.box_sizes, 5)) if stats.n_boxes else 32.0
    long_side = max(stats.median_width, stats.median_height, 1.0)
    # Shrink until the small objects are ~target_px, but keep the long side at least
    # MIN_CANVAS_LONG_SIDE: large objects do not need the detail, yet a thumbnail-sized
    # input loses their context and the classes' finer cues.
    floor = min(1.0, MIN_CANVAS_LONG_SIDE / long_side)
    scale = max(floor, min(1.0, target_px / max(small, 1e-6)))
    if small < 10.0:  # tiny objects: enlarge, but only up to 2x
        scale = min(2.0, 12.0 / max(small, 1e-6))
    if long_side * scale > MAX_CANVAS_SIDE:
        scale = MAX_CANVAS_SIDE / long_side
    reasons["input_size"] = (
        f"5th-percentile object size {small:.1f} px; images scaled by {scale:.2f} so small "
        f"objects span ~{target_px:.0f} px (long side kept between {MIN_CANVAS_LONG_SIDE} and "
        f"{MAX_CANVAS_SIDE} px, no upscaling unless objects are under 10 px)"
    )
    return scale


def _choose_canvas(stats: DataStats, scale: float) -> tuple[int, int]:
    h, w = stats.median_height * scale, stats.median_width * scale
    mixed = min(stats.portrait_fraction, 1 - stats.portrait_fraction) >= 0.25
    if mixed:  # portrait and landscape both common: a square canvas serves both
        side = max(h, w)
        h = w = side
    h = min(MAX_CANVAS_SIDE, max(MIN_CANVAS_SIDE, _round32(h)))
    w = min(MAX_CANVAS_SIDE, max(MIN_CANVAS_SIDE, _round32(w)))
    return h, w


def _choose_anchors(
    stats: DataStats, scale: float, reasons: dict[str, str]
) -> tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]:
    n = LEVELS * ANCHORS_PER_LEVEL
    if stats.n_boxes:
        sizes = stats.box_sizes * scale
        lo = max(8.0, 0.7 * float(np.percentile(sizes, 1)))
        hi = max(lo * 4.0, 1.4 * float(np.percentile(sizes, 99)))
        # Every class's usual shapes should have an anchor shape: the most extreme of the
        # per-class 10th / 90th percentile aspects (DeepPCB's "short" spans 0.37-2.2).
        labels = np.array(stats.box_labels)
        per_class = [stats.box_aspects[labels == k] for k in sorted(set(stats.box_labels))]
        q10 = min(float(np.percentile(a, 10)) for a in per_class)
        q90 = max(float(np.percentile(a, 90)) for a in per_class)
    else:
        lo, hi, q10, q90 = 16.0, 256.0, 0.5, 2.0
    series = np.geomspace(lo, hi, n)
    per_level = tuple(
        tuple(round(float(s), 1) for s in series[i : i + ANCHORS_PER_LEVEL])
        for i in range(0, n, ANCHORS_PER_LEVEL)
    )
    ratios = (round(min(max(q10, 0.25), 0.67), 2), 1.0, round(min(max(q90, 1.5), 4.0), 2))
    reasons["anchors"] = (
        f"{n} sizes from {lo:.0f} to {hi:.0f} px (1st-99th percentile object sizes after "
        f"resizing, widened), ratios from the extreme per-class 10th/90th percentile aspects "
        f"({q10:.2f}, {q90:.2f})"
    )
    return per_level, ratios


def _choose_augment(stats: DataStats, reasons: dict[str, str]) -> str:
    """Horizontal flips always; all 8 square symmetries only when the data looks
    orientation-free: square images, every class about as tall as wide, boxes spread over
    the image height (photos put the ground low and the sky high).
    """
    if stats.n_boxes < 10:
        reasons["augmentation"] = "too few boxes to judge orientation: horizontal flips"
        return "hflip"
    log_aspect = np.log(stats.box_aspects)
    labels = np.array(stats.box_labels)
    per_class = [float(np.median(log_aspect[labels == k])) for k in sorted(set(stats.box_labels))]
    symmetric_classes = max(abs(v) for v in per_class) < math.log(1.3)
    square = stats.square_fraction >= 0.9
    centred = abs(float(np.mean(stats.center_y)) - 0.5) < 0.1
    if square and symmetric_classes and centred:
        reasons["augmentation"] = (
            "square images, every class about as tall as wide, objects spread evenly over "
            "the image height: treated as orientation-free (flips and transpose)"
        )
        return "dihedral"
    reasons["augmentation"] = (
        f"horizontal flips only (square images {stats.square_fraction:.0%}, largest per-class "
        f"aspect skew {math.exp(max(abs(v) for v in per_class)):.2f}, mean box centre at "
        f"{float(np.mean(stats.center_y)):.2f} of the height)"
    )
    return "hflip"


def _base_lr(n_train: int, reasons: dict[str, str]) -> float:
    t = (math.log(max(n_train, 1)) - math.log(LR_SMALL_UPTO)) / (
        math.log(LR_LARGE_FROM) - math.log(LR_SMALL_UPTO)
    )
    t = min(1.0, max(0.0, t))
    lr = round(LR_SMALL * (LR_LARGE / LR_SMALL) ** t, 4)
    reasons["lr"] = (
        f"{lr} for batch 8 with {n_train} training images ({LR_SMALL} up to {LR_SMALL_UPTO} "
        f"images, {LR_LARGE} from {LR_LARGE_FROM}: small sets fine-tune more gently)"
    )
    return lr


def _warmup_fraction(planned_iterations: int) -> float:
    return min(0.25, max(0.05, WARMUP_ITERATIONS / max(planned_iterations, 1)))


def default_budget(n_train: int, canvas: tuple[int, int]) -> float:
    area = canvas[0] * canvas[1] / (480.0 * 480.0)
    seconds = DEFAULT_SECONDS_PER_IMAGE * n_train * max(area, 0.05)
    return float(min(MAX_DEFAULT_BUDGET_S, max(MIN_DEFAULT_BUDGET_S, seconds)))


def _val_count(n: int) -> int:
    # A tenth of the images (at most 100: enough boxes for a stable mAP, little lost from
    # training); none below 8 images, where the last checkpoint is used instead.
    if n < 8:
        return 0
    return int(min(100, max(2, round(0.1 * n))))


def plan_detector(
    examples: Sequence[Example],
    labels: Sequence[str],
    time_budget_s: float | None,
    options: DetectorOptions = DetectorOptions(),
) -> DetectorPlan:
    if not options.automl:
        return fixed_plan(examples, labels, time_budget_s, options)
    stats = data_stats(examples)
    reasons: dict[str, str] = {}
    scale = _choose_scale(stats, options.small_object_px or SMALL_OBJECT_TARGET_PX, reasons)
    canvas = _choose_canvas(stats, scale)
    crop = (min(CROP_SIDE, canvas[0]), min(CROP_SIDE, canvas[1]))
    if stats.n_boxes:
        longest = float(np.percentile(stats.box_long_sides, 99)) * scale
        if longest * 2.0 > CROP_SIDE:
            side = _round32(longest * 2.0)
            crop = (min(side, canvas[0]), min(side, canvas[1]))
    reasons["crop_size"] = (
        "whole image"
        if crop == canvas
        else f"random {crop[0]}x{crop[1]} crops of the resized image (at least twice the "
        "99th-percentile object length)"
    )
    anchors, ratios = _choose_anchors(stats, scale, reasons)
    augment = options.augment or _choose_augment(stats, reasons)
    if crop[0] != crop[1] and augment == "dihedral":
        augment = "hflip"
    val_count = options.val_count if options.val_count is not None else _val_count(len(examples))
    n_train = len(examples) - val_count
    if options.max_epochs is not None:
        max_epochs = options.max_epochs
    else:
        # ~20k crops in all, at least 24 and at most 200 passes.
        max_epochs = int(min(200, max(24, round(20000 / max(n_train, 1)))))
    budget = time_budget_s if time_budget_s is not None else default_budget(n_train, canvas)
    reasons["time_budget"] = (
        "given by the caller"
        if time_budget_s is not None
        else f"{DEFAULT_SECONDS_PER_IMAGE} s per training image at 480x480 (scaled by area)"
    )
    batch = options.batch_size or 8
    per_image = float(np.percentile(stats.boxes_per_image, 95)) if stats.n_images else 1.0
    # RoIAlign's CPU backward is the costliest single op of a step (~25 % at 128 RoIs per
    # crop): sample fewer RoIs when images hold few objects (25 % of them are positives).
    roi_batch = int(min(128, max(32, 2 ** math.ceil(math.log2(max(1.0, 8 * per_image))))))
    reasons["roi_batch"] = f"{roi_batch} RoIs per crop for {per_image:.0f} objects per image (p95)"
    net = NetConfig(
        num_classes=len(labels),
        anchor_sizes=anchors,
        aspect_ratios=ratios,
        roi_batch_size_per_image=roi_batch,
    )
    multi = len(labels) > 1
    return DetectorPlan(
        canvas=canvas,
        crop=crop,
        net=net,
        augment=augment,
        batch_size=batch,
        lr=(options.lr or _base_lr(n_train, reasons)) * batch / 8,
        momentum=0.9,
        weight_decay=1e-4,
        warmup_fraction=_warmup_fraction(max_epochs * math.ceil(n_train / batch)),
        grad_clip=10.0,
        max_epochs=max_epochs,
        patience=max(6, max_epochs // 3) if val_count else None,
        val_count=val_count,
        time_budget_s=float(budget),
        # One class: per-class NMS already is class-blind.
        nms_candidates=(None, 0.7, 0.5) if multi and val_count else (None,),
        reasons=reasons,
    )


def fixed_plan(
    examples: Sequence[Example],
    labels: Sequence[str],
    time_budget_s: float | None,
    options: DetectorOptions = DetectorOptions(automl=False),
) -> DetectorPlan:
    """Fixed defaults: native resolution, whole images, torchvision-like anchors, hflip,
    12 epochs, no validation split (last checkpoint), no class-blind NMS."""
    stats = data_stats(examples)
    canvas = _choose_canvas(
        stats, min(1.0, MAX_CANVAS_SIDE / max(stats.median_width, stats.median_height, 1.0))
    )
    net = NetConfig(
        num_classes=len(labels),
        anchor_sizes=((32.0,), (64.0,), (128.0,)),
        aspect_ratios=(0.5, 1.0, 2.0),
    )
    budget = time_budget_s if time_budget_s is not None else default_budget(len(examples), canvas)
    batch = options.batch_size or 8
    plan = DetectorPlan(
        canvas=canvas,
        crop=canvas,
        net=net,
        augment=options.augment or "hflip",
        batch_size=batch,
        lr=0.02 * batch / 8,
        momentum=0.9,
        weight_decay=1e-4,
        warmup_fraction=0.05,
        grad_clip=10.0,
        max_epochs=options.max_epochs or 12,
        patience=None,
        val_count=0,
        time_budget_s=float(budget),
        nms_candidates=(None,),
        reasons={"all": "fixed default hyper-parameters (no AutoML)"},
    )
    return plan


__all__ = [
    "DataStats",
    "DetectorOptions",
    "DetectorPlan",
    "data_stats",
    "default_budget",
    "fixed_plan",
    "plan_detector",
]
