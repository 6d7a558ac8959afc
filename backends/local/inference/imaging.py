"""Image bytes or files → the RGB picture a model sees, the same way in training and serving.

`open_rgb` is the only door: the trainer's validation/test predictions and the serving
runtime both go through it, so a photo is turned upright (EXIF orientation) and converted
to 8-bit RGB identically everywhere. Conversions:

- grayscale ("L", "1"), palette, CMYK, YCbCr → RGB;
- 16-bit grayscale ("I;16*") is scaled 65535 → 255 rather than clipped;
- anything with alpha (RGBA, LA, PA, palette transparency) is composited over white,
  the background viewers show and what a scanned or exported product shot means.

`resize_region` is the only place a region of a picture is resized (the classifier's
centre crop and stretch, the trainer's random crops): it keeps the region inside the
picture, because float arithmetic on a crop can land a side 1e-14 px outside it (a
173x173 photo centre-cropped for a 192 px input), and Pillow refuses such a box.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

ImageInput = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO | Image.Image
Box = tuple[float, float, float, float]  # (left, top, right, bottom) in source pixels

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def open_rgb(source: ImageInput, *, exif_transpose: bool = True) -> Image.Image:
    """Decode `source` (bytes, path, file object or PIL image) into a loaded RGB image.

    Raises PIL's UnidentifiedImageError / OSError for data that is not a readable image.
    """
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        image = Image.open(io.BytesIO(bytes(source)))
    else:
        image = Image.open(source)
    image.load()
    if exif_transpose:
        # Always a new image (a copy when already upright): callers may close `source`.
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB (see the module notes for the rules)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(image, dtype=np.float64)
        if mode != "I" or values.max(initial=0) > 255:
            values = values / 257.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def clamp_box(box: Box, width: int, height: int) -> Box:
    """`box` moved and cut to lie inside a width x height image, never thinner than a pixel.

    A box that fits is returned unchanged; one that sticks out is shifted back in keeping
    its size where the image is large enough, else cut to the image; an empty (or NaN) one
    becomes a pixel.
    """
    if width < 1 or height < 1:
        raise ValueError(f"a {width}x{height} image has no pixels to resize")
    left, right = _clamp_span(box[0], box[2], width)
    top, bottom = _clamp_span(box[1], box[3], height)
    return (left, top, right, bottom)


def _clamp_span(lo: float, hi: float, limit: int) -> tuple[float, float]:
    end = float(limit)
    span = float(hi) - float(lo)
    if not span >= 1.0:  # also NaN
        span = 1.0
    span = min(span, end)
    lo = float(lo) if lo >= 0.0 else 0.0  # NaN too
    lo = min(lo, end - span)
    # lo + span may round a hair past the end: cut there.
    return lo, min(lo + span, end)


def resize_region(
    image: Image.Image,
    width: int,
    height: int,
    box: Box | None = None,
    *,
    reducing_gap: float | None = None,
) -> Image.Image:
    """The `box` region of `image` (the whole image when None) resized to width x height,
    bilinear; the box is first kept inside the image (`clamp_box`). `reducing_gap` is
    Pillow's (a faster two-step downscale; None: one exact resample)."""
    if width < 1 or height < 1:
        raise ValueError(f"cannot resize to {width}x{height}")
    full = (0.0, 0.0, float(image.width), float(image.height))
    region = clamp_box(full if box is None else box, image.width, image.height)
    return image.resize(
        (width, height), Image.Resampling.BILINEAR, box=region, reducing_gap=reducing_gap
    )


__all__ = ["Box", "ImageInput", "clamp_box", "open_rgb", "resize_region", "to_rgb"]
