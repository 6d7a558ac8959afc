"""`evaluate()`: a model's test-set predictions in, every figure of training.md §5-§8 out.

The result, `Evaluation`, keeps the test examples and predictions so the summary file,
the evaluation manifest snapshot and the report are all rendered from one computation.

Ground-truth labels outside the model's `labels` are ignored: the model cannot predict
them, and the spec evaluates the "labels found during training" (§6.2). Predictions must
cover exactly the model's labels; anything else is a bug upstream and fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from labelgate.backends.local.inference.records import (
    CLASSIFICATION,
    DETECTION,
    MULTILABEL,
    Box,
    Example,
    ImagePrediction,
    TaskKind,
)
from labelgate.backends.local.training.evaluation import coco_ap as coco
from labelgate.backends.local.training.evaluation import snapshots, summary
from labelgate.backends.local.training.evaluation.confusion import (
    ConfusionCell,
    confusion_matrix,
    top1,
)
from labelgate.backends.local.training.evaluation.label_metrics import (
    LabelMetrics,
    aggregate,
    by_f1,
    label_metrics,
)
from labelgate.backends.local.training.evaluation.matching import box_array, match_boxes

TASKS = (CLASSIFICATION, MULTILABEL, DETECTION)


@dataclass(frozen=True, eq=False)
class Evaluation:
    task: TaskKind
    labels: tuple[str, ...]  # the model's labels (EvaluationDetails.Labels), class-id order
    examples: tuple[Example, ...]  # the test set
    predictions: tuple[ImagePrediction, ...]  # in the order of `examples`
    per_label: dict[str, LabelMetrics]  # every model label, in `labels` order
    precision: float  # macro averages over the measured labels (metrics.py)
    recall: float
    f1_score: float  # EvaluationResult.F1Score
    # Detection only: COCO-style over IoU 0.50:0.95 (coco.py), and AP at IoU 0.5.
    average_precision: float | None = None
    average_recall: float | None = None
    map50: float | None = None
    # Classification only (confusion.py): all |L|² cells, and the share of top-1 hits.
    confusion_matrix: tuple[ConfusionCell, ...] | None = None
    top1_accuracy: float | None = None
    # Detection only: per test image, per detection, the index of its matched true box in
    # `known_boxes(example)` or -1 (IoU >= 0.5, same label).
    box_matches: tuple[np.ndarray, ...] | None = None

    @property
    def thresholds(self) -> dict[str, float]:
        """The per-label assumed thresholds (model.json `thresholds`)."""
        return {label: m.threshold for label, m in self.per_label.items()}

    @property
    def number_of_testing_images(self) -> int:
        return len(self.examples)

    @property
    def ranked_labels(self) -> list[LabelMetrics]:
        """The measured labels, best F1 first (`LabelEvaluationResults` order)."""
        return by_f1(self.per_label.values())

    def known_labels(self, example: Example) -> tuple[str, ...]:
        """The example's image-level ground-truth labels the model knows, in label order."""
        present = set(example.labels) | {b.label for b in example.boxes}
        return tuple(label for label in self.labels if label in present)

    def known_boxes(self, example: Example) -> tuple[Box, ...]:
        known = set(self.labels)
        return tuple(b for b in example.boxes if b.label in known)

    def predicted_labels(self, prediction: ImagePrediction) -> tuple[str, ...]:
        """Image-level labels predicted at their thresholds (§5.1), by descending score."""
        kept = [label for label in self.labels
                if prediction.scores[label] >= self.per_label[label].threshold]
        return tuple(sorted(kept, key=lambda label: -prediction.scores[label]))

    def summary_document(self, *, version_arn: str, n_training_images: int,
                         ended_at: datetime) -> dict[str, Any]:
        """The training results summary file (§6)."""
        return summary.summary_document(self, version_arn=version_arn,
                                        n_training_images=n_training_images,
                                        ended_at=ended_at)

    def testing_snapshot_lines(self, *, created_at: datetime) -> Iterator[dict[str, Any]]:
        """The test set's evaluation manifest snapshot (§7), one dict per JSON line."""
        return snapshots.testing_snapshot_lines(self, created_at=created_at)


def _check_inputs(task: str, labels: Sequence[str], examples: Sequence[Example],
                  predictions: Sequence[ImagePrediction]) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if not labels:
        raise ValueError("the model has no labels")
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate labels in {list(labels)}")
    if not examples:
        raise ValueError("the test set is empty: nothing to evaluate")
    if len(examples) != len(predictions):
        raise ValueError(f"{len(examples)} test examples but {len(predictions)} predictions")
    known = set(labels)
    for i, (example, prediction) in enumerate(zip(examples, predictions, strict=True)):
        if example.source_ref != prediction.source_ref:
            raise ValueError(f"prediction {i} is for {prediction.source_ref!r}, "
                             f"but test example {i} is {example.source_ref!r}")
        if task == DETECTION:
            unknown = {d.label for d in prediction.detections} - known
        else:
            unknown = set(prediction.scores) ^ known
        if unknown:
            raise ValueError(f"prediction for {prediction.source_ref!r} does not match the "
                             f"model labels: {sorted(unknown)}")


