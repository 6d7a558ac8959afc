"""Spec 02 §6: the training results summary file, key for key."""

import json
from datetime import UTC, datetime, timedelta, timezone

from labelgate.backends.local.inference.records import CLASSIFICATION, DETECTION, MULTILABEL
from labelgate.backends.local.training.evaluation import evaluate, summary_file_name
from tests.evaluation.builders import image_example, scored
from tests.evaluation.test_detection import spec_detection_set
from tests.evaluation.test_image_level import spec_evaluation

CLASSIFICATION_ARN = ("arn:aws:rekognition:eu-west-1:123456789012:project/panel-defects/"
                      "version/panel-defects.v2/1718000000999")
DETECTION_ARN = ("arn:aws:rekognition:eu-west-1:123456789012:project/widget-inspector/"
                 "version/widget-inspector.v3/1718000000123")

# The spec's §6.3 classification example, verbatim.
SPEC_CLASSIFICATION_SUMMARY = json.loads("""
{
  "Version": 1,
  "EvaluationDetails": {
    "ProjectVersionArn": "arn:aws:rekognition:eu-west-1:123456789012:project/panel-defects/version/panel-defects.v2/1718000000999",
    "EvaluationEndTimestamp": "2024-06-10T07:38:02.551907",
    "Labels": ["dent", "ok", "scratch"],
    "NumberOfTrainingImages": 800,
    "NumberOfTestingImages": 200
  },
  "AggregatedEvaluationResults": {
    "F1Score": 0.8845583574479813,
    "Precision": 0.8829447181171319,
    "Recall": 0.8866666666666666,
    "ConfusionMatrix": [
      {"GroundTruthLabel": "dent",    "PredictedLabel": "dent",    "Value": 0.85},
      {"GroundTruthLabel": "dent",    "PredictedLabel": "ok",      "Value": 0.025},
      {"GroundTruthLabel": "dent",    "PredictedLabel": "scratch", "Value": 0.125},
      {"GroundTruthLabel": "ok",      "PredictedLabel": "dent",    "Value": 0.02},
      {"GroundTruthLabel": "ok",      "PredictedLabel": "ok",      "Value": 0.96},
      {"GroundTruthLabel": "ok",      "PredictedLabel": "scratch", "Value": 0.02},
      {"GroundTruthLabel": "scratch", "PredictedLabel": "dent",    "Value": 0.1},
      {"GroundTruthLabel": "scratch", "PredictedLabel": "ok",      "Value": 0.05},
      {"GroundTruthLabel": "scratch", "PredictedLabel": "scratch", "Value": 0.85}
    ],
    "Metrics": {"F1Score": 0.8845583574479813, "Precision": 0.8829447181171319, "Recall": 0.8866666666666666}
  },
  "LabelEvaluationResults": [
    {"Label": "ok", "NumberOfTestingImages": 100,
     "Metrics": {"Threshold": 0.412, "Precision": 0.96, "Recall": 0.96, "F1Score": 0.96}},
    {"Label": "scratch", "NumberOfTestingImages": 60,
     "Metrics": {"Threshold": 0.287, "Precision": 0.8793103448275862, "Recall": 0.85, "F1Score": 0.864406779661017}},
    {"Label": "dent", "NumberOfTestingImages": 40,
     "Metrics": {"Threshold": 0.198, "Precision": 0.8095238095238095, "Recall": 0.85, "F1Score": 0.8292682926829269}}
  ]
}
""")  # noqa: E501


