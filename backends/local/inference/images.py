"""Image bytes or files → the RGB picture a model sees, the same way in training and serving.

`open_rgb` is the only door: the trainer's validation/test predictions and the serving
runtime both go through it, so a photo is turned upright (EXIF orientation) and converted
to 8-bit RGB identically everywhere. Conversions:

- grayscale ("L", "1"), palette, CMYK, YCbCr → RGB;
- 16-bit grayscale ("I;16*") is scaled 65535 → 255 rather than clipped;
- anything with alpha (RGBA, LA, PA, palette transparency) is composited over white,
  the background viewers show and what a scanned or exported product shot means.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

ImageInput = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO | Image.Image

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
        # Returns a new image only when the EXIF orientation is not already upright.
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


__all__ = ["ImageInput", "open_rgb", "to_rgb"]
