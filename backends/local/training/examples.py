"""From validated manifests to a `TrainingRequest`: the examples, the task, local images.

Validation (validation.py) leaves two validation manifests and, for each, the numbers of
its usable lines. Here those lines are read back and run through the same line validator
once more (without image probes, which already passed), so exactly the attributes and boxes
validation kept are used: an attribute or box carrying `errors` is not usable, the rest of
its line is. Only labels of the chosen use case count (image-level labels for
IMAGE_LEVEL_LABELS, boxes for OBJECT_LOCALIZATION).

The task follows from the labels (issue 4): boxes -> DETECTION; image-level labels with
any image carrying more than one -> MULTILABEL; otherwise CLASSIFICATION.

Test images keep only the model's labels (the labels of the training set): a label the
model never saw cannot be predicted. A classification test image left without a label is
dropped; a detection test image without boxes stays, as a negative.

Images are materialized under `<jobdir>/images/`, once per source-ref: with the local blob
store a hard link (objects are replaced by rename, so the link keeps the bytes the job
started with, as AWS's copy would), otherwise a streamed copy. Width and height are the
image as displayed, after its EXIF orientation.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import os
import shutil
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from PIL import Image

from labelgate.backends.local.blobs.stores import BlobStore, BlobStoreUnavailable, parse_s3_uri
from labelgate.backends.local.core.background import JobInterrupted
from labelgate.backends.local.inference.records import (
    CLASSIFICATION,
    DETECTION,
    MULTILABEL,
    Box,
    Example,
    TaskKind,
)
from labelgate.backends.local.training.contract import TrainingRequest, TrainingSettings
from labelgate.backends.local.training.validation_stage import ValidatedInputs, ValidatedManifest
from labelgate.backends.local.validation.json_lines import LineValidator
from labelgate.backends.local.validation.label_checks import Attribute
from labelgate.backends.local.validation.tally import OBJECT_LOCALIZATION

IMAGES_DIR = "images"
LEARNER_DIR = "work"
#: EXIF orientations that turn the image by 90 degrees (width and height swap).
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})
_CHECK_EVERY = 64


class TrainingDataError(Exception):
    """An image of the validated data cannot be copied for the job (it vanished, say)."""


@dataclass(frozen=True)
class Annotation:
    """One usable line's annotation, before its image is materialized."""

    source_ref: str
    labels: tuple[str, ...]
    boxes: tuple[Box, ...]
    declared_size: tuple[float, float] | None  # the boxes' coordinate space


def _contains(numbers: array, number: int) -> bool:
    at = bisect.bisect_left(numbers, number)
    return at < len(numbers) and numbers[at] == number


def _usable_attributes(text: str, number: int, detection: bool) -> tuple[str, list[Attribute]]:
    validator = LineValidator()
    pending = validator.begin(number, text)
    validator.finish(pending, None)
    if pending.source_ref is None:
        raise TrainingDataError(f"usable line {number} has no source-ref")
    return pending.source_ref, [a for a in pending.attributes
                                if a.usable and a.is_detection == detection]


def _annotation(text: str, number: int, detection: bool) -> Annotation:
    source_ref, attributes = _usable_attributes(text, number, detection)
    labels: set[str] = set()
    boxes: list[Box] = []
    declared: tuple[float, float] | None = None
    for attr in attributes:
        if not detection:
            labels.add(attr.metadata["class-name"])
            continue
        declared = declared or attr.image_size
        class_map = attr.metadata["class-map"]
        for index in attr.valid_boxes:
            raw = attr.boxes[index]
            label = class_map[str(raw["class_id"])]
            labels.add(label)
            boxes.append(Box(label, float(raw["left"]), float(raw["top"]),
                             float(raw["width"]), float(raw["height"])))
    return Annotation(source_ref, tuple(sorted(labels)), tuple(boxes), declared)


def _numbered(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), 1):
        yield number, line.rstrip("\r\n")


def read_annotations(blobs: BlobStore, manifest: ValidatedManifest, use_case: str,
                     stop: threading.Event | None = None) -> list[Annotation]:
    """The usable lines of one validation manifest, in manifest order."""
    detection = use_case == OBJECT_LOCALIZATION
    usable = manifest.usable_lines
    found: list[Annotation] = []
    if not usable:
        return found
    last = usable[-1]
    location = manifest.validation_manifest
    # Read inside the block only: the stream is closed when it ends.
    with blobs.open(location.bucket, location.key) as stream:
        for number, text in _numbered(stream):
            if stop is not None and number % _CHECK_EVERY == 0 and stop.is_set():
                raise JobInterrupted
            if number > last:
                break
            if _contains(usable, number):
                found.append(_annotation(text, number, detection))
    return found