def test_classification_summary_is_the_spec_example_exactly():
    document = spec_evaluation().summary_document(
        version_arn=CLASSIFICATION_ARN, n_training_images=800,
        ended_at=datetime(2024, 6, 10, 7, 38, 2, 551907))
    assert document == SPEC_CLASSIFICATION_SUMMARY
    # Key order as in the example, and plain JSON (no NaN, no numpy types).
    assert list(document) == ["Version", "EvaluationDetails", "AggregatedEvaluationResults",
                              "LabelEvaluationResults"]
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_detection_summary_keys_and_values():
    examples, predictions = spec_detection_set()
    evaluation = evaluate(DETECTION, ("bolt", "nut"), examples, predictions)
    document = evaluation.summary_document(
        version_arn=DETECTION_ARN, n_training_images=1150,
        ended_at=datetime(2024, 6, 10, 7, 39, 40, 4512))
    assert document["EvaluationDetails"] == {
        "ProjectVersionArn": DETECTION_ARN,
        "EvaluationEndTimestamp": "2024-06-10T07:39:40.004512",
        "Labels": ["bolt", "nut"],
        "NumberOfTrainingImages": 1150,
        "NumberOfTestingImages": 281,
    }
    aggregated = document["AggregatedEvaluationResults"]
    assert list(aggregated) == ["F1Score", "Precision", "Recall", "AveragePrecision",
                                "AverageRecall", "Metrics"]
    assert aggregated["F1Score"] == 0.8624758635485947
    assert aggregated["Precision"] == 0.8637931034482759
    assert aggregated["Recall"] == 0.8615384615384616
    assert aggregated["Metrics"] == {k: v for k, v in aggregated.items() if k != "Metrics"}
    assert "ConfusionMatrix" not in aggregated
    assert document["LabelEvaluationResults"] == [
        {"Label": "bolt", "NumberOfTestingImages": 190,
         "Metrics": {"Threshold": 0.534, "Precision": 0.9, "Recall": 0.9230769230769231,
                     "F1Score": 0.9113924050632911}},
        {"Label": "nut", "NumberOfTestingImages": 142,
         "Metrics": {"Threshold": 0.471, "Precision": 0.8275862068965517, "Recall": 0.8,
                     "F1Score": 0.8135593220338982}},
    ]
    json.dumps(document, allow_nan=False)


def test_multilabel_summary_has_neither_confusion_matrix_nor_average_precision():
    examples = [image_example(i, [("a", "b")[i % 2]]) for i in range(4)]
    predictions = [scored(e, {"a": 0.9 if e.labels == ("a",) else 0.1, "b": 0.5})
                   for e in examples]
    evaluation = evaluate(MULTILABEL, ("a", "b"), examples, predictions)
    aggregated = evaluation.summary_document(version_arn="arn", n_training_images=3,
                                             ended_at=datetime(2024, 1, 1)
                                             )["AggregatedEvaluationResults"]
    assert list(aggregated) == ["F1Score", "Precision", "Recall", "Metrics"]


def test_label_evaluation_results_are_sorted_by_f1_descending():
    examples = [image_example(i, [("a", "b", "c")[i % 3]]) for i in range(9)]
    # c perfect, a decent, b poor.
    scores = {"a": [0.9, 0.1, 0.6, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1],
              "b": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
              "c": [0.1, 0.1, 0.9, 0.1, 0.1, 0.9, 0.1, 0.1, 0.9]}
    predictions = [scored(e, {k: v[i] for k, v in scores.items()}) for i, e in enumerate(examples)]
    evaluation = evaluate(CLASSIFICATION, ("a", "b", "c"), examples, predictions)
    rows = evaluation.summary_document(version_arn="arn", n_training_images=1,
                                       ended_at=datetime(2024, 1, 1))["LabelEvaluationResults"]
    f1s = [row["Metrics"]["F1Score"] for row in rows]
    assert [row["Label"] for row in rows] == ["c", "a", "b"]
    assert f1s == sorted(f1s, reverse=True)


def test_end_timestamp_is_iso_without_zone_with_microseconds():
    evaluation = spec_evaluation()

    def stamp(moment):
        return evaluation.summary_document(version_arn="arn", n_training_images=1,
                                           ended_at=moment)["EvaluationDetails"][
                                               "EvaluationEndTimestamp"]

    assert stamp(datetime(2019, 11, 21, 7, 30, 23, 910943)) == "2019-11-21T07:30:23.910943"
    assert stamp(datetime(2019, 11, 21, 7, 30, 23)) == "2019-11-21T07:30:23.000000"
    assert stamp(datetime(2019, 11, 21, 7, 30, 23, 5, tzinfo=UTC)) == "2019-11-21T07:30:23.000005"
    cet = timezone(timedelta(hours=1))
    assert stamp(datetime(2019, 11, 21, 8, 30, 23, tzinfo=cet)) == "2019-11-21T07:30:23.000000"


def test_summary_file_name():
    assert (summary_file_name("widget-inspector", "widget-inspector.v3")
            == "EvaluationResultSummary-widget-inspector-widget-inspector.v3.json")
