"""COCO-style AveragePrecision and AverageRecall for detection (training.md §5.5 [DESIGN]).

The spec leaves the definitions open and proposes COCO's: per label and per IoU threshold
0.50, 0.55, ..., 0.95, match boxes greedily by confidence (matching.py), then
- AP: the mean of the interpolated precision (the precision envelope, made non-increasing
  from the right) at the 101 recall levels 0, 0.01, ..., 1;
- AR: the recall reached with every detection kept;
each averaged over the ten IoU thresholds, then over the labels that have ground-truth
boxes (a label without any cannot be measured, as in COCO). Like pycocotools' default
(`maxDets=100`, area "all"), at most the 100 most confident boxes per image and label
count. `ap50` is the same AP at IoU 0.5 alone, the figure detection benchmarks quote
("mAP@0.5"); it goes into the report, not into the AWS summary file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labelgate.backends.local.training.evaluation.matching import (
    BoxArray,
    confidence_order,
    greedy_match,
    iou_matrix,
)

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # as pycocotools builds them
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class LabelImage:
    """One test image's boxes of one label."""

    truths: BoxArray
    predicted: BoxArray
    confidences: np.ndarray


@dataclass(frozen=True)
class AveragePrecision:
    average_precision: float  # IoU 0.50:0.95
    average_recall: float  # IoU 0.50:0.95
    ap50: float


def _interpolated_ap(scores: np.ndarray, hits: np.ndarray, positives: int) -> tuple[float, float]:
    """(AP, recall) of one label at one IoU threshold, the way pycocotools accumulates."""
    if scores.size == 0:
        return 0.0, 0.0
    order = np.argsort(-scores, kind="mergesort")
    hit = hits[order]
    tp = np.cumsum(hit).astype(np.float64)
    fp = np.cumsum(~hit).astype(np.float64)
    rc = tp / positives
    pr = tp / (tp + fp + np.spacing(1))
    pr = np.maximum.accumulate(pr[::-1])[::-1]  # the envelope
    idx = np.searchsorted(rc, RECALL_LEVELS, side="left")
    q = np.where(idx < pr.size, pr[np.minimum(idx, pr.size - 1)], 0.0)
    return float(q.mean()), float(rc[-1])


def label_average_precision(images: Sequence[LabelImage]) -> AveragePrecision | None:
    """AP/AR of one label over the test images; None when it has no true box."""
    positives = sum(len(im.truths) for im in images)
    if positives == 0:
        return None
    scores: list[np.ndarray] = []
    hits: list[list[np.ndarray]] = [[] for _ in IOU_THRESHOLDS]
    for im in images:
        if len(im.predicted) == 0:
            continue
        order = confidence_order(im.confidences)[:MAX_DETECTIONS]
        scores.append(np.asarray(im.confidences, dtype=np.float64)[order])
        ious = iou_matrix(im.predicted, im.truths)
        for k, t in enumerate(IOU_THRESHOLDS):
            hits[k].append(greedy_match(ious, order, float(t))[order] >= 0)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    aps, recalls = [], []
    for k in range(len(IOU_THRESHOLDS)):
        all_hits = np.concatenate(hits[k]) if hits[k] else np.zeros(0, dtype=bool)
        ap, rc = _interpolated_ap(all_scores, all_hits, positives)
        aps.append(ap)
        recalls.append(rc)
    return AveragePrecision(
        average_precision=float(np.mean(aps)),
        average_recall=float(np.mean(recalls)),
        ap50=aps[0],
    )


__all__ = [
    "IOU_THRESHOLDS",
    "MAX_DETECTIONS",
    "RECALL_LEVELS",
    "AveragePrecision",
    "LabelImage",
    "label_average_precision",
]
