"""Any valid image survives the one pre-processing (issue 14 §4): training, evaluation and
serving, classifier and detector, at every input size AutoML can pick.

Valid means what ImageProbe accepts: sides of 64-4096 px, at most 20:1, PNG or JPEG in any
mode Pillow reads (grey, palette with and without transparency, RGBA, LA, bilevel, CMYK,
16-bit grey, EXIF-rotated). Two layers:
- the box arithmetic (centre crop, random crops, letterbox size) over thousands of sizes,
  pure Python: this is where 173x173 at 192 px once gave a box 1e-14 px outside the image;
- real encoded images, drawn by hypothesis, through every function the trainer and the
  serving path call, asserting exactly the shape and dtype the model's input wants, and
  that training's evaluation tensors equal serving's to the bit.
Images are solid colours with one block (cheap to encode); most are at most 1 MP, and a few
fixed examples cover the 4096 px extremes.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from labelgate.backends.local.inference import pipeline
from labelgate.backends.local.inference.card import (
    SHORTER_SIDE_CENTER_CROP,
    STRETCH,
    InputSpec,
    ModelCard,
    Normalization,
)
from labelgate.backends.local.inference.classifier import normalize_batch, source_box
from labelgate.backends.local.inference.detector import RESIZE_POLICY, fitted_size
from labelgate.backends.local.inference.imaging import clamp_box, open_rgb, resize_region
from labelgate.backends.local.inference.records import Example
from labelgate.backends.local.training.learners import automl, detection_automl
from labelgate.backends.local.training.learners.classifier_data import (
    AugmentConfig,
    ImageStore,
    TrainBatches,
    eval_pixels,
    random_resized_crop_box,
)
from labelgate.backends.local.training.learners.detection_data import (
    canvas_input,
    load_record,
    sample_crop,
)
from labelgate.backends.local.training.learners.lite0 import NORMALIZATION_MEAN, NORMALIZATION_STD

MIN_SIDE, MAX_SIDE, MAX_RATIO = 64, 4096, 20
NORM = Normalization(mean=tuple(NORMALIZATION_MEAN), std=tuple(NORMALIZATION_STD))


# -- what AutoML can pick ---------------------------------------------------------------------


def _classifier_choices() -> tuple[list[int], list[int], list[str]]:
    """Every (training resolution, evaluation/serving resolution, resize policy) the
    classifier planner gives, over image sizes and devices."""
    train, served, policies = set(), set(), set()
    for device in ("cpu", "cuda"):
        for search in (True, False):
            for short in range(MIN_SIDE, MAX_SIDE + 1, 8):
                plan = automl.plan_classifier(
                    multilabel=False, n_train=40, median_short_side=short,
                    device_type=device, time_budget_s=60.0, search=search,
                )  # fmt: skip
                train.add(plan.train_resolution)
                served.update((plan.train_resolution, plan.probe_resolution,
                               *plan.eval_resolutions))  # fmt: skip
                policies.update(plan.resize_policies)
    return sorted(train), sorted(served), sorted(policies)


TRAIN_RESOLUTIONS, RESOLUTIONS, POLICIES = _classifier_choices()
# The trainer writes 1.0 into every card; the card format allows the ImageNet 0.875 too.
CROP_FRACTIONS = (1.0, 0.875)
# Detector canvases: each side is rounded to 32 px and kept in [MIN, MAX]_CANVAS_SIDE.
CANVAS_SIDES = list(
    range(detection_automl.MIN_CANVAS_SIDE, detection_automl.MAX_CANVAS_SIDE + 1, 32)
)


def test_the_planners_choices_are_what_this_test_covers():
    assert TRAIN_RESOLUTIONS == [64, 96, 128, 160, 192, 224]
    assert RESOLUTIONS[0] == 64 and RESOLUTIONS[-1] == 320  # 1.4 x 224, rounded to 32
    assert set(TRAIN_RESOLUTIONS) <= set(RESOLUTIONS) and all(r % 32 == 0 for r in RESOLUTIONS)
    assert POLICIES == sorted([SHORTER_SIDE_CENTER_CROP, STRETCH])
    assert CANVAS_SIDES[0] == 64 and CANVAS_SIDES[-1] == 1024


def _crop_sides(canvas_side: int) -> list[int]:
    """Training crop sides plan_detector can give for a canvas side: 320 px (or the
    canvas), twice the longest object rounded to 32 px, or the whole canvas."""
    base = min(detection_automl.CROP_SIDE, canvas_side)
    return sorted({base, canvas_side, *range(base, canvas_side + 1, 32)})


# -- layer 1: the box arithmetic --------------------------------------------------------------


def _valid_sizes(step_w: int, step_h: int) -> list[tuple[int, int]]:
    return [(w, h) for w in range(MIN_SIDE, MAX_SIDE + 1, step_w)
            for h in range(MIN_SIDE, MAX_SIDE + 1, step_h)
            if max(w, h) <= MAX_RATIO * min(w, h)]  # fmt: skip


def _assert_inside(box, width: int, height: int) -> None:
    left, top, right, bottom = box
    assert 0.0 <= left < right <= width and 0.0 <= top < bottom <= height, (box, width, height)


def test_centre_crop_and_stretch_boxes_lie_inside_every_size():
    squares = [(s, s) for s in range(MIN_SIDE, MAX_SIDE + 1)]
    sizes = squares + _valid_sizes(37, 41) + [(1000, 50), (50, 1000), (4096, 205), (205, 4096)]
    for width, height in sizes:
        for res in RESOLUTIONS:
            for fraction in CROP_FRACTIONS:
                box = source_box(width, height, res, res, SHORTER_SIDE_CENTER_CROP, fraction)
                _assert_inside(box, width, height)
                # The crop has the input's (square) shape, up to float noise.
                assert box[2] - box[0] == pytest.approx(box[3] - box[1], rel=1e-9)
            _assert_inside(source_box(width, height, res, res, STRETCH), width, height)


def test_the_centre_crop_of_a_square_is_the_whole_square():
    # The case: 173x173 at 192 px gave (-1.4e-14, -1.4e-14, 173.0, 173.0).
    assert source_box(173, 173, 192, 192, SHORTER_SIDE_CENTER_CROP) == (0.0, 0.0, 173.0, 173.0)
    for side in range(MIN_SIDE, 1025):
        for res in RESOLUTIONS:
            box = source_box(side, side, res, res, SHORTER_SIDE_CENTER_CROP)
            assert box == (0.0, 0.0, float(side), float(side))


def test_random_training_crops_lie_inside_every_size():
    aug = AugmentConfig()
    rng = np.random.default_rng(14)
    for width, height in [*_valid_sizes(53, 59), (1000, 50), (50, 1000), (173, 173)]:
        for _ in range(8):
            _assert_inside(random_resized_crop_box(width, height, rng, aug), width, height)


def test_letterbox_sizes_fit_every_canvas_and_are_never_empty():
    for width, height in [*_valid_sizes(97, 89), (4096, 205), (205, 4096), (1000, 50)]:
        for canvas_h in [*CANVAS_SIDES[::3], CANVAS_SIDES[-1]]:
            for canvas_w in [*CANVAS_SIDES[::3], CANVAS_SIDES[-1]]:
                new_w, new_h = fitted_size(width, height, canvas_w, canvas_h)
                assert 1 <= new_w <= canvas_w and 1 <= new_h <= canvas_h
                assert new_w == canvas_w or new_h == canvas_h  # it fills one side


@pytest.mark.parametrize(
    "box",
    [(-1e-14, -1e-14, 173.0, 173.0), (0.0, 0.0, 173.00000000000003, 173.0), (-5, 10, 300, 20),
     (100, 100, 100, 100), (172.9, 0, 173.1, 1e-9), (float("nan"), 0, 10, 10), (500, 500, 9, 9)],
)  # fmt: skip
def test_clamp_box_keeps_any_box_inside_and_not_empty(box):
    clamped = clamp_box(box, 173, 173)
    _assert_inside(clamped, 173, 173)
    assert clamped[2] - clamped[0] >= 1.0 and clamped[3] - clamped[1] >= 1.0
    image = Image.new("RGB", (173, 173), (1, 2, 3))
    assert resize_region(image, 192, 192, box).size == (192, 192)


def test_a_box_that_fits_is_kept_as_it_is():
    assert clamp_box((0.5, 1.25, 100.0, 40.0), 173, 50) == (0.5, 1.25, 100.0, 40.0)


# -- layer 2: real images, end to end through the pre-processing ------------------------------

KINDS = ("rgb_png", "rgb_jpeg", "grey_png", "bilevel_png", "palette_png",
         "palette_transparent_png", "rgba_png", "la_png", "cmyk_jpeg", "exif6_jpeg",
         "exif8_jpeg", "grey16_png")  # fmt: skip
ROTATED = ("exif6_jpeg", "exif8_jpeg")


def encode(kind: str, width: int, height: int) -> bytes:
    """A width x height image (as stored; EXIF kinds display transposed) of `kind`."""
    block = (width // 4, height // 4, width // 2, height // 2)
    fmt, options = ("JPEG", {}) if kind.endswith("jpeg") else ("PNG", {})
    if kind in ("rgb_png", "rgb_jpeg") or kind in ROTATED:
        image = Image.new("RGB", (width, height), (200, 120, 40))
        image.paste((10, 60, 220), block)
        if kind in ROTATED:
            exif = Image.Exif()
            exif[0x0112] = 6 if kind == "exif6_jpeg" else 8
            options["exif"] = exif.tobytes()
    elif kind == "grey_png":
        image = Image.new("L", (width, height), 90)
        image.paste(200, block)
    elif kind == "bilevel_png":
        image = Image.new("1", (width, height), 1)
        image.paste(0, block)
    elif kind.startswith("palette"):
        image = Image.new("P", (width, height), 3)
        image.putpalette([(i * 37) % 256 for i in range(768)])
        image.paste(7, block)
        if kind == "palette_transparent_png":
            options["transparency"] = 7
    elif kind == "rgba_png":
        image = Image.new("RGBA", (width, height), (20, 200, 90, 255))
        image.paste((250, 0, 0, 0), block)
    elif kind == "la_png":
        image = Image.new("LA", (width, height), (60, 255))
        image.paste((0, 100), block)
    elif kind == "cmyk_jpeg":
        image = Image.new("CMYK", (width, height), (0, 128, 255, 0))
        image.paste((200, 0, 0, 30), block)
    elif kind == "grey16_png":
        image = Image.new("I;16", (width, height), 40000)
        image.paste(1000, block)
    else:
        raise AssertionError(kind)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


MAX_DRAWN_PIXELS = 1_000_000  # bigger ones only as the fixed examples below


@st.composite
def image_sizes(draw: st.DrawFn) -> tuple[int, int]:
    """(width, height): an odd long side in 65..4095, a short side within 20:1, ≤ 1 MP."""
    long_side = draw(st.integers(32, 2047).map(lambda k: 2 * k + 1))
    low = max(MIN_SIDE, math.ceil(long_side / MAX_RATIO))
    high = min(long_side, MAX_DRAWN_PIXELS // long_side)
    short_side = draw(st.integers(low, high))
    return (short_side, long_side) if draw(st.booleans()) else (long_side, short_side)


@st.composite
def detector_inputs(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int], str]:
    """A canvas (h, w), a training crop (h, w) within it and the augmentation."""
    canvas = (draw(st.sampled_from(CANVAS_SIDES)), draw(st.sampled_from(CANVAS_SIDES)))
    crop = (draw(st.sampled_from(_crop_sides(canvas[0]))),
            draw(st.sampled_from(_crop_sides(canvas[1]))))  # fmt: skip
    augments = ["none", "hflip"] + (["dihedral"] if crop[0] == crop[1] else [])
    return canvas, crop, draw(st.sampled_from(augments))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("preprocess")


def _classifier_card(resolution: int, policy: str, fraction: float) -> ModelCard:
    spec = InputSpec(name="image", height=resolution, width=resolution, resize=policy,
                     extra={"crop_fraction": fraction})  # fmt: skip
    return ModelCard(task="classification", labels=("a", "b"), backbone="efficientnet_lite0",
                     input=spec, normalization=NORM)  # fmt: skip


def _detector_card(canvas: tuple[int, int]) -> ModelCard:
    spec = InputSpec(name="image", height=canvas[0], width=canvas[1], resize=RESIZE_POLICY)
    return ModelCard(task="detection", labels=("thing",), backbone="lite0_fpn", input=spec,
                     normalization=NORM)  # fmt: skip


def check_classifier(
    data: bytes, rgb: Image.Image, path: Path, stored_size: tuple[int, int], train_res: int
) -> None:
    # Evaluation (the trainer's validation pixels) at every resolution, policy and crop
    # fraction, and serving's tensor from the same card: identical.
    for res in RESOLUTIONS:
        for policy in POLICIES:
            for fraction in CROP_FRACTIONS if policy == SHORTER_SIDE_CENTER_CROP else (1.0,):
                pixels = eval_pixels([rgb], res, res, policy, fraction)  # type: ignore[arg-type]
                assert pixels.shape == (1, res, res, 3) and pixels.dtype == np.uint8
                if res == train_res:  # one serving pass per example keeps this fast
                    served = pipeline.prepare(_classifier_card(res, policy, fraction), data)
                    assert served["image"].shape == (1, 3, res, res)
                    assert served["image"].dtype == np.float32
                    assert np.array_equal(served["image"], normalize_batch(pixels, NORM))
    # Training: the capped in-memory copy (JPEG draft decoding), random crops, flips.
    store = ImageStore([path], [stored_size], short_side_cap=round(1.5 * train_res))
    assert store[0].mode == "RGB" and store[0].size[0] >= 1 and store[0].size[1] >= 1
    batches = TrainBatches(store, batch_size=1, aug=AugmentConfig(), seed=train_res)
    for epoch in range(3):
        (batch,) = list(batches.epoch(epoch, train_res))
        assert batch.pixels.shape == (1, train_res, train_res, 3)
        assert batch.pixels.dtype == np.uint8


def check_detector(data: bytes, rgb: Image.Image, canvas, crop, augment: str) -> None:
    # Serving's canvas, and the trainer's validation canvas from its record: identical.
    card = _detector_card(canvas)
    served = pipeline.prepare(card, data)["image"]
    assert served.shape == (1, 3, *canvas) and served.dtype == np.float32
    example = Example(source_ref="s3://b/k", image_path=Path("unused"), width=rgb.width,
                      height=rgb.height, labels=("thing",))  # fmt: skip
    record = load_record(example, {"thing": 0}, canvas, loader=lambda _: rgb)
    assert 1 <= record.height <= canvas[0] and 1 <= record.width <= canvas[1]
    trained = canvas_input(record, canvas, NORMALIZATION_MEAN, NORMALIZATION_STD)
    assert np.array_equal(trained, served[0])
    rng = np.random.default_rng(canvas[0] * 7 + canvas[1])
    for _ in range(2):
        sample = sample_crop(record, crop, augment, rng, NORMALIZATION_MEAN, NORMALIZATION_STD)
        assert sample.image.shape == (3, *crop) and sample.image.dtype == np.float32
        assert np.isfinite(sample.image).all()
    # A box over the whole canvas maps back onto the whole (upright) image, not beyond.
    outputs = {
        "boxes": np.array([[0, 0, canvas[1], canvas[0]]], np.float32),
        "scores": np.array([0.9], np.float32),
        "labels": np.array([0], np.int64),
    }
    (found,) = pipeline.interpret(card, outputs, pipeline.image_size(data)).detections
    assert found.left == 0 and found.top == 0
    assert found.width == pytest.approx(rgb.width) and found.height == pytest.approx(rgb.height)


@settings(max_examples=45, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(
    kind=st.sampled_from(KINDS),
    size=image_sizes(),
    train_res=st.sampled_from(TRAIN_RESOLUTIONS),
    detector=detector_inputs(),
)
@example(kind="rgb_png", size=(173, 173), train_res=192, detector=((192, 192), (192, 192), "none"))
@example(kind="rgb_jpeg", size=(1280, 64), train_res=160, detector=((64, 1024), (64, 320), "hflip"))
@example(kind="grey_png", size=(64, 1280), train_res=64, detector=((1024, 64), (320, 64), "none"))
@example(kind="exif6_jpeg", size=(1280, 64), train_res=224,
         detector=((480, 480), (320, 320), "dihedral"))  # fmt: skip
@example(kind="exif8_jpeg", size=(4096, 205), train_res=96,
         detector=((64, 64), (64, 64), "dihedral"))  # fmt: skip
@example(kind="la_png", size=(205, 4096), train_res=128, detector=((1024, 96), (320, 96), "none"))
@example(kind="cmyk_jpeg", size=(4096, 4096), train_res=224,
         detector=((1024, 1024), (320, 320), "hflip"))  # fmt: skip
@example(kind="grey16_png", size=(64, 64), train_res=64, detector=((64, 64), (64, 64), "none"))
@example(kind="palette_transparent_png", size=(4095, 2049), train_res=160,
         detector=((736, 1024), (320, 320), "hflip"))  # fmt: skip
def test_any_valid_image_becomes_exactly_the_input_each_model_wants(
    scratch: Path, kind: str, size: tuple[int, int], train_res: int, detector
) -> None:
    assert MIN_SIDE <= min(size) and max(size) <= MAX_SIDE
    assert max(size) <= MAX_RATIO * min(size)
    check_everything(scratch, kind, size, train_res, detector)


@pytest.mark.parametrize("size", [(1000, 50), (50, 1000)])
def test_images_below_the_spec_minimum_still_preprocess(scratch: Path, size) -> None:
    # 20:1 with a 50 px side: refused by validation and DetectCustomLabels (64 px minimum),
    # yet nothing in the pre-processing itself depends on that limit.
    check_everything(scratch, "exif6_jpeg", size, 160, ((64, 1024), (64, 320), "hflip"))
    check_everything(scratch, "palette_png", size, 64, ((1024, 64), (320, 64), "none"))


def check_everything(scratch: Path, kind: str, size: tuple[int, int], train_res: int,
                     detector) -> None:  # fmt: skip
    width, height = size
    data = encode(kind, width, height)
    path = scratch / ("image.jpg" if kind.endswith("jpeg") else "image.png")
    path.write_bytes(data)

    rgb = open_rgb(data)
    assert rgb.mode == "RGB"
    assert rgb.size == ((height, width) if kind in ROTATED else (width, height))
    assert open_rgb(path).size == rgb.size

    check_classifier(data, rgb, path, size, train_res)
    check_detector(data, rgb, *detector)
