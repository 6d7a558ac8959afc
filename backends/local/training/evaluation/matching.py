"""Matching predicted boxes to ground-truth boxes (training.md §5.2).

A predicted box is correct when its IoU with a ground-truth box of the **same label** is at
least 0.5 (exactly 0.5 counts). [DESIGN] one-to-one, greedy by descending confidence: each
prediction, best first, takes the still unmatched truth of its label with the highest IoU
at or above the threshold (on equal IoU the first truth in input order); unmatched
predictions are false positives, unmatched truths false negatives. This is the COCO
procedure, so the same matcher serves the F1 counts (IoU 0.5) and the COCO-style
AveragePrecision/AverageRecall (IoU 0.50:0.95, coco.py).

Greedy by confidence has a property the threshold sweep relies on: a prediction's match
never depends on lower-confidence predictions, so matching every box once and then keeping
those at or above a threshold gives the same TP/FP as matching only the kept boxes.

Boxes are (left, top, width, height) in original-image pixels (contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

IOU_THRESHOLD = 0.5  # training.md §5.2

BoxArray = np.ndarray  # float64, shape (n, 4): left, top, width, height


class HasBox(Protocol):
    """contract.Box and contract.Detection both fit."""

    @property
    def label(self) -> str: ...
    @property
    def left(self) -> float: ...
    @property
    def top(self) -> float: ...
    @property
    def width(self) -> float: ...
    @property
    def height(self) -> float: ...


class HasScoredBox(HasBox, Protocol):
    @property
    def confidence(self) -> float: ...


def box_array(boxes: Sequence[HasBox]) -> BoxArray:
    """Boxes or Detections as an (n, 4) array."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([(b.left, b.top, b.width, b.height) for b in boxes], dtype=np.float64)


def iou_matrix(predicted: BoxArray, truth: BoxArray) -> np.ndarray:
    """IoU of every predicted box (rows) with every true box (columns).

    A pair whose union has no area (two degenerate boxes) has IoU 0: no overlap to speak of.
    """
    if len(predicted) == 0 or len(truth) == 0:
        return np.zeros((len(predicted), len(truth)), dtype=np.float64)
    p = predicted[:, None, :]
    t = truth[None, :, :]
    right = np.minimum(p[..., 0] + p[..., 2], t[..., 0] + t[..., 2])
    bottom = np.minimum(p[..., 1] + p[..., 3], t[..., 1] + t[..., 3])
    inter_w = right - np.maximum(p[..., 0], t[..., 0])
    inter_h = bottom - np.maximum(p[..., 1], t[..., 1])
    inter = np.clip(inter_w, 0.0, None) * np.clip(inter_h, 0.0, None)
    area_p = np.clip(p[..., 2], 0.0, None) * np.clip(p[..., 3], 0.0, None)
    area_t = np.clip(t[..., 2], 0.0, None) * np.clip(t[..., 3], 0.0, None)
    union = area_p + area_t - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)
    return iou


def iou(a: HasBox, b: HasBox) -> float:
    """IoU of two boxes."""
    return float(iou_matrix(box_array([a]), box_array([b]))[0, 0])


def confidence_order(confidences: Sequence[float] | np.ndarray) -> np.ndarray:
    """Indices by descending confidence; equal confidences keep input order (stable)."""
    return np.argsort(-np.asarray(confidences, dtype=np.float64), kind="stable")


def greedy_match(ious: np.ndarray, order: np.ndarray, iou_threshold: float = IOU_THRESHOLD
                 ) -> np.ndarray:
    """One-to-one greedy matching of one label's boxes in one image.

    `ious` is predictions x truths, `order` the predictions to consider, best first (a
    prefix of `confidence_order` when detections are capped). Returns, per prediction, the
    index of its truth or -1 (unmatched, or not in `order`).
    """
    matched_truth = np.full(ious.shape[0], -1, dtype=np.int64)
    if ious.shape[1] == 0:
        return matched_truth
    taken = np.zeros(ious.shape[1], dtype=bool)
    for d in order:
        candidates = np.where(taken, -1.0, ious[d])
        best = int(np.argmax(candidates))  # first of equal maxima
        if candidates[best] >= iou_threshold:
            matched_truth[d] = best
            taken[best] = True
    return matched_truth


def match_boxes(truths: Sequence[HasBox], predictions: Sequence[HasScoredBox],
                iou_threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """Match an image's predictions to its truths, within each label.

    Returns, per prediction, the index into `truths` of its match or -1.
    """
    result = np.full(len(predictions), -1, dtype=np.int64)
    labels = {p.label for p in predictions} & {t.label for t in truths}
    for label in sorted(labels):
        p_idx = [i for i, p in enumerate(predictions) if p.label == label]
        t_idx = [i for i, t in enumerate(truths) if t.label == label]
        ious = iou_matrix(box_array([predictions[i] for i in p_idx]),
                          box_array([truths[i] for i in t_idx]))
        order = confidence_order([predictions[i].confidence for i in p_idx])
        local = greedy_match(ious, order, iou_threshold)
        for k, t in enumerate(local):
            if t >= 0:
                result[p_idx[k]] = t_idx[t]
    return result


__all__ = [
    "IOU_THRESHOLD",
    "HasBox",
    "HasScoredBox",
    "box_array",
    "confidence_order",
    "greedy_match",
    "iou",
    "iou_matrix",
    "match_boxes",
]
