"""evaluate() refuses inputs that cannot belong together, loudly."""

import pytest

from labelgate.backends.local.inference.records import CLASSIFICATION, DETECTION
from labelgate.backends.local.training.evaluation import evaluate
from tests.evaluation.builders import box, box_example, det, detected, image_example, scored


def test_predictions_must_follow_the_examples_order():
    a, b = image_example(0, ["a"]), image_example(1, ["b"])
    with pytest.raises(ValueError, match="prediction 0 is for"):
        evaluate(CLASSIFICATION, ("a", "b"), [a, b],
                 [scored(b, {"a": 0.1, "b": 0.9}), scored(a, {"a": 0.9, "b": 0.1})])


def test_one_prediction_per_example():
    a = image_example(0, ["a"])
    with pytest.raises(ValueError, match="1 test examples but 0 predictions"):
        evaluate(CLASSIFICATION, ("a", "b"), [a], [])


def test_scores_must_cover_exactly_the_model_labels():
    a = image_example(0, ["a"])
    with pytest.raises(ValueError, match=r"\['b'\]"):
        evaluate(CLASSIFICATION, ("a", "b"), [a], [scored(a, {"a": 0.9})])
    with pytest.raises(ValueError, match=r"\['c'\]"):
        evaluate(CLASSIFICATION, ("a", "b"), [a], [scored(a, {"a": 0.9, "b": 0.1, "c": 0.0})])


def test_detections_must_use_model_labels():
    e = box_example(0, [box("a", 0, 0)])
    with pytest.raises(ValueError, match=r"\['z'\]"):
        evaluate(DETECTION, ("a",), [e], [detected(e, [det("z", 0.9, 0, 0)])])


def test_nothing_to_evaluate():
    with pytest.raises(ValueError, match="empty"):
        evaluate(CLASSIFICATION, ("a", "b"), [], [])
    a = image_example(0, ["a"])
    with pytest.raises(ValueError, match="unknown task"):
        evaluate("regression", ("a",), [a], [scored(a, {"a": 1.0})])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate"):
        evaluate(CLASSIFICATION, ("a", "a"), [a], [scored(a, {"a": 1.0})])
