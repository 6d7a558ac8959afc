"""The evaluation manifest snapshots (training.md §7): the usable training and test images in
SageMaker Ground Truth output format, the test lines with the model's results added.

Ground truth, every line: `rekognition-custom-labels-training-N` with its `-metadata`.
Image-level models write one pair per ground-truth label of the image, N from 0 in label
order (a single-label image has just `-0`, the spec's layout; a multi-label image one
classification attribute per label, the way Custom Labels' multi-label manifests carry
them); detection writes one `-0` pair with every box.

Results, test lines only ([DESIGN] §7, the training snapshot has none):
- image-level: one `rekognition-custom-labels-evaluation-N` pair per label that is in the
  ground truth or predicted at its threshold, N from 0 by descending score (the spec's
  example: the 0.64 false positive before the 0.11 false negative). True negatives are
  not written, so each pair is TP, FP or FN. The value is the label's index in
  `EvaluationDetails.Labels`.
- detection: the suffix-less `rekognition-custom-labels-evaluation` pair holds every box
  the model returned, by descending confidence, each with an outcome in
  `objects[i]`: at or above the threshold TP (matched a true box) or FP; below it, FN
  (the box it matched counts as missed at the operating point) or TN. True boxes no
  prediction matched follow, with confidence 0, `is-false-negative` and
  `is-present-in-ground-truth` true. The metadata `confidence` is the highest box
  confidence (0 with no boxes). `class-map` lists the labels the attribute uses.

`is-present-in-ground-truth` is threshold-free: the label is among the image's true labels
(image-level) or the box matched a true box (detection). `ground-truth-labelling-jobs`
(double l, as the spec's JSON spells it) names the ground-truth job, as in the example.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labelgate.backends.local.inference.records import (
    DETECTION,
    Box,
    Detection,
    Example,
    ImagePrediction,
    TaskKind,
)
from labelgate.backends.local.training.evaluation.timestamps import aws_timestamp

if TYPE_CHECKING:
    from labelgate.backends.local.training.evaluation.evaluator import Evaluation

TRAINING_ATTRIBUTE = "rekognition-custom-labels-training"  # + "-N"
EVALUATION_ATTRIBUTE = "rekognition-custom-labels-evaluation"  # + "-N" for image-level
DETAILS_KEY = "rekognition-custom-labels-evaluation-details"
TRAINING_JOB = "rekognition-custom-labels-training-job"
EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
CLASSIFICATION_TYPE = "groundtruth/image-classification"
DETECTION_TYPE = "groundtruth/object-detection"
DETAILS_VERSION = 1
IMAGE_DEPTH = 3  # images are read as RGB


def _number(value: float) -> int | float:
    """Integral coordinates as JSON integers, as manifests write them."""
    value = float(value)
    return int(value) if value.is_integer() else value


def outcome_details(*, predicted: bool, present: bool) -> dict[str, Any]:
    """The `rekognition-custom-labels-evaluation-details` object: exactly one outcome true."""
    predicted, present = bool(predicted), bool(present)  # JSON booleans, never numpy ones
    return {
        "version": DETAILS_VERSION,
        "ground-truth-labelling-jobs": [TRAINING_JOB],
        "is-true-positive": predicted and present,
        "is-true-negative": not predicted and not present,
        "is-false-positive": predicted and not present,
        "is-false-negative": not predicted and present,
        "is-present-in-ground-truth": present,
    }


# -- ground truth ----------------------------------------------------------------------------


def _image_level_truth(labels: Sequence[str], truth: Sequence[str], stamp: str
                       ) -> dict[str, Any]:
    index = {label: i for i, label in enumerate(labels)}
    line: dict[str, Any] = {}
    for n, label in enumerate(truth):
        key = f"{TRAINING_ATTRIBUTE}-{n}"
        line[key] = index[label]
        line[f"{key}-metadata"] = {
            "confidence": 1.0,
            "job-name": TRAINING_JOB,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": stamp,
            "type": CLASSIFICATION_TYPE,
        }
    return line


def _annotation(box: Box | Detection, class_id: int) -> dict[str, Any]:
    return {"class_id": class_id, "left": _number(box.left), "top": _number(box.top),
            "width": _number(box.width), "height": _number(box.height)}


def _image_size(example: Example) -> list[dict[str, int]]:
    return [{"width": example.width, "height": example.height, "depth": IMAGE_DEPTH}]


def _class_map(labels: Sequence[str], used: Sequence[str]) -> dict[str, str]:
    """The labels an attribute uses, by class id (the training example's `{"0": "bolt"}`)."""
    used_set = set(used)
    return {str(i): label for i, label in enumerate(labels) if label in used_set}


def _detection_truth(labels: Sequence[str], example: Example, boxes: Sequence[Box],
                     stamp: str) -> dict[str, Any]:
    key = f"{TRAINING_ATTRIBUTE}-0"
    index = {label: i for i, label in enumerate(labels)}
    return {
        key: {"annotations": [_annotation(b, index[b.label]) for b in boxes],
              "image_size": _image_size(example)},
        f"{key}-metadata": {
            "job-name": TRAINING_JOB,
            "class-map": _class_map(labels, [b.label for b in boxes]),
            "human-annotated": "yes",
            "objects": [{"confidence": 1.0} for _ in boxes],
            "creation-date": stamp,
            "type": DETECTION_TYPE,
        },
    }


def training_snapshot_lines(task: TaskKind, labels: Sequence[str],
                            train_examples: Sequence[Example], *, created_at: datetime
                            ) -> Iterator[dict[str, Any]]:
    """The training snapshot: ground truth only. Every label must be a model label."""
    labels = tuple(labels)
    known = set(labels)
    stamp = aws_timestamp(created_at)
    for example in train_examples:
        used = set(example.labels) | {b.label for b in example.boxes}
        if used - known:
            raise ValueError(f"training example {example.source_ref!r} has labels outside "
                             f"the model's: {sorted(used - known)}")
        line: dict[str, Any] = {"source-ref": example.source_ref}
        if task == DETECTION:
            line.update(_detection_truth(labels, example, example.boxes, stamp))
        else:
            line.update(_image_level_truth(labels, [x for x in labels if x in used], stamp))
        yield line


# -- test results ----------------------------------------------------------------------------


def _image_level_results(evaluation: Evaluation, prediction: ImagePrediction,
                         truth: Sequence[str], stamp: str) -> dict[str, Any]:
    index = {label: i for i, label in enumerate(evaluation.labels)}
    predicted = set(evaluation.predicted_labels(prediction))
    shown = [label for label in evaluation.labels if label in predicted or label in truth]
    shown.sort(key=lambda label: -prediction.scores[label])  # stable: label order on ties
    line: dict[str, Any] = {}
    for n, label in enumerate(shown):
        key = f"{EVALUATION_ATTRIBUTE}-{n}"
        line[key] = index[label]
        line[f"{key}-metadata"] = {
            "confidence": float(prediction.scores[label]),
            "job-name": EVALUATION_JOB,
            "class-name": label,
            "human-annotated": "no",
            "creation-date": stamp,
            "type": CLASSIFICATION_TYPE,
            DETAILS_KEY: outcome_details(predicted=label in predicted, present=label in truth),
        }
    return line


def _detection_results(evaluation: Evaluation, example: Example, prediction: ImagePrediction,
                       truths: Sequence[Box], matches: Sequence[int], stamp: str
                       ) -> dict[str, Any]:
    labels = evaluation.labels
    index = {label: i for i, label in enumerate(labels)}
    order = sorted(range(len(prediction.detections)),
                   key=lambda i: -prediction.detections[i].confidence)
    annotations, objects, used = [], [], []
    for i in order:
        detection = prediction.detections[i]
        kept = float(detection.confidence) >= evaluation.per_label[detection.label].threshold
        annotations.append(_annotation(detection, index[detection.label]))
        objects.append({"confidence": float(detection.confidence),
                        DETAILS_KEY: outcome_details(predicted=kept, present=matches[i] >= 0)})
        used.append(detection.label)
    matched = {int(m) for m in matches if m >= 0}
    for t, box in enumerate(truths):
        if t not in matched:
            annotations.append(_annotation(box, index[box.label]))
            objects.append({"confidence": 0.0,
                            DETAILS_KEY: outcome_details(predicted=False, present=True)})
            used.append(box.label)
    return {
        EVALUATION_ATTRIBUTE: {"annotations": annotations, "image_size": _image_size(example)},
        f"{EVALUATION_ATTRIBUTE}-metadata": {
            "confidence": max((float(d.confidence) for d in prediction.detections), default=0.0),
            "job-name": EVALUATION_JOB,
            "class-map": _class_map(labels, used),
            "human-annotated": "no",
            "objects": objects,
            "creation-date": stamp,
            "type": DETECTION_TYPE,
        },
    }


def testing_snapshot_lines(evaluation: Evaluation, *, created_at: datetime
                           ) -> Iterator[dict[str, Any]]:
    """The test snapshot: ground truth (model labels only) and the model's results."""
    stamp = aws_timestamp(created_at)
    labels = evaluation.labels
    for i, (example, prediction) in enumerate(
            zip(evaluation.examples, evaluation.predictions, strict=True)):
        line: dict[str, Any] = {"source-ref": example.source_ref}
        if evaluation.task == DETECTION:
            assert evaluation.box_matches is not None
            truths = evaluation.known_boxes(example)
            line.update(_detection_truth(labels, example, truths, stamp))
            line.update(_detection_results(evaluation, example, prediction, truths,
                                           evaluation.box_matches[i], stamp))
        else:
            truth = evaluation.known_labels(example)
            line.update(_image_level_truth(labels, truth, stamp))
            line.update(_image_level_results(evaluation, prediction, truth, stamp))
        yield line


__all__ = [
    "DETAILS_KEY",
    "EVALUATION_ATTRIBUTE",
    "EVALUATION_JOB",
    "TRAINING_ATTRIBUTE",
    "TRAINING_JOB",
    "outcome_details",
    "testing_snapshot_lines",
    "training_snapshot_lines",
]
