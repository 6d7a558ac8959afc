"""Spec 02 §5, §6.3, §8 for image-level models: per-label metrics, aggregates, confusion."""

import random

import pytest

from labelgate.backends.local.inference.records import CLASSIFICATION, MULTILABEL
from labelgate.backends.local.training.evaluation import evaluate
from tests.evaluation.builders import counts_test_set, image_example, scored

LABELS = ("dent", "ok", "scratch")
# The spec's §6.3 example: top-1 counts GT -> predicted in label order, and its thresholds.
SPEC_COUNTS = {"dent": (34, 1, 5), "ok": (2, 96, 2), "scratch": (6, 3, 51)}
SPEC_THRESHOLDS = {"dent": 0.198, "ok": 0.412, "scratch": 0.287}


def spec_evaluation():
    examples, predictions = counts_test_set(LABELS, SPEC_COUNTS, SPEC_THRESHOLDS)
    return evaluate(CLASSIFICATION, LABELS, examples, predictions)


def test_spec_example_per_label_values():
    evaluation = spec_evaluation()
    dent, ok, scratch = (evaluation.per_label[label] for label in LABELS)
    assert (dent.precision, dent.recall, dent.f1) == (0.8095238095238095, 0.85,
                                                       0.8292682926829269)
    assert (ok.precision, ok.recall, ok.f1) == (0.96, 0.96, 0.96)
    assert (scratch.precision, scratch.recall, scratch.f1) == (0.8793103448275862, 0.85,
                                                                0.864406779661017)
    assert evaluation.thresholds == SPEC_THRESHOLDS
    assert [m.testing_images for m in (dent, ok, scratch)] == [40, 100, 60]
    assert (dent.true_positives, dent.false_positives, dent.false_negatives,
            dent.true_negatives) == (34, 8, 6, 152)


def test_spec_example_aggregates_are_macro_means_to_full_precision():
    evaluation = spec_evaluation()
    assert evaluation.f1_score == 0.8845583574479813
    assert evaluation.precision == 0.8829447181171319
    assert evaluation.recall == 0.8866666666666666


def test_spec_example_confusion_matrix():
    evaluation = spec_evaluation()
    cells = [(c.ground_truth, c.predicted, c.value) for c in evaluation.confusion_matrix]
    assert cells == [
        ("dent", "dent", 0.85), ("dent", "ok", 0.025), ("dent", "scratch", 0.125),
        ("ok", "dent", 0.02), ("ok", "ok", 0.96), ("ok", "scratch", 0.02),
        ("scratch", "dent", 0.1), ("scratch", "ok", 0.05), ("scratch", "scratch", 0.85),
    ]
    assert evaluation.top1_accuracy == (34 + 96 + 51) / 200


def test_confusion_matrix_has_every_cell_and_columns_sum_to_one():
    counts = {"dent": (3, 0, 0), "ok": (0, 0, 0), "scratch": (1, 1, 2)}
    examples, predictions = counts_test_set(LABELS, counts, SPEC_THRESHOLDS)
    evaluation = evaluate(CLASSIFICATION, LABELS, examples, predictions)
    assert len(evaluation.confusion_matrix) == 9
    for truth in LABELS:
        column = sum(c.value for c in evaluation.confusion_matrix if c.ground_truth == truth)
        assert column == (0.0 if truth == "ok" else pytest.approx(1.0))


def test_confusion_matrix_ignores_thresholds():
    a_sure, a_unsure = image_example(0, ["a"]), image_example(1, ["a"])
    bs = [image_example(i, ["b"]) for i in range(2, 5)]
    predictions = [scored(a_sure, {"a": 0.9, "b": 0.1}), scored(a_unsure, {"a": 0.4, "b": 0.35})]
    predictions += [scored(e, {"a": 0.45 - i / 100, "b": 0.55 + i / 100})
                    for i, e in enumerate(bs)]
    evaluation = evaluate(CLASSIFICATION, ("a", "b"), [a_sure, a_unsure, *bs], predictions)
    assert evaluation.thresholds["a"] == 0.9  # so "a" is not predicted at 0.4 ...
    assert evaluation.predicted_labels(predictions[1]) == ()
    cells = {(c.ground_truth, c.predicted): c.value for c in evaluation.confusion_matrix}
    assert cells[("a", "a")] == 1.0  # ... but it is the top-1 label
    assert cells[("b", "b")] == 1.0


def test_softmax_image_may_get_several_predicted_labels_or_none():
    examples, predictions = counts_test_set(LABELS, SPEC_COUNTS, SPEC_THRESHOLDS)
    evaluation = evaluate(CLASSIFICATION, LABELS, examples, predictions)
    both = scored(examples[0], {"dent": 0.5, "ok": 0.45, "scratch": 0.05})
    none = scored(examples[0], {"dent": 0.1, "ok": 0.1, "scratch": 0.1})
    assert evaluation.predicted_labels(both) == ("dent", "ok")
    assert evaluation.predicted_labels(none) == ()


