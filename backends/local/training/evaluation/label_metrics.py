"""Per-label metrics at the assumed threshold and the test-set aggregates (training.md §5).

Outcome classes (§5.1): a label is predicted when its confidence reaches the label's
threshold (thresholds.py); TP = predicted and true, FP = predicted and not true, FN = true
and not predicted, TN = neither. Image-level models count images (a softmax image may get
several predicted labels or none); detection counts boxes (§5.1, §5.2) and has no TN.

Aggregates (§5.5): the unweighted means of the per-label precision, recall and F1 over the
**measured** labels, those with ground truth in the test set. [DESIGN, ours] a model label
the test set never shows (validation lets a test set miss up to half the training labels)
has nothing to measure: it keeps a threshold (model.json needs one) and zero counts, but it
is left out of the aggregates and of the summary file's `LabelEvaluationResults`, where a
row of zeros would read as a label the model fails at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from labelgate.backends.local.training.evaluation.formulas import macro_mean
from labelgate.backends.local.training.evaluation.thresholds import (
    PrecisionRecallCurve,
    choose,
    sweep,
)


@dataclass(frozen=True)
class LabelMetrics:
    label: str
    threshold: float  # the assumed threshold
    precision: float
    recall: float
    f1: float
    testing_images: int  # test images carrying the label
    positives: int  # ground-truth units: images (image-level) or boxes (detection)
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int | None  # None for detection: boxes have no true negatives
    curve: PrecisionRecallCurve  # every operating point, for the report's PR curves
    # Detection only (coco.py); None otherwise or when the label has no true box.
    average_precision: float | None = None
    average_recall: float | None = None
    ap50: float | None = None

    @property
    def measured(self) -> bool:
        """Whether the test set has ground truth for this label."""
        return self.positives > 0


@dataclass(frozen=True)
class Aggregates:
    precision: float
    recall: float
    f1: float


def label_metrics(label: str, confidences: np.ndarray, hits: np.ndarray, *, positives: int,
                  testing_images: int, units: int | None = None) -> LabelMetrics:
    """Metrics of one label from its test predictions (thresholds.py's inputs).

    `units` is the number of test images for image-level models (TN = units - TP - FP - FN);
    None for detection.
    """
    curve = sweep(confidences, hits, positives)
    point = choose(curve)
    tn = None
    if units is not None:
        tn = units - point.true_positives - point.false_positives - point.false_negatives
    return LabelMetrics(
        label=label,
        threshold=point.threshold,
        precision=point.precision,
        recall=point.recall,
        f1=point.f1,
        testing_images=testing_images,
        positives=positives,
        true_positives=point.true_positives,
        false_positives=point.false_positives,
        false_negatives=point.false_negatives,
        true_negatives=tn,
        curve=curve,
    )


def aggregate(per_label: Iterable[LabelMetrics]) -> Aggregates:
    measured = [m for m in per_label if m.measured]
    return Aggregates(
        precision=macro_mean(m.precision for m in measured),
        recall=macro_mean(m.recall for m in measured),
        f1=macro_mean(m.f1 for m in measured),
    )


def by_f1(per_label: Iterable[LabelMetrics]) -> list[LabelMetrics]:
    """Measured labels, best F1 first (the summary file's order, §6.2); equal F1 by name."""
    return sorted((m for m in per_label if m.measured), key=lambda m: (-m.f1, m.label))


__all__ = ["Aggregates", "LabelMetrics", "aggregate", "by_f1", "label_metrics"]
