"""Spec 02 §7: the evaluation manifest snapshots, key for key."""

import json
from datetime import datetime

import pytest

from labelgate.backends.local.inference.records import CLASSIFICATION, DETECTION, MULTILABEL
from labelgate.backends.local.training.evaluation import evaluate, training_snapshot_lines
from tests.evaluation.builders import box, box_example, det, detected, image_example, scored
from tests.evaluation.test_detection import random_detection_set, spec_detection_set
from tests.evaluation.test_image_level import spec_evaluation

STAMP = "2024-06-10T07:38:02.551907"
CREATED = datetime(2024, 6, 10, 7, 38, 2, 551907)
OUTCOMES = ("is-true-positive", "is-true-negative", "is-false-positive", "is-false-negative")
DETAILS_KEYS = ["version", "ground-truth-labelling-jobs", *OUTCOMES, "is-present-in-ground-truth"]


def details(outcome, present):
    d = {"version": 1, "ground-truth-labelling-jobs": ["rekognition-custom-labels-training-job"]}
    d.update({key: key == outcome for key in OUTCOMES})
    d["is-present-in-ground-truth"] = present
    return d


def all_details(line):
    for key, value in line.items():
        if key.startswith("rekognition-custom-labels-evaluation") and key.endswith("-metadata"):
            if "objects" in value:
                yield from (o["rekognition-custom-labels-evaluation-details"]
                            for o in value["objects"])
            else:
                yield value["rekognition-custom-labels-evaluation-details"]


def test_classification_line_matches_the_spec_example():
    # The spec's example line: truth dent; scratch predicted at 0.64 (FP), dent at 0.11 (FN).
    labels = ("dent", "ok", "scratch")
    panel = image_example(311, ["dent"])
    panel = type(panel)("s3://acme-cl-data/img/panel-0311.png", panel.image_path, 64, 64,
                        ("dent",))
    others = [image_example(i, [label]) for i, label in enumerate(labels)]
    examples = [panel, *others]
    predictions = [scored(panel, {"dent": 0.11, "ok": 0.25, "scratch": 0.64}),
                   scored(others[0], {"dent": 0.8, "ok": 0.1, "scratch": 0.1}),
                   scored(others[1], {"dent": 0.5, "ok": 0.8, "scratch": 0.1}),
                   scored(others[2], {"dent": 0.5, "ok": 0.1, "scratch": 0.64})]
    evaluation = evaluate(CLASSIFICATION, labels, examples, predictions)
    assert evaluation.thresholds == {"dent": 0.8, "ok": 0.8, "scratch": 0.64}
    line = next(evaluation.testing_snapshot_lines(created_at=CREATED))
    evaluation_meta = {"job-name": "rekognition-custom-labels-evaluation-job",
                       "human-annotated": "no", "creation-date": STAMP,
                       "type": "groundtruth/image-classification"}
    assert line == {
        "source-ref": "s3://acme-cl-data/img/panel-0311.png",
        "rekognition-custom-labels-training-0": 0,
        "rekognition-custom-labels-training-0-metadata": {
            "confidence": 1.0, "job-name": "rekognition-custom-labels-training-job",
            "class-name": "dent", "human-annotated": "yes", "creation-date": STAMP,
            "type": "groundtruth/image-classification"},
        "rekognition-custom-labels-evaluation-0": 2,
        "rekognition-custom-labels-evaluation-0-metadata": {
            "confidence": 0.64, "class-name": "scratch", **evaluation_meta,
            "rekognition-custom-labels-evaluation-details": details("is-false-positive", False)},
        "rekognition-custom-labels-evaluation-1": 0,
        "rekognition-custom-labels-evaluation-1-metadata": {
            "confidence": 0.11, "class-name": "dent", **evaluation_meta,
            "rekognition-custom-labels-evaluation-details": details("is-false-negative", True)},
    }
    meta = line["rekognition-custom-labels-evaluation-0-metadata"]
    assert list(meta) == ["confidence", "job-name", "class-name", "human-annotated",
                          "creation-date", "type", "rekognition-custom-labels-evaluation-details"]
    assert list(meta["rekognition-custom-labels-evaluation-details"]) == DETAILS_KEYS


