"""Spec 02 §5.2: IoU >= 0.5, same label, one-to-one, greedy by descending confidence."""

import numpy as np
import pytest

from labelgate.backends.local.training.evaluation.matching import iou, match_boxes
from tests.evaluation.builders import box, det


def test_identical_boxes_have_iou_one():
    assert iou(box("a", 10, 20, 30, 40), box("a", 10, 20, 30, 40)) == 1.0


def test_disjoint_and_touching_boxes_have_iou_zero():
    assert iou(box("a", 0, 0, 10, 10), box("a", 50, 50, 10, 10)) == 0.0
    assert iou(box("a", 0, 0, 10, 10), box("a", 10, 0, 10, 10)) == 0.0  # shared edge only


def test_degenerate_boxes_have_iou_zero():
    assert iou(box("a", 5, 5, 0, 0), box("a", 5, 5, 0, 0)) == 0.0
    assert iou(box("a", 0, 0, 0, 10), box("a", 0, 0, 10, 10)) == 0.0


def test_partial_overlap():
    # 10x10 boxes shifted by 5 in x: intersection 50, union 150.
    assert iou(box("a", 0, 0, 10, 10), box("a", 5, 0, 10, 10)) == pytest.approx(1 / 3)


def test_iou_of_exactly_one_half_counts_as_correct():
    truth = [box("a", 0, 0, 2, 1)]
    prediction = [det("a", 0.9, 0, 0, 1, 1)]
    assert iou(truth[0], prediction[0]) == 0.5
    assert match_boxes(truth, prediction).tolist() == [0]


def test_iou_just_below_one_half_does_not_count():
    truth = [box("a", 0, 0, 100, 100)]
    prediction = [det("a", 0.9, 0, 0, 100, 49.9)]
    assert iou(truth[0], prediction[0]) < 0.5
    assert match_boxes(truth, prediction).tolist() == [-1]


def test_two_predictions_on_one_truth_give_one_match():
    truth = [box("a", 0, 0, 40, 40)]
    predictions = [det("a", 0.6, 0, 0, 40, 40), det("a", 0.9, 1, 1, 40, 40)]
    # The more confident one takes the truth although the other fits it better.
    assert match_boxes(truth, predictions).tolist() == [-1, 0]


def test_matching_is_within_the_same_label():
    truth = [box("a", 0, 0, 40, 40)]
    assert match_boxes(truth, [det("b", 0.9, 0, 0, 40, 40)]).tolist() == [-1]


def test_a_prediction_takes_the_best_overlapping_free_truth():
    truths = [box("a", 0, 0, 40, 40), box("a", 10, 0, 40, 40)]
    predictions = [det("a", 0.9, 9, 0, 40, 40), det("a", 0.8, 0, 0, 40, 40)]
    assert match_boxes(truths, predictions).tolist() == [1, 0]


def test_matches_map_back_to_the_original_indices_across_labels():
    truths = [box("b", 500, 500), box("a", 0, 0), box("b", 100, 100)]
    predictions = [det("a", 0.5, 0, 0), det("b", 0.7, 100, 100), det("b", 0.2, 300, 300)]
    assert np.array_equal(match_boxes(truths, predictions), [1, 2, -1])
