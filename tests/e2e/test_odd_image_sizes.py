"""Odd image sizes through the whole product (issue 14 §4): a real model (EfficientNet-Lite0,
not the test learner) trains on images of 173x173, 20:1 strips and other sizes the spec
allows, reaches TRAINING_COMPLETED, runs, and DetectCustomLabels answers for every one.

173x173 is the size whose centre crop for the 192 px input AutoML picks here (training
images' median short side 173 -> 160 px training, 192 px evaluation) once came out
1.4e-14 px outside the image: Pillow refused the box, the version ended TRAINING_FAILED and
a running model answered InternalServerError.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from labelgate import errors
from labelgate.backends.local.blobs.bundles import ModelBundle
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.v1 import custom_labels_pb2 as pb
from tests.serving.conftest import (  # noqa: F401  (fixtures: make_serving needs database)
    BUCKET,
    Serving,
    _postgres_migrated,
    _sqlite_template,
    database,
    make_serving,
)
from tests.training_jobs import data

pytestmark = pytest.mark.slow

OUT = "odd-out"
LABELS = {"red": data.COLOURS["red"], "blue": data.COLOURS["blue"]}
# (width, height): all valid (sides 64-4096 px, at most 20:1); 173 is the median short side.
ODD_SIZES = [(173, 173), (1280, 64), (64, 1280), (1000, 64), (64, 1000), (4096, 205),
             (205, 4096), (97, 131), (333, 65), (251, 173)]  # fmt: skip
TRAIN_DEADLINE_S = 420.0


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> Serving:
    """A gateway whose workers run the real learner with a short budget."""
    make = request.getfixturevalue("make_serving")
    return make({"training_time_budget_seconds": 15, "training_learner": "automl"})


def _png(colour: tuple[int, int, int], size: tuple[int, int], shade: int) -> bytes:
    return data.png(colour, size[0], size[1], shade)


def _jpeg(image: Image.Image, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _dataset(serving: Serving, project: str, kind: str, lines: list[dict]) -> None:
    """A TRAIN or TEST dataset of manifest `lines` (their images are already in BUCKET)."""
    key = f"{project.split('/')[1]}-{kind}.manifest"
    serving.put(key, data.manifest(lines))
    arn = serving.client.create_dataset(
        project_arn=project, dataset_type=kind,
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
    ).dataset_arn  # fmt: skip
    serving.client.wait_dataset_created(arn, delay=0.1, max_attempts=600)


def _colour_lines(serving: Serving, prefix: str, sizes) -> list[dict]:
    """One solid-colour image of each size per label, stored in BUCKET, as manifest lines."""
    lines = []
    for label, colour in LABELS.items():
        for i, size in enumerate(sizes):
            key = f"{prefix}/{label}-{i}-{size[0]}x{size[1]}.png"
            serving.put(key, _png(colour, size, shade=3 * i % 17))
            lines.append(data.classification(f"s3://{BUCKET}/{key}", label))
    return lines


def _train(serving: Serving, project: str) -> tuple[str, dict]:
    """Train version v1 to TRAINING_COMPLETED: its ARN and model card."""
    serving.backend.blobs.ensure_bucket(OUT)
    arn = serving.client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": OUT, "S3KeyPrefix": "runs"},
    ).project_version_arn  # fmt: skip
    deadline = time.monotonic() + TRAIN_DEADLINE_S
    while (desc := serving.describe(arn)).status == pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS:
        assert time.monotonic() < deadline, "training did not end"
        time.sleep(0.5)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED, (
        desc.status_message, _worker_log(serving))  # fmt: skip
    return arn, json.loads(serving.backend.blobs.read(*_card_location(serving, arn)))


def _worker_log(serving: Serving) -> str:
    logs = sorted(Path(serving.backend.data_dir).glob("training/*/worker.log"))
    return logs[-1].read_text()[-4000:] if logs else "(no worker log)"


def test_a_real_classifier_trains_on_odd_sizes_and_detects_every_one(serving: Serving) -> None:
    project = serving.project("odd-sizes")
    # Training: every odd size, 173x173 four times (so 173 is the median short side).
    _dataset(serving, project, "TRAIN",
             _colour_lines(serving, "train", ODD_SIZES + [(173, 173)] * 3))  # fmt: skip
    _dataset(serving, project, "TEST", _colour_lines(serving, "test", ODD_SIZES[:5]))
    arn, card = _train(serving, project)
    assert card["task"] == "classification" and card["backbone"] != "test"
    assert card["input"]["height"] == card["input"]["width"] >= 64
    # The case of the issue was met: 173x173 images cropped for a 192 px input.
    assert 192 in card["training"]["plan"]["eval_resolutions"]

    serving.start(arn)
    for size in ODD_SIZES:
        for label, colour in LABELS.items():
            found = serving.detect(arn, _png(colour, size, shade=5), min_confidence=0)
            names = [c.name for c in found.custom_labels]
            assert sorted(names) == sorted(LABELS), size
            assert names[0] == label, (size, [(c.name, c.confidence) for c in found.custom_labels])
        # Other encodings of the same size: grey, palette with transparency, RGBA, 16-bit
        # grey, EXIF-rotated and CMYK JPEG.
        for encoded in _other_encodings(size):
            assert len(serving.detect(arn, encoded, min_confidence=0).custom_labels) == 2, size
    # 20:1 with a 50 px side is outside the spec: refused as such, not an internal error.
    for size in ((1000, 50), (50, 1000)):
        with pytest.raises(errors.InvalidParameterException):
            serving.detect(arn, _png(LABELS["red"], size, shade=0))


def _card_location(serving: Serving, arn: str) -> tuple[str, str]:
    def read(session) -> dict:
        return session.query(ProjectVersion).filter(ProjectVersion.arn == arn).one().model_bundle

    bundle = ModelBundle.from_json(serving.backend.db.run_sync(read))
    return bundle.bucket, bundle.key("model.json")


def _other_encodings(size: tuple[int, int]) -> list[bytes]:
    width, height = size
    out = []
    for mode, fill, options in (("L", 90, {}), ("P", 3, {"transparency": 3}),
                                ("RGBA", (200, 30, 30, 128), {}), ("I;16", 40000, {})):  # fmt: skip
        buffer = io.BytesIO()
        Image.new(mode, size, fill).save(buffer, format="PNG", **options)
        out.append(buffer.getvalue())
    # Stored transposed with EXIF orientation 6/8: upright it is width x height again.
    out.append(_jpeg(Image.new("RGB", (height, width), (30, 40, 220)), orientation=6))
    out.append(_jpeg(Image.new("RGB", (height, width), (220, 30, 30)), orientation=8))
    cmyk = io.BytesIO()
    Image.new("CMYK", size, (0, 200, 200, 0)).save(cmyk, format="JPEG")
    out.append(cmyk.getvalue())
    return out


# -- detection --------------------------------------------------------------------------------

SQUARE = 40  # px: the side of the one object (fits a 64 px strip)


def _square_png(size: tuple[int, int], left: int, top: int) -> bytes:
    image = Image.new("RGB", size, (235, 235, 235))
    image.paste((200, 20, 20), (left, top, left + SQUARE, top + SQUARE))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _placement(size: tuple[int, int], i: int) -> tuple[int, int]:
    width, height = size
    return (7 * i + 5) % (width - SQUARE), (5 * i + 3) % (height - SQUARE)


def _square_lines(serving: Serving, prefix: str, sizes) -> list[dict]:
    """One image of each size with a square in it, stored in BUCKET, as manifest lines."""
    lines = []
    for i, size in enumerate(sizes):
        left, top = _placement(size, i)
        key = f"{prefix}/{i}-{size[0]}x{size[1]}.png"
        serving.put(key, _square_png(size, left, top))
        lines.append(data.detection(f"s3://{BUCKET}/{key}", [("square", left, top, SQUARE, SQUARE)],
                                    *size))  # fmt: skip
    return lines


def test_a_real_detector_trains_on_odd_sizes_and_detects_every_one(serving: Serving) -> None:
    project = serving.project("odd-boxes")
    _dataset(serving, project, "TRAIN", _square_lines(serving, "train-boxes", ODD_SIZES))
    _dataset(serving, project, "TEST", _square_lines(serving, "test-boxes", ODD_SIZES[:4]))
    arn, card = _train(serving, project)
    assert card["task"] == "detection"

    serving.start(arn)
    boxes = 0
    for i, size in enumerate(ODD_SIZES):
        for encoded in (_square_png(size, *_placement(size, i)), *_other_encodings(size)):
            found = serving.detect(arn, encoded, min_confidence=0).custom_labels
            boxes += len(found)
            for label in found:  # any boxes lie inside the image (ratios of its sides)
                box = label.geometry.bounding_box
                assert label.name == "square"
                assert 0 <= box.left <= box.left + box.width <= 1 + 1e-6
                assert 0 <= box.top <= box.top + box.height <= 1 + 1e-6
    assert boxes > 0  # the boxes above were checked, not an empty answer every time
