"""The confusion matrix of a single-label classification model (training.md §8).

[DESIGN] per test image with one ground-truth label: its top-1 predicted label, thresholds
ignored. Value = count(GT = g, predicted = p) / count(GT = g), so every ground-truth column
sums to 1; all |L|² cells are emitted, zeros included, ground truth outer and prediction
inner in label order (the spec's example order). A label without test images gets a column
of zeros.

Only for `classification`. Multi-label models get none: the spec produces it "only for
classification models" and a top-1 matrix has no meaning when an image may carry several
labels or none, while a per-label 2x2 table repeats what TP/FP/FN/TN already say. The
summary file then has no `ConfusionMatrix`, which is also how the AWS sample tells a
non-classification model (§8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConfusionCell:
    ground_truth: str
    predicted: str
    value: float  # share of the ground truth's test images

    def as_json(self) -> dict[str, object]:
        return {"GroundTruthLabel": self.ground_truth, "PredictedLabel": self.predicted,
                "Value": self.value}


def top1(scores: Mapping[str, float], labels: Sequence[str]) -> str:
    """The label with the highest score; on equal scores the first in label order."""
    return labels[int(np.argmax([scores[label] for label in labels]))]


def confusion_counts(labels: Sequence[str], pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """counts[g, p] over (ground truth, top-1 prediction) pairs."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for truth, predicted in pairs:
        counts[index[truth], index[predicted]] += 1
    return counts


def confusion_matrix(labels: Sequence[str], pairs: Sequence[tuple[str, str]]
                     ) -> tuple[ConfusionCell, ...]:
    counts = confusion_counts(labels, pairs)
    cells = []
    for g, truth in enumerate(labels):
        total = int(counts[g].sum())
        for p, predicted in enumerate(labels):
            # Plain int division: 34/40 is 0.85 exactly as the spec writes it.
            value = int(counts[g, p]) / total if total else 0.0
            cells.append(ConfusionCell(truth, predicted, value))
    return tuple(cells)


__all__ = ["ConfusionCell", "confusion_counts", "confusion_matrix", "top1"]