def test_perfect_predictor_scores_one():
    counts = {"dent": (10, 0, 0), "ok": (0, 7, 0), "scratch": (0, 0, 5)}
    examples, predictions = counts_test_set(LABELS, counts, {label: 0.9 for label in LABELS})
    evaluation = evaluate(CLASSIFICATION, LABELS, examples, predictions)
    assert evaluation.f1_score == evaluation.precision == evaluation.recall == 1.0
    assert evaluation.top1_accuracy == 1.0
    assert all(m.f1 == 1.0 for m in evaluation.per_label.values())


def test_anti_predictor_is_never_right_and_no_better_than_predicting_everything():
    # Every image's true label gets the lowest score. No threshold can separate the
    # classes, so the best F1 per label is the trivial one of predicting it everywhere.
    labels = ("a", "b")
    examples = [image_example(i, [labels[i % 2]]) for i in range(40)]
    predictions = [scored(e, {e.labels[0]: 0.1, ({"a", "b"} - set(e.labels)).pop(): 0.9})
                   for e in examples]
    evaluation = evaluate(CLASSIFICATION, labels, examples, predictions)
    assert evaluation.top1_accuracy == 0.0
    assert all(c.value == 0.0 for c in evaluation.confusion_matrix
               if c.ground_truth == c.predicted)
    trivial = 2 * 0.5 / (1 + 0.5)
    assert evaluation.f1_score == pytest.approx(trivial)
    assert all(m.recall == 1.0 and m.precision == 0.5 for m in evaluation.per_label.values())


def test_random_scores_give_near_chance():
    rng = random.Random(7)
    labels = ("a", "b", "c", "d")
    examples = [image_example(i, [labels[i % 4]]) for i in range(400)]
    predictions = []
    for e in examples:
        raw = [rng.random() for _ in labels]
        predictions.append(scored(e, {k: v / sum(raw) for k, v in zip(labels, raw, strict=True)}))
    evaluation = evaluate(CLASSIFICATION, labels, examples, predictions)
    trivial = 2 * 0.25 / (1 + 0.25)  # predict every label everywhere: F1 0.4
    assert trivial - 0.01 <= evaluation.f1_score < trivial + 0.08
    assert 0.15 < evaluation.top1_accuracy < 0.35


def test_label_missing_from_the_test_set_is_not_measured():
    labels = ("a", "b", "c")
    examples = [image_example(i, [labels[i % 2]]) for i in range(10)]  # no "c"
    predictions = [scored(e, {"a": 0.8 if e.labels == ("a",) else 0.1,
                              "b": 0.8 if e.labels == ("b",) else 0.1, "c": 0.1})
                   for e in examples]
    evaluation = evaluate(CLASSIFICATION, labels, examples, predictions)
    c = evaluation.per_label["c"]
    assert not c.measured and c.testing_images == 0 and c.threshold == 0.5
    assert evaluation.f1_score == 1.0  # the mean over a and b only
    assert [m.label for m in evaluation.ranked_labels] == ["a", "b"]


def test_multilabel_counts_each_label_per_image_and_has_no_confusion_matrix():
    labels = ("cat", "dog")
    truths = [("cat",), ("dog",), ("cat", "dog"), ()]
    examples = [image_example(i, t) for i, t in enumerate(truths)]
    scores = [{"cat": 0.9, "dog": 0.2}, {"cat": 0.3, "dog": 0.7},
              {"cat": 0.8, "dog": 0.6}, {"cat": 0.1, "dog": 0.65}]
    evaluation = evaluate(MULTILABEL, labels, examples,
                          [scored(e, s) for e, s in zip(examples, scores, strict=True)])
    assert evaluation.confusion_matrix is None and evaluation.top1_accuracy is None
    cat, dog = evaluation.per_label["cat"], evaluation.per_label["dog"]
    assert (cat.threshold, cat.f1, cat.testing_images) == (0.8, 1.0, 2)
    # dog: at 0.7 TP 1 FN 1 (F1 2/3); at 0.65 TP 1 FP 1 FN 1; at 0.6 TP 2 FP 1 (F1 0.8).
    assert (dog.threshold, dog.true_positives, dog.false_positives) == (0.6, 2, 1)
    assert dog.f1 == pytest.approx(0.8)
    assert dog.true_negatives == 1


def test_ground_truth_labels_outside_the_model_are_ignored():
    examples = [image_example(0, ["a"]), image_example(1, ["zzz"])]
    predictions = [scored(examples[0], {"a": 0.9, "b": 0.1}),
                   scored(examples[1], {"a": 0.2, "b": 0.8})]
    evaluation = evaluate(CLASSIFICATION, ("a", "b"), examples, predictions)
    assert evaluation.per_label["a"].f1 == 1.0
    assert evaluation.per_label["b"].positives == 0
    assert evaluation.number_of_testing_images == 2
