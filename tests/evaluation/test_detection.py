"""Spec 02 §5.1-§5.2, §5.5, §6.3 for detection: per-box counts and COCO-style AP/AR."""

import random

import pytest

from labelgate.backends.local.inference.records import DETECTION
from labelgate.backends.local.training.evaluation import evaluate
from tests.evaluation.builders import box, box_example, det, detected, grid_position


def spec_detection_set():
    """The §6.3 detection example: bolt TP 180 / FP 20 / FN 15 over 190 images at 0.534,
    nut TP 120 / FP 25 / FN 30 over 142 images at 0.471; 281 test images."""
    bolt_images = range(0, 190)  # images 0-189 carry bolts; 5 of them two
    nut_images = range(139, 281)  # images 139-280 carry nuts; 8 of them two
    truths = {i: [] for i in range(281)}
    for n, i in enumerate(bolt_images):
        truths[i] += ["bolt"] * (2 if n < 5 else 1)
    for n, i in enumerate(nut_images):
        truths[i] += ["nut"] * (2 if n < 8 else 1)
    plan = {"bolt": (180, 20, 0.534), "nut": (120, 25, 0.471)}
    found = dict.fromkeys(plan, 0)
    false = dict.fromkeys(plan, 0)
    examples, predictions = [], []
    for i in range(281):
        boxes, detections = [], []
        for k, label in enumerate(truths[i]):
            left, top = grid_position(k)
            boxes.append(box(label, left, top))
            tp, _, confidence = plan[label]
            if found[label] < tp:
                found[label] += 1
                detections.append(det(label, confidence, left + 2, top + 2))
        for label, (_, fp, confidence) in plan.items():
            if false[label] < fp and i % 7 == (0 if label == "bolt" else 3):
                false[label] += 1
                left, top = grid_position(100 + len(detections))
                detections.append(det(label, confidence, left, top))
        example = box_example(i, boxes)
        examples.append(example)
        predictions.append(detected(example, detections))
    assert found == {"bolt": 180, "nut": 120} and false == {"bolt": 20, "nut": 25}
    return examples, predictions


def test_spec_detection_example_figures():
    examples, predictions = spec_detection_set()
    evaluation = evaluate(DETECTION, ("bolt", "nut"), examples, predictions)
    bolt, nut = evaluation.per_label["bolt"], evaluation.per_label["nut"]
    assert (bolt.true_positives, bolt.false_positives, bolt.false_negatives) == (180, 20, 15)
    assert (bolt.threshold, bolt.testing_images) == (0.534, 190)
    assert (bolt.precision, bolt.recall, bolt.f1) == (0.9, 0.9230769230769231,
                                                       0.9113924050632911)
    assert (nut.threshold, nut.testing_images) == (0.471, 142)
    assert (nut.precision, nut.recall, nut.f1) == (0.8275862068965517, 0.8,
                                                    0.8135593220338982)
    assert evaluation.f1_score == 0.8624758635485947
    assert evaluation.precision == 0.8637931034482759
    assert evaluation.recall == 0.8615384615384616
    assert evaluation.number_of_testing_images == 281
    assert bolt.true_negatives is None
    assert evaluation.confusion_matrix is None


def test_two_predictions_on_one_truth_are_one_tp_and_one_fp():
    example = box_example(0, [box("a", 0, 0)])
    prediction = detected(example, [det("a", 0.9, 0, 0), det("a", 0.8, 1, 1)])
    evaluation = evaluate(DETECTION, ("a",), [example], [prediction])
    a = evaluation.per_label["a"]
    assert a.threshold == 0.9  # keeping the duplicate only adds a false positive
    assert (a.true_positives, a.false_positives, a.false_negatives) == (1, 0, 0)
    assert list(a.curve.true_positives) == [1, 1] and list(a.curve.false_positives) == [0, 1]


def test_a_box_of_the_wrong_label_is_a_false_positive_and_a_miss():
    example = box_example(0, [box("a", 0, 0), box("b", 500, 500)])
    prediction = detected(example, [det("b", 0.9, 0, 0), det("b", 0.8, 500, 500)])
    evaluation = evaluate(DETECTION, ("a", "b"), [example], [prediction])
    a, b = evaluation.per_label["a"], evaluation.per_label["b"]
    assert (a.true_positives, a.false_negatives, a.threshold) == (0, 1, 0.5)
    assert (b.true_positives, b.false_positives, b.threshold) == (1, 1, 0.8)


def test_perfect_detector():
    examples, predictions = [], []
    for i in range(6):
        boxes = [box("a" if k % 2 else "b", *grid_position(k)) for k in range(i % 3 + 1)]
        example = box_example(i, boxes)
        examples.append(example)
        predictions.append(detected(example, [det(b.label, 0.8 + i / 100, b.left, b.top)
                                              for b in boxes]))
    evaluation = evaluate(DETECTION, ("a", "b"), examples, predictions)
    assert evaluation.f1_score == evaluation.precision == evaluation.recall == 1.0
    assert evaluation.average_precision == pytest.approx(1.0)
    assert evaluation.average_recall == 1.0 and evaluation.map50 == pytest.approx(1.0)


