"""open_rgb and the classifier preprocessing: what training and serving both see."""

import io

import numpy as np
import pytest
from PIL import Image

from labelgate.backends.local.inference.card import Normalization
from labelgate.backends.local.inference.classifier import normalize_batch, resize_image, source_box
from labelgate.backends.local.inference.imaging import open_rgb


def _palette(color: tuple[int, int, int]) -> Image.Image:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([*color] + [0, 0, 0] * 255)
    return image


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    assert open_rgb(buf.getvalue()).size == (20, 40)
    assert open_rgb(buf.getvalue(), exif_transpose=False).size == (40, 20)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (4, 4), 100), (100, 100, 100)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (255, 255, 255)),  # over white
        (Image.new("LA", (4, 4), (0, 255)), (0, 0, 0)),
        (Image.new("I;16", (4, 4), 65535), (255, 255, 255)),
        (_palette((1, 2, 3)), (1, 2, 3)),
    ],
)
def test_every_mode_becomes_8_bit_rgb(image, expected):
    rgb = open_rgb(_png(image))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((1, 1)) == expected


def test_paths_and_pil_images_are_accepted(tmp_path):
    path = tmp_path / "x.png"
    Image.new("RGB", (8, 6), (5, 6, 7)).save(path)
    assert open_rgb(path).size == (8, 6)
    assert open_rgb(str(path)).getpixel((0, 0)) == (5, 6, 7)
    assert open_rgb(Image.open(path)).mode == "RGB"


def test_shorter_side_center_crop_takes_the_centre_square():
    assert source_box(200, 100, 50, 50, "shorter_side_center_crop") == (50.0, 0.0, 150.0, 100.0)
    assert source_box(100, 200, 50, 50, "shorter_side_center_crop", 0.5) == (
        25.0, 75.0, 75.0, 125.0,
    )  # fmt: skip
    assert source_box(200, 100, 50, 50, "stretch") == (0.0, 0.0, 200.0, 100.0)
    with pytest.raises(ValueError, match="resize policy"):
        source_box(1, 1, 1, 1, "pad")


def test_resize_and_normalize_give_nchw_float_in_minus_one_to_one():
    image = Image.new("RGB", (90, 60), (255, 0, 128))
    pixels = resize_image(image, 32, 32, "shorter_side_center_crop")
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
    x = normalize_batch(pixels[None], Normalization())
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x[0, :, 5, 5], [1.0, -1.0, 128 / 127.5 - 1], atol=1e-6)