def test_detection_line_matches_the_spec_example():
    tray = box_example(144, [box("bolt", 100, 80, 60, 40)])
    tray = type(tray)("s3://acme-cl-data/img/tray-0144.jpg", tray.image_path, 1024, 768,
                      ("bolt",), tray.boxes)
    prediction = detected(tray, [det("nut", 0.58, 600, 400, 30, 30),
                                 det("bolt", 0.91, 104, 83, 58, 41)])
    evaluation = evaluate(DETECTION, ("bolt", "nut"), [tray], [prediction])
    line = next(evaluation.testing_snapshot_lines(created_at=CREATED))
    assert line == {
        "source-ref": "s3://acme-cl-data/img/tray-0144.jpg",
        "rekognition-custom-labels-training-0": {
            "annotations": [{"class_id": 0, "left": 100, "top": 80, "width": 60, "height": 40}],
            "image_size": [{"width": 1024, "height": 768, "depth": 3}]},
        "rekognition-custom-labels-training-0-metadata": {
            "job-name": "rekognition-custom-labels-training-job", "class-map": {"0": "bolt"},
            "human-annotated": "yes", "objects": [{"confidence": 1.0}],
            "creation-date": STAMP, "type": "groundtruth/object-detection"},
        "rekognition-custom-labels-evaluation": {
            "annotations": [{"class_id": 0, "left": 104, "top": 83, "width": 58, "height": 41},
                            {"class_id": 1, "left": 600, "top": 400, "width": 30, "height": 30}],
            "image_size": [{"width": 1024, "height": 768, "depth": 3}]},
        "rekognition-custom-labels-evaluation-metadata": {
            "confidence": 0.91, "job-name": "rekognition-custom-labels-evaluation-job",
            "class-map": {"0": "bolt", "1": "nut"}, "human-annotated": "no",
            "objects": [
                {"confidence": 0.91,
                 "rekognition-custom-labels-evaluation-details": details("is-true-positive", True)},
                {"confidence": 0.58,
                 "rekognition-custom-labels-evaluation-details": details("is-false-positive",
                                                                          False)}],
            "creation-date": STAMP, "type": "groundtruth/object-detection"},
    }


def test_detection_misses_are_appended_with_confidence_zero_and_below_threshold_boxes():
    examples = [box_example(0, [box("a", 0, 0), box("a", 200, 0), box("a", 400, 0)]),
                box_example(1, [box("a", 0, 0)])]
    predictions = [detected(examples[0], [det("a", 0.9, 0, 0), det("a", 0.3, 200, 0),
                                          det("a", 0.2, 700, 700)]),
                   detected(examples[1], [det("a", 0.8, 0, 0), det("a", 0.85, 600, 600),
                                          det("a", 0.5, 600, 0), det("a", 0.45, 600, 200),
                                          det("a", 0.4, 600, 400)])]
    evaluation = evaluate(DETECTION, ("a",), examples, predictions)
    # At 0.8: TP 2 FP 1 FN 2, F1 4/7; at 0.3: TP 3 FP 4 FN 1, F1 6/11.
    assert evaluation.thresholds["a"] == 0.8
    line = next(evaluation.testing_snapshot_lines(created_at=CREATED))
    result = line["rekognition-custom-labels-evaluation"]["annotations"]
    objects = line["rekognition-custom-labels-evaluation-metadata"]["objects"]
    assert [o["confidence"] for o in objects] == [0.9, 0.3, 0.2, 0.0]
    assert result[-1] == {"class_id": 0, "left": 400, "top": 0, "width": 40, "height": 40}
    outcomes = [next(k for k in OUTCOMES if o["rekognition-custom-labels-evaluation-details"][k])
                for o in objects]
    # 0.3 matched a true box but is below the threshold: that object counts as missed.
    assert outcomes == ["is-true-positive", "is-false-negative", "is-true-negative",
                        "is-false-negative"]


@pytest.mark.parametrize("kind", ["classification", "multilabel", "detection"])
def test_exactly_one_outcome_per_entry(kind):
    if kind == "detection":
        examples, predictions = random_detection_set(5, images=20)
        evaluation = evaluate(DETECTION, ("a", "b"), examples, predictions)
    else:
        labels = ("a", "b", "c")
        examples = [image_example(i, labels[i % 3: i % 3 + (2 if kind == "multilabel" else 1)])
                    for i in range(24)]
        predictions = [scored(e, {"a": (i * 37 % 100) / 100, "b": (i * 53 % 100) / 100,
                                  "c": (i * 71 % 100) / 100}) for i, e in enumerate(examples)]
        evaluation = evaluate(kind, labels, examples, predictions)
    lines = list(evaluation.testing_snapshot_lines(created_at=CREATED))
    assert len(lines) == len(examples)
    entries = [d for line in lines for d in all_details(line)]
    assert entries
    for d in entries:
        assert list(d) == DETAILS_KEYS
        assert sum(d[k] for k in OUTCOMES) == 1
        assert d["is-present-in-ground-truth"] == (d["is-true-positive"]
                                                   or d["is-false-negative"])
    for line in lines:
        json.dumps(line, allow_nan=False)


