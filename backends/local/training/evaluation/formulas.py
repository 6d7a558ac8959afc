"""The spec's formulas (02 §5.4, §5.5), in one place so every figure agrees.

Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean; the test-set
aggregates are unweighted means of the per-label values (macro averages), so aggregate F1
is not the harmonic mean of aggregate precision and recall.

Empty ratios are 0.0 (as scikit-learn's `zero_division=0`): nothing predicted earns no
precision, nothing to find earns no recall. The callers keep labels without test ground
truth out of the aggregates (metrics.py), so these zeros only describe real failures.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def precision(tp: int, fp: int) -> float:
    return tp / (tp + fp) if tp + fp else 0.0


def recall(tp: int, fn: int) -> float:
    return tp / (tp + fn) if tp + fn else 0.0


def f1(p: float, r: float) -> float:
    """2PR / (P + R) from the float P and R: that reproduces the spec's example values to
    the last digit (dent: 0.8292682926829269), where 2TP / (2TP + FP + FN) is one unit off
    in the last place."""
    return 2.0 * p * r / (p + r) if p + r > 0.0 else 0.0


def macro_mean(values: Iterable[float]) -> float:
    """The unweighted mean, correctly rounded and independent of order.

    `statistics.mean` sums the floats exactly before one rounding; that reproduces all
    three aggregates of the spec's §6.3 example to full precision (precision
    0.8829447181171319, recall 0.8866666666666666), where `sum(...) / n` misses two of them
    in the last digit. 0.0 for no values.
    """
    values = list(values)
    return float(statistics.mean(values)) if values else 0.0


__all__ = ["f1", "macro_mean", "precision", "recall"]