def decide_task(use_case: str, *sides: list[Annotation]) -> TaskKind:
    if use_case == OBJECT_LOCALIZATION:
        return DETECTION
    if any(len(item.labels) > 1 for side in sides for item in side):
        return MULTILABEL
    return CLASSIFICATION


# --- images -------------------------------------------------------------------------------------


def _local_name(source_ref: str) -> str:
    suffix = PurePosixPath(source_ref).suffix.lower()
    if not suffix or len(suffix) > 6 or not suffix[1:].isalnum():
        suffix = ".img"
    return hashlib.sha256(source_ref.encode("utf-8")).hexdigest()[:24] + suffix


def materialize(blobs: BlobStore, source_ref: str, directory: Path) -> Path:
    """The image as a local file under `directory` (a hard link when the blob store is a
    local directory on the same file system, else a copy)."""
    bucket, key = parse_s3_uri(source_ref)
    target = directory / _local_name(source_ref)
    if target.exists():
        return target
    tmp = target.with_name(target.name + ".part")
    with blobs.open(bucket, key) as stream:
        source = getattr(stream, "name", None)
        if isinstance(source, str) and os.path.isfile(source):
            try:
                os.link(source, target)
                return target
            except OSError:
                pass  # another file system, or links not allowed: copy instead
        with tmp.open("wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
    os.replace(tmp, target)
    return target


def displayed_size(path: Path) -> tuple[int, int]:
    """(width, height) after the EXIF orientation, read from the header only."""
    with Image.open(path) as image:
        width, height = image.size
        try:
            orientation = image.getexif().get(0x0112)
        except Exception:  # a broken EXIF block: the stored orientation it is
            orientation = None
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


def _example(item: Annotation, blobs: BlobStore, images: Path,
             cache: dict[str, tuple[Path, int, int]]) -> Example:
    if item.source_ref not in cache:
        try:
            path = materialize(blobs, item.source_ref, images)
            width, height = displayed_size(path)
        except BlobStoreUnavailable:
            raise  # an outage, not a bad image: the job ends with the store's message
        except Exception as exc:
            raise TrainingDataError(f"cannot read the image {item.source_ref}: {exc}") from exc
        cache[item.source_ref] = (path, width, height)
    path, width, height = cache[item.source_ref]
    boxes = item.boxes
    if item.declared_size is not None and boxes:
        # Boxes are in the coordinate space of the declared image_size; the contract wants
        # the image's own pixels. They agree for every normal manifest.
        sx, sy = width / item.declared_size[0], height / item.declared_size[1]
        if abs(sx - 1) > 1e-6 or abs(sy - 1) > 1e-6:
            boxes = tuple(Box(b.label, b.left * sx, b.top * sy, b.width * sx, b.height * sy)
                          for b in boxes)
    return Example(item.source_ref, path, width, height, item.labels, boxes)


def _restrict(item: Annotation, labels: frozenset[str]) -> Annotation:
    return Annotation(
        item.source_ref,
        tuple(label for label in item.labels if label in labels),
        tuple(box for box in item.boxes if box.label in labels),
        item.declared_size,
    )


def build_request(
    blobs: BlobStore,
    inputs: ValidatedInputs,
    jobdir: Path,
    settings: TrainingSettings,
    stop: threading.Event | None = None,
) -> TrainingRequest:
    """Read the usable lines of both sides, decide the task, materialize the images."""
    train = read_annotations(blobs, inputs.training, inputs.use_case, stop)
    test = read_annotations(blobs, inputs.testing, inputs.use_case, stop)
    task = decide_task(inputs.use_case, train, test)
    labels = tuple(sorted(inputs.labels))
    known = frozenset(labels)
    test = [_restrict(item, known) for item in test]
    if task != DETECTION:
        test = [item for item in test if item.labels]
    if not train or not test:  # validation's label checks make this unreachable
        raise ValueError("no usable training or test images")

    images = jobdir / IMAGES_DIR
    images.mkdir(parents=True, exist_ok=True)
    cache: dict[str, tuple[Path, int, int]] = {}
    examples: list[list[Example]] = [[], []]
    for side, items in enumerate((train, test)):
        for count, item in enumerate(items, 1):
            if stop is not None and count % _CHECK_EVERY == 0 and stop.is_set():
                raise JobInterrupted
            examples[side].append(_example(item, blobs, images, cache))
    workdir = jobdir / LEARNER_DIR
    workdir.mkdir(parents=True, exist_ok=True)
    return TrainingRequest(task=task, labels=labels, train=tuple(examples[0]),
                           test=tuple(examples[1]), workdir=workdir, settings=settings)


__all__ = ["TrainingDataError", "build_request", "decide_task", "displayed_size",
           "materialize", "read_annotations"]
