"""Spec 02 §5.3-§5.5: the formulas, their documented numbers, and the assumed threshold."""

import numpy as np
import pytest

from labelgate.backends.local.training.evaluation.formulas import f1, macro_mean, precision, recall
from labelgate.backends.local.training.evaluation.thresholds import (
    NO_EVIDENCE_THRESHOLD,
    choose,
    sweep,
)


def test_worked_numbers_of_section_5_4():
    assert round(precision(8, 1), 2) == 0.89  # 9 predictions, 8 correct
    assert recall(5, 3) == 0.625  # 5 of 8 found; the guide truncates to 0.62
    assert recall(8, 0) == 1.0  # 9 predictions that include all 8
    assert round(f1(0.9, 1.0), 3) == 0.947
    assert round(f1(0.30, 1.0), 2) == 0.46
    assert round(f1(0.95, 0.20), 2) == 0.33


def test_empty_ratios_are_zero():
    assert precision(0, 0) == 0.0
    assert recall(0, 0) == 0.0
    assert f1(0.0, 0.0) == 0.0


def test_macro_mean_reproduces_the_summary_example_to_full_precision():
    precisions = [34 / 42, 96 / 100, 51 / 58]
    recalls = [34 / 40, 96 / 100, 51 / 60]
    assert macro_mean(precisions) == 0.8829447181171319
    assert macro_mean(reversed(precisions)) == 0.8829447181171319  # order-independent
    assert macro_mean(recalls) == 0.8866666666666666
    f1s = [f1(p, r) for p, r in zip(precisions, recalls, strict=True)]
    assert f1s[0] == 0.8292682926829269
    assert macro_mean(f1s) == 0.8845583574479813
    assert macro_mean([]) == 0.0


def test_aggregate_f1_is_not_the_harmonic_mean_of_aggregates():
    precisions, recalls = [1.0, 0.5], [0.5, 1.0]
    f1s = [f1(p, r) for p, r in zip(precisions, recalls, strict=True)]
    assert macro_mean(f1s) != f1(macro_mean(precisions), macro_mean(recalls))


def test_sweep_keeps_runs_of_equal_confidence_together():
    curve = sweep(np.array([0.9, 0.5, 0.5, 0.2]), np.array([True, True, False, False]), 3)
    assert curve.thresholds == (0.9, 0.5, 0.2)
    assert curve.true_positives == (1, 2, 2)
    assert curve.false_positives == (0, 1, 2)
    assert curve.point(1).false_negatives == 1


def test_threshold_is_the_best_f1():
    # At 0.8: TP 2 FP 0 FN 1 -> F1 0.8; at 0.6: TP 2 FP 1 -> 0.667; at 0.3: TP 3 FP 1 -> 0.857
    curve = sweep(np.array([0.9, 0.8, 0.6, 0.3]), np.array([True, True, False, True]), 3)
    point = choose(curve)
    assert point.threshold == 0.3
    assert (point.true_positives, point.false_positives, point.false_negatives) == (3, 1, 0)


def test_threshold_tie_goes_to_the_higher_threshold():
    # At 0.9: TP 1 FP 0 FN 1 -> 2/3; at 0.4: TP 2 FP 2 FN 0 -> 2/3 as well.
    curve = sweep(np.array([0.9, 0.6, 0.5, 0.4]), np.array([True, False, False, True]), 2)
    assert choose(curve).f1 == pytest.approx(2 / 3)
    assert choose(curve).threshold == 0.9


def test_equal_f1_is_a_tie_even_where_floats_differ_in_the_last_digit():
    # At 0.8: TP 1 FP 3 FN 1 and at 0.2: TP 2 FP 8 FN 0 both have F1 exactly 1/3, but the
    # float harmonic means are 0.3333333333333333 and 0.33333333333333337.
    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])
    hits = np.array([False, False, False, True, True, False, False, False, False, False])
    curve = sweep(conf, hits, 2)
    assert curve.thresholds == (0.95, 0.9, 0.85, 0.8, 0.2)
    assert curve.point(4).f1 > curve.point(3).f1  # the float trap is real
    point = choose(curve)
    assert point.threshold == 0.8


def test_label_without_positives_gets_the_neutral_threshold():
    curve = sweep(np.array([0.7, 0.3]), np.array([False, False]), 0)
    point = choose(curve)
    assert point.threshold == NO_EVIDENCE_THRESHOLD
    assert (point.true_positives, point.false_positives, point.false_negatives) == (0, 1, 0)
    assert point.f1 == 0.0


def test_label_without_predictions_gets_the_neutral_threshold():
    point = choose(sweep(np.array([]), np.array([], dtype=bool), 4))
    assert point.threshold == NO_EVIDENCE_THRESHOLD
    assert (point.true_positives, point.false_negatives) == (0, 4)
    assert point.precision == point.recall == point.f1 == 0.0


def test_predictions_that_are_all_wrong_keep_the_highest_threshold():
    point = choose(sweep(np.array([0.8, 0.6]), np.array([False, False]), 2))
    assert point.threshold == 0.8  # every candidate has F1 0: the tie rule decides
    assert point.f1 == 0.0


def test_sweep_rejects_nan_and_impossible_counts():
    with pytest.raises(ValueError, match="NaN"):
        sweep(np.array([np.nan]), np.array([True]), 1)
    with pytest.raises(ValueError, match="more correct"):
        sweep(np.array([0.5, 0.4]), np.array([True, True]), 1)
