"""Test images with the model's results drawn on them, for the report (Pillow only).

Detection: true boxes the model found in green, missed true boxes (FN) in orange, boxes the
model predicted at the assumed threshold in blue when correct (TP) and red when not (FP),
each with its label and confidence. Image-level: the true and predicted labels as a
caption, green when they agree. Images are shrunk to `MAX_SIDE` (JPEGs decode at reduced
size through `draft`, which keeps a report of 12 images well under a second) and turned
upright by their EXIF orientation, as the inference code reads them. An image that cannot
be read becomes a grey placeholder: a report never fails on one picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

MAX_SIDE = 384
CAPTION_LINE = 16
TRUE_FOUND = (46, 160, 67)
TRUE_MISSED = (255, 140, 0)
PREDICTED_RIGHT = (31, 119, 225)
PREDICTED_WRONG = (220, 40, 40)
TEXT = (20, 20, 20)


@dataclass(frozen=True)
class DrawnBox:
    left: float
    top: float
    width: float
    height: float
    color: tuple[int, int, int]
    text: str = ""


@dataclass(frozen=True)
class CaptionLine:
    text: str
    color: tuple[int, int, int] = TEXT


def _font(size: int = 12) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def load_thumbnail(path: Path, width: int, height: int) -> tuple[Image.Image, float]:
    """The image shrunk to MAX_SIDE and the factor from original pixels to it."""
    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError):
        image = Image.new("RGB", (max(1, width), max(1, height)), (200, 200, 200))
    # Scale from the example's recorded size: a JPEG draft may already be smaller.
    original = max(width, height) or max(image.size)
    scale = min(1.0, MAX_SIDE / original)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if width and height and image.size != target:
        image = image.resize(target, Image.Resampling.BILINEAR)
    elif not (width and height):
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image, scale


def render_example(path: Path, width: int, height: int, boxes: Sequence[DrawnBox],
                   caption: Sequence[CaptionLine], out: Path) -> Path:
    image, scale = load_thumbnail(path, width, height)
    font = _font()
    draw = ImageDraw.Draw(image)
    for box in boxes:
        x0, y0 = box.left * scale, box.top * scale
        x1, y1 = x0 + box.width * scale, y0 + box.height * scale
        draw.rectangle((x0, y0, x1, y1), outline=box.color, width=2)
        if box.text:
            tx, ty = x0, max(0.0, y0 - 14)
            bbox = draw.textbbox((tx, ty), box.text, font=font)
            draw.rectangle(bbox, fill=box.color)
            draw.text((tx, ty), box.text, fill=(255, 255, 255), font=font)
    strip = CAPTION_LINE * len(caption) + 6
    text_width = max((draw.textlength(line.text, font=font) for line in caption), default=0.0)
    canvas = Image.new("RGB", (max(image.width, 160, int(text_width) + 8), image.height + strip),
                       (255, 255, 255))
    canvas.paste(image, (0, 0))
    text = ImageDraw.Draw(canvas)
    for i, line in enumerate(caption):
        text.text((4, image.height + 3 + i * CAPTION_LINE), line.text, fill=line.color,
                  font=font)
    canvas.save(out, format="PNG", optimize=False)
    return out


__all__ = [
    "PREDICTED_RIGHT",
    "PREDICTED_WRONG",
    "TRUE_FOUND",
    "TRUE_MISSED",
    "CaptionLine",
    "DrawnBox",
    "render_example",
]
