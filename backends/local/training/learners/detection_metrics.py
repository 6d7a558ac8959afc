"""Validation metrics for the detector: AP@0.5 per class and best-threshold F1 (numpy).

Used only on the validation split, to pick the checkpoint and the class-blind NMS setting;
the reported test metrics come from the evaluation package. Matching follows COCO at one
IoU (0.5): per image, predictions in descending score take the unmatched ground-truth box of
the same class with the highest IoU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class ImageDetections:
    """One image: predictions and ground truth, boxes xyxy in the same pixel frame."""

    boxes: np.ndarray  # float [N, 4]
    scores: np.ndarray  # float [N]
    labels: np.ndarray  # int [N], 0-based
    gt_boxes: np.ndarray  # float [M, 4]
    gt_labels: np.ndarray  # int [M]


@dataclass(frozen=True)
class ValScores:
    map50: float  # mean AP@0.5 over the classes that have ground truth
    f1: float  # macro F1, each class at its own best score threshold
    ap50: tuple[float | None, ...]  # per class; None = no ground truth

    @property
    def combined(self) -> float:
        """What model selection maximises: both headline figures count."""
        return (self.map50 + self.f1) / 2.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes a [N, 4] and b [M, 4]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0.0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0.0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _match_class(image: ImageDetections, cls: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and true-positive flags of one image's predictions of one class, GT count."""
    p = image.labels == cls
    g = image.gt_labels == cls
    boxes, scores, gts = image.boxes[p], image.scores[p], image.gt_boxes[g]
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    iou = box_iou(boxes, gts)
    taken = np.zeros(len(gts), bool)
    tp = np.zeros(len(boxes), bool)
    for i in range(len(boxes)):
        if len(gts) == 0:
            break
        candidates = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= IOU_THRESHOLD:
            taken[j] = True
            tp[i] = True
    return scores, tp, int(g.sum())


def _ap_and_f1(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best_f1 = float(f1.max()) if len(f1) else 0.0
    # COCO: monotone precision envelope sampled at 101 recall points.
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    points = np.linspace(0.0, 1.0, 101)
    idx = np.searchsorted(recall, points, side="left")
    sampled = np.array([envelope[i] if i < len(envelope) else 0.0 for i in idx])
    return float(sampled.mean()), best_f1


def score_detections(images: Sequence[ImageDetections], num_classes: int) -> ValScores:
    aps: list[float | None] = []
    f1s: list[float] = []
    for cls in range(num_classes):
        per_image = [_match_class(im, cls) for im in images]
        n_gt = sum(n for _, _, n in per_image)
        if n_gt == 0:
            aps.append(None)
            continue
        scores = np.concatenate([s for s, _, _ in per_image]) if per_image else np.zeros(0)
        tp = np.concatenate([t for _, t, _ in per_image]) if per_image else np.zeros(0, bool)
        ap, f1 = _ap_and_f1(scores, tp, n_gt)
        aps.append(ap)
        f1s.append(f1)
    present = [a for a in aps if a is not None]
    return ValScores(
        map50=float(np.mean(present)) if present else 0.0,
        f1=float(np.mean(f1s)) if f1s else 0.0,
        ap50=tuple(aps),
    )


__all__ = ["IOU_THRESHOLD", "ImageDetections", "ValScores", "box_iou", "score_detections"]