def test_outcome_counts_agree_with_the_metrics():
    evaluation = spec_evaluation()
    lines = list(evaluation.testing_snapshot_lines(created_at=CREATED))
    counts = {}
    for line in lines:
        for key, meta in line.items():
            if key.startswith("rekognition-custom-labels-evaluation-") and key.endswith("metadata"):
                d = meta["rekognition-custom-labels-evaluation-details"]
                outcome = next(k for k in OUTCOMES if d[k])
                counts[(meta["class-name"], outcome)] = counts.get(
                    (meta["class-name"], outcome), 0) + 1
    for label, m in evaluation.per_label.items():
        assert counts.get((label, "is-true-positive"), 0) == m.true_positives
        assert counts.get((label, "is-false-positive"), 0) == m.false_positives
        assert counts.get((label, "is-false-negative"), 0) == m.false_negatives
        assert (label, "is-true-negative") not in counts  # TN entries are not written

    examples, predictions = spec_detection_set()
    detection = evaluate(DETECTION, ("bolt", "nut"), examples, predictions)
    found = {}
    for line in detection.testing_snapshot_lines(created_at=CREATED):
        meta = line["rekognition-custom-labels-evaluation-metadata"]
        boxes = line["rekognition-custom-labels-evaluation"]["annotations"]
        for b, o in zip(boxes, meta["objects"], strict=True):
            d = o["rekognition-custom-labels-evaluation-details"]
            key = (meta["class-map"][str(b["class_id"])], next(k for k in OUTCOMES if d[k]))
            found[key] = found.get(key, 0) + 1
    assert found == {("bolt", "is-true-positive"): 180, ("bolt", "is-false-positive"): 20,
                     ("bolt", "is-false-negative"): 15, ("nut", "is-true-positive"): 120,
                     ("nut", "is-false-positive"): 25, ("nut", "is-false-negative"): 30}


def test_multilabel_ground_truth_has_one_attribute_per_label():
    example = image_example(0, ["b", "a"])
    evaluation = evaluate(MULTILABEL, ("a", "b"), [example],
                          [scored(example, {"a": 0.9, "b": 0.8})])
    line = next(evaluation.testing_snapshot_lines(created_at=CREATED))
    assert line["rekognition-custom-labels-training-0"] == 0
    assert line["rekognition-custom-labels-training-0-metadata"]["class-name"] == "a"
    assert line["rekognition-custom-labels-training-1"] == 1
    assert line["rekognition-custom-labels-training-1-metadata"]["class-name"] == "b"


def test_training_snapshot_has_only_ground_truth_keys():
    image = image_example(0, ["ok"])
    lines = list(training_snapshot_lines(CLASSIFICATION, ("dent", "ok"), [image],
                                         created_at=CREATED))
    assert lines == [{
        "source-ref": image.source_ref,
        "rekognition-custom-labels-training-0": 1,
        "rekognition-custom-labels-training-0-metadata": {
            "confidence": 1.0, "job-name": "rekognition-custom-labels-training-job",
            "class-name": "ok", "human-annotated": "yes", "creation-date": STAMP,
            "type": "groundtruth/image-classification"},
    }]
    boxes = box_example(1, [box("nut", 10.5, 20, 30, 40), box("bolt", 0, 0)])
    (line,) = training_snapshot_lines(DETECTION, ("bolt", "nut"), [boxes], created_at=CREATED)
    assert list(line) == ["source-ref", "rekognition-custom-labels-training-0",
                          "rekognition-custom-labels-training-0-metadata"]
    assert line["rekognition-custom-labels-training-0"]["annotations"][0] == {
        "class_id": 1, "left": 10.5, "top": 20, "width": 30, "height": 40}
    assert line["rekognition-custom-labels-training-0-metadata"]["class-map"] == {
        "0": "bolt", "1": "nut"}
    assert line["rekognition-custom-labels-training-0-metadata"]["objects"] == [
        {"confidence": 1.0}, {"confidence": 1.0}]


def test_training_snapshot_rejects_labels_outside_the_model():
    with pytest.raises(ValueError, match="outside"):
        list(training_snapshot_lines(CLASSIFICATION, ("a",), [image_example(0, ["b"])],
                                     created_at=CREATED))