def test_anti_detector_scores_zero():
    example = box_example(0, [box("a", 0, 0), box("a", 100, 100)])
    prediction = detected(example, [det("a", 0.9, 500, 500), det("a", 0.4, 700, 700)])
    evaluation = evaluate(DETECTION, ("a",), [example], [prediction])
    assert evaluation.f1_score == evaluation.precision == evaluation.recall == 0.0
    assert evaluation.average_precision == 0.0 and evaluation.average_recall == 0.0


def test_hand_computed_average_precision():
    # Two true boxes; 0.9 hits, 0.8 misses, 0.7 hits (IoU 1). PR points (0.5, 1), (0.5, 0.5),
    # (1, 2/3); the envelope is 1 for recall <= 0.5 (51 levels) and 2/3 above (50 levels).
    example = box_example(0, [box("a", 0, 0), box("a", 200, 0)])
    prediction = detected(example, [det("a", 0.9, 0, 0), det("a", 0.8, 400, 0),
                                     det("a", 0.7, 200, 0)])
    evaluation = evaluate(DETECTION, ("a",), [example], [prediction])
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert evaluation.average_precision == pytest.approx(expected, abs=1e-12)
    assert evaluation.map50 == pytest.approx(expected, abs=1e-12)
    assert evaluation.average_recall == 1.0


def test_average_precision_over_iou_thresholds():
    # IoU 0.72 is correct at 0.50, 0.55, 0.60, 0.65, 0.70 and wrong at 0.75 ... 0.95.
    example = box_example(0, [box("a", 0, 0, 100, 100)])
    prediction = detected(example, [det("a", 0.9, 0, 0, 100, 72)])
    evaluation = evaluate(DETECTION, ("a",), [example], [prediction])
    assert evaluation.map50 == pytest.approx(1.0)
    assert evaluation.average_precision == pytest.approx(0.5)
    assert evaluation.average_recall == pytest.approx(0.5)
    assert evaluation.per_label["a"].f1 == 1.0  # the F1 counts use IoU >= 0.5


def test_label_without_true_boxes_is_left_out_of_ap_and_aggregates():
    example = box_example(0, [box("a", 0, 0)])
    prediction = detected(example, [det("a", 0.9, 0, 0), det("b", 0.9, 300, 300)])
    evaluation = evaluate(DETECTION, ("a", "b"), [example], [prediction])
    assert evaluation.per_label["b"].average_precision is None
    assert not evaluation.per_label["b"].measured
    assert evaluation.average_precision == pytest.approx(1.0)
    assert evaluation.f1_score == 1.0


def random_detection_set(seed=3, images=12):
    rng = random.Random(seed)
    examples, predictions = [], []
    for i in range(images):
        boxes = []
        for _ in range(rng.randint(0, 4)):
            boxes.append(box(rng.choice("ab"), rng.uniform(0, 800), rng.uniform(0, 800),
                             rng.uniform(20, 150), rng.uniform(20, 150)))
        detections = []
        for b in boxes:
            if rng.random() < 0.8:
                jitter = [rng.uniform(-15, 15) for _ in range(4)]
                detections.append(det(b.label if rng.random() < 0.85 else "ab".replace(b.label, ""),
                                      rng.random(), b.left + jitter[0], b.top + jitter[1],
                                      max(5.0, b.width + jitter[2]),
                                      max(5.0, b.height + jitter[3])))
        for _ in range(rng.randint(0, 3)):
            detections.append(det(rng.choice("ab"), rng.random() * 0.6, rng.uniform(0, 800),
                                  rng.uniform(0, 800), rng.uniform(20, 150),
                                  rng.uniform(20, 150)))
        example = box_example(i, boxes)
        examples.append(example)
        predictions.append(detected(example, detections))
    return examples, predictions


@pytest.mark.parametrize("seed", [3, 11])
def test_average_precision_agrees_with_pycocotools(seed):
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")
    examples, predictions = random_detection_set(seed, images=30)
    evaluation = evaluate(DETECTION, ("a", "b"), examples, predictions)

    gt = coco_mod.COCO()
    annotations, results = [], []
    for i, (example, prediction) in enumerate(zip(examples, predictions, strict=True)):
        for b in example.boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i,
                                "category_id": 1 if b.label == "a" else 2,
                                "bbox": [b.left, b.top, b.width, b.height],
                                "area": b.width * b.height, "iscrowd": 0})
        for d in prediction.detections:
            results.append({"image_id": i, "category_id": 1 if d.label == "a" else 2,
                            "bbox": [d.left, d.top, d.width, d.height], "score": d.confidence})
    gt.dataset = {"images": [{"id": i, "width": 1000, "height": 1000}
                             for i in range(len(examples))],
                  "annotations": annotations,
                  "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    gt.createIndex()
    coco_eval = cocoeval_mod.COCOeval(gt, gt.loadRes(results), "bbox")
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    assert evaluation.average_precision == pytest.approx(coco_eval.stats[0], abs=1e-9)
    assert evaluation.map50 == pytest.approx(coco_eval.stats[1], abs=1e-9)
    assert evaluation.average_recall == pytest.approx(coco_eval.stats[8], abs=1e-9)
