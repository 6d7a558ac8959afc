"""The detector's pieces without training: metrics, class-blind NMS, data, letterboxing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from labelgate.backends.local.inference.detector import canvas_tensor, to_detections
from labelgate.backends.local.inference.records import Box, Example
from labelgate.backends.local.training.learners.detection import class_blind_nms
from labelgate.backends.local.training.learners.detection_data import (
    load_record,
    sample_crop,
    split_validation,
)
from labelgate.backends.local.training.learners.detection_metrics import (
    ImageDetections,
    score_detections,
)
from tests.training_ml_detection.synthetic import make_examples

MEAN = STD = (0.5, 0.5, 0.5)


def _image(boxes, scores, labels, gt, gt_labels) -> ImageDetections:
    return ImageDetections(
        np.array(boxes, float).reshape(-1, 4),
        np.array(scores, float),
        np.array(labels, int),
        np.array(gt, float).reshape(-1, 4),
        np.array(gt_labels, int),
    )


def test_perfect_predictions_score_one():
    im = _image([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 1],
                [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])  # fmt: skip
    s = score_detections([im], 2)
    assert s.map50 == pytest.approx(1.0) and s.f1 == pytest.approx(1.0)


def test_a_confident_false_positive_halves_the_precision():
    im = _image([[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8], [0, 0], [[1, 1, 10, 10]], [0])
    s = score_detections([im], 1)
    assert s.map50 == pytest.approx(0.5)
    assert s.f1 == pytest.approx(2 / 3)


def test_wrong_class_and_low_iou_do_not_match_and_absent_classes_are_skipped():
    im = _image([[0, 0, 10, 10], [0, 0, 4, 10]], [0.9, 0.8], [1, 0], [[0, 0, 10, 10]], [0])
    s = score_detections([im], 3)
    assert s.ap50[0] == 0.0 and s.ap50[1] is None and s.ap50[2] is None
    assert s.map50 == 0.0


def test_class_blind_nms_drops_the_same_object_under_a_second_label():
    dets = (
        np.array([[0, 0, 10, 10], [1, 0, 10, 10], [30, 30, 40, 40]], np.float32),
        np.array([0.9, 0.6, 0.5], np.float32),
        np.array([0, 1, 1]),
    )
    _, scores, labels = class_blind_nms(dets, 0.5)
    assert scores.tolist() == pytest.approx([0.9, 0.5]) and labels.tolist() == [0, 1]
    assert class_blind_nms(dets, None) is dets


def test_validation_split_holds_every_label_and_is_reproducible(tmp_path):
    exs = make_examples(tmp_path, 30, seed=7)
    train, val = split_validation(exs, 4, np.random.default_rng(3))
    again = split_validation(exs, 4, np.random.default_rng(3))
    assert (train, val) == again
    assert len(val) == 4 and not set(train) & set(val) and len(train) + len(val) == 30
    assert {label for i in val for label in exs[i].labels} == {"blue", "red"}


@pytest.mark.parametrize("augment", ["hflip", "dihedral"])
def test_crops_keep_boxes_on_their_objects(tmp_path, augment):
    exs = make_examples(tmp_path, 6, seed=8, sides=(14, 26))
    rng = np.random.default_rng(0)
    checked = {0: 0, 1: 0}  # boxes seen per label: the loop below must not run empty
    for ex in exs:
        record = load_record(ex, {"blue": 0, "red": 1}, (96, 96))
        for _ in range(6):
            crop = sample_crop(record, (64, 64), augment, rng, MEAN, STD)
            assert crop.image.shape == (3, 64, 64)
            for (x1, y1, x2, y2), label in zip(crop.boxes, crop.labels, strict=True):
                patch = crop.image[:, round(y1) : round(y2), round(x1) : round(x2)]
                r, _, b = patch.reshape(3, -1).mean(axis=1)
                assert (r > b + 0.5) if label == 1 else (b > r + 0.5)
                checked[int(label)] += 1
    assert min(checked.values()) >= 5, checked


def test_grey_images_are_kept_with_one_channel_and_boxes_follow_the_resize(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(np.full((200, 100), 77, np.uint8)).save(path)
    ex = Example("s3://b/g.png", path, 100, 200, ("a",), (Box("a", 10, 20, 30, 40),))
    record = load_record(ex, {"a": 0}, (96, 96))
    assert record.pixels.shape == (96, 48)
    assert record.boxes.tolist() == [pytest.approx([4.8, 9.6, 19.2, 28.8])]


def test_letterbox_input_and_boxes_back_in_original_pixels():
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    x, sx, sy = canvas_tensor(image, 96, 96, MEAN, STD)
    assert x.shape == (1, 3, 96, 96) and (sx, sy) == (0.48, 0.48)
    assert x[0, 0, :48, :].min() == pytest.approx(1.0)  # red, normalized
    assert np.all(x[0, :, 48:, :] == 0.0)  # padding below the image is the mean colour
    dets = to_detections(
        np.array([[4.8, 9.6, 19.2, 28.8], [90, 40, 99, 47.9], [0, 60, 10, 70]], np.float32),
        np.array([0.5, 0.9, 0.3], np.float32),
        np.array([0, 1, 0]),
        sx,
        sy,
        200,
        100,
        ("a", "b"),
    )
    # Best first; the box in the padding below the image is dropped; the one reaching past
    # the right edge is clipped to the image.
    assert [d.label for d in dets] == ["b", "a"]
    assert (dets[0].left + dets[0].width, dets[0].top + dets[0].height) == pytest.approx(
        (200.0, 99.79), abs=0.01
    )
    assert (dets[1].left, dets[1].top, dets[1].width, dets[1].height) == pytest.approx(
        (10, 20, 30, 40), abs=1e-3
    )