def evaluate(task: TaskKind, labels: Sequence[str], test_examples: Sequence[Example],
             predictions: Sequence[ImagePrediction]) -> Evaluation:
    """Score `predictions` (one per test example, same order) against the ground truth."""
    labels = tuple(labels)
    examples, preds = tuple(test_examples), tuple(predictions)
    _check_inputs(task, labels, examples, preds)
    if task == DETECTION:
        return _evaluate_detection(labels, examples, preds)
    return _evaluate_image_level(task, labels, examples, preds)


def _evaluate_image_level(task: TaskKind, labels: tuple[str, ...],
                          examples: tuple[Example, ...],
                          predictions: tuple[ImagePrediction, ...]) -> Evaluation:
    present = [set(e.labels) & set(labels) for e in examples]
    per_label = {}
    for label in labels:
        hits = np.array([label in p for p in present], dtype=bool)
        scores = np.array([p.scores[label] for p in predictions], dtype=np.float64)
        n = int(hits.sum())
        per_label[label] = label_metrics(label, scores, hits, positives=n, testing_images=n,
                                         units=len(examples))
    agg = aggregate(per_label.values())
    matrix, accuracy = None, None
    if task == CLASSIFICATION:
        # Images with exactly one known ground-truth label; others have no matrix column.
        pairs = [(next(iter(p)), top1(pred.scores, labels))
                 for p, pred in zip(present, predictions, strict=True) if len(p) == 1]
        matrix = confusion_matrix(labels, pairs)
        accuracy = sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
    return Evaluation(
        task=task, labels=labels, examples=examples, predictions=predictions,
        per_label=per_label, precision=agg.precision, recall=agg.recall, f1_score=agg.f1,
        confusion_matrix=matrix, top1_accuracy=accuracy,
    )


def _evaluate_detection(labels: tuple[str, ...], examples: tuple[Example, ...],
                        predictions: tuple[ImagePrediction, ...]) -> Evaluation:
    known = set(labels)
    matches = []
    confidences: dict[str, list[float]] = {label: [] for label in labels}
    hits: dict[str, list[bool]] = {label: [] for label in labels}
    positives = dict.fromkeys(labels, 0)
    images = dict.fromkeys(labels, 0)
    per_image: dict[str, list[coco.LabelImage]] = {label: [] for label in labels}
    for example, prediction in zip(examples, predictions, strict=True):
        truths = tuple(b for b in example.boxes if b.label in known)
        detections = prediction.detections
        match = match_boxes(truths, detections)
        matches.append(match)
        for detection, m in zip(detections, match, strict=True):
            confidences[detection.label].append(float(detection.confidence))
            hits[detection.label].append(bool(m >= 0))
        for label in (set(example.labels) | {b.label for b in truths}) & known:
            images[label] += 1
        for label in labels:
            label_truths = [b for b in truths if b.label == label]
            label_dets = [d for d in detections if d.label == label]
            positives[label] += len(label_truths)
            if label_truths or label_dets:
                per_image[label].append(coco.LabelImage(
                    truths=box_array(label_truths),
                    predicted=box_array(label_dets),
                    confidences=np.array([d.confidence for d in label_dets], dtype=np.float64),
                ))
    per_label = {}
    for label in labels:
        metrics = label_metrics(label, np.array(confidences[label], dtype=np.float64),
                                np.array(hits[label], dtype=bool), positives=positives[label],
                                testing_images=images[label])
        ap = coco.label_average_precision(per_image[label])
        if ap is not None:
            metrics = _with_ap(metrics, ap)
        per_label[label] = metrics
    agg = aggregate(per_label.values())
    measured = [m for m in per_label.values() if m.average_precision is not None]
    return Evaluation(
        task=DETECTION, labels=labels, examples=examples, predictions=predictions,
        per_label=per_label, precision=agg.precision, recall=agg.recall, f1_score=agg.f1,
        average_precision=_mean(m.average_precision for m in measured),
        average_recall=_mean(m.average_recall for m in measured),
        map50=_mean(m.ap50 for m in measured),
        box_matches=tuple(matches),
    )


def _with_ap(metrics: LabelMetrics, ap: coco.AveragePrecision) -> LabelMetrics:
    return replace(metrics, average_precision=ap.average_precision,
                   average_recall=ap.average_recall, ap50=ap.ap50)


def _mean(values: Any) -> float:
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else 0.0


__all__ = ["Evaluation", "evaluate"]
