"""DetectCustomLabels over real gRPC (serving.md §2): results, filters, geometry, errors."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from labelgate import errors
from labelgate.backends.local.inference import load_predictor
from labelgate.backends.local.serving.serving_service import MAX_IMAGE_BYTES
from tests.serving.conftest import BUCKET, COLOURS, Serving, png


@pytest.fixture
def classifier(serving: Serving) -> str:
    # green's assumed threshold is above anything it scores: absent MinConfidence hides it.
    arn = serving.classifier(serving.project("cls"),
                             thresholds={"red": 0.5, "green": 1.01, "blue": 0.5})
    serving.start(arn)
    return arn


def test_results_equal_the_in_process_predictor_on_the_same_image(serving: Serving,
                                                                  classifier: str) -> None:
    image = png((120, 90, 60), 80, 70)
    served = serving.detect(classifier, image, min_confidence=0).custom_labels
    model_dir = serving.tmp / "cls-v1"
    expected = load_predictor(model_dir).predict(image).scores
    assert len(served) == 3
    assert {c.name: c.confidence for c in served} == pytest.approx(
        {name: score * 100 for name, score in expected.items()}, rel=1e-5)
    assert [c.confidence for c in served] == sorted((c.confidence for c in served),
                                                    reverse=True)
    assert all(not c.HasField("geometry") for c in served)  # image-level labels


def test_min_confidence_absent_applies_each_labels_assumed_threshold(serving: Serving,
                                                                     classifier: str) -> None:
    assert [c.name for c in serving.detect(classifier, png(COLOURS["red"])).custom_labels] \
        == ["red"]
    assert serving.detect(classifier, png(COLOURS["green"])).custom_labels == []
    found = serving.detect(classifier, png(COLOURS["green"]), min_confidence=50).custom_labels
    assert [c.name for c in found] == ["green"]
    assert 50 <= found[0].confidence <= 100


def test_min_confidence_zero_returns_every_label_and_max_results_cuts(serving: Serving,
                                                                      classifier: str) -> None:
    image = png(COLOURS["blue"])
    assert len(serving.detect(classifier, image, min_confidence=0).custom_labels) == 3
    top = serving.detect(classifier, image, min_confidence=0, max_results=1).custom_labels
    assert [c.name for c in top] == ["blue"]


def test_jpeg_and_s3_object_images(serving: Serving, classifier: str) -> None:
    jpeg = png(COLOURS["red"], fmt="JPEG")
    assert [c.name for c in serving.detect(classifier, jpeg).custom_labels] == ["red"]
    serving.put("img/blue.png", png(COLOURS["blue"]))
    found = serving.client.detect_custom_labels(
        project_version_arn=classifier,
        image={"S3Object": {"Bucket": BUCKET, "Name": "img/blue.png"}}).custom_labels
    assert [c.name for c in found] == ["blue"]


def test_detection_boxes_are_ratios_of_the_image(serving: Serving) -> None:
    arn = serving.detector(serving.project("det"))
    serving.start(arn)
    # 128x64 fits the 64x64 canvas at scale 0.5: canvas box (8,16)-(40,48) is image
    # (16,32)-(80,96), clipped to the image's bottom edge at 64.
    image = png((200, 200, 200), 128, 64)
    (label,) = serving.detect(arn, image).custom_labels
    assert label.name == "thing"
    box = label.geometry.bounding_box
    assert (box.left, box.top, box.width, box.height) == pytest.approx((0.125, 0.5, 0.5, 0.5))
    assert len(label.geometry.polygon) == 0  # serving.md §2.3: no polygons
    (expected,) = load_predictor(serving.tmp / "det-v1").predict(image).detections
    assert label.confidence == pytest.approx(expected.confidence * 100, rel=1e-5)
    assert serving.detect(arn, image, min_confidence=99.9).custom_labels == []


def test_detect_errors(serving: Serving, classifier: str) -> None:
    with pytest.raises(errors.ResourceNotFoundException):
        serving.detect(classifier.rsplit("/", 1)[0] + "/1", png(COLOURS["red"]))
    not_started = serving.classifier(serving.project("idle"))
    with pytest.raises(errors.ResourceNotReadyException):
        serving.detect(not_started, png(COLOURS["red"]))
    big = png(COLOURS["red"]) + b"\0" * MAX_IMAGE_BYTES
    with pytest.raises(errors.ImageTooLargeException):
        serving.detect(classifier, big)
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, format="GIF")
    with pytest.raises(errors.InvalidImageFormatException):
        serving.detect(classifier, gif.getvalue())
    with pytest.raises(errors.InvalidImageFormatException):
        serving.detect(classifier, png(COLOURS["red"])[:40])  # a truncated PNG
    with pytest.raises(errors.InvalidS3ObjectException):
        serving.client.detect_custom_labels(
            project_version_arn=classifier,
            image={"S3Object": {"Bucket": BUCKET, "Name": "no/such.png"}})
    with pytest.raises(errors.InvalidParameterException):  # below 64x64 px
        serving.detect(classifier, png(COLOURS["red"], 32, 32))
