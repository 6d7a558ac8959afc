"""Header-first, bounded checks of the images a manifest points at (datasets.md §2.3, training.md
§2.5 `ERROR_INVALID_IMAGE` / `ERROR_INVALID_IMAGE_DIMENSION`).

`ImageProbe(blobs).probe(bucket, key)` returns an `ImageReport`: the format, dimensions
and byte size, or the `ImageProblem` that makes the image unusable. Each step is cheap
and bounds the next, so nothing is downloaded or allocated that a cheaper step could
have refused:

1. HEAD (`BlobStore.size`): a missing or unreadable object is `MISSING` (the "wrong path"
   case), one the store refuses to give (`BlobAccessDenied`, on the HEAD or the GET) is
   `ACCESS_DENIED`; an object over 15 MiB is `FILE_TOO_LARGE` without a byte being read.
2. The first bytes: PNG and JPEG are recognised by their magic numbers, never by the key's
   extension; anything else is `UNSUPPORTED_FORMAT`.
3. The header, parsed here (PNG IHDR; the JPEG marker walk to the SOF segment) before
   Pillow sees the data: a side outside 64-4096 px is `DIMENSIONS`, a ratio above 20:1
   `ASPECT_RATIO`. A header claiming 100000x100000 px is refused after reading a few dozen
   bytes, so Pillow's decompression-bomb guard (the process-wide `Image.MAX_IMAGE_PIXELS`)
   is neither relied on nor changed.
4. The whole object (at most 15 MiB, read with that cap even if HEAD lied) through Pillow:
   a PNG's chunks are verified to IEND (CRCs, no decompression), a JPEG is decoded at 1/8
   scale (`draft`), which walks all of its entropy-coded data while allocating at most
   512x512 pixels. A truncated or corrupt file is `UNREADABLE`.

Boundaries: sides of exactly 64 and 4096 px and a ratio of exactly 20:1 are accepted
(training.md §2.5 [DESIGN]); "15 MB" is read as 15 MiB, as "1 GB" is read as 1 GiB for
manifests.

The probe keeps no state between calls and caches nothing: it is safe to call from many
threads at once (the caller's pool bounds the concurrency; `concurrency` is the number of
parallel probes the caller should run against this store).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from PIL import Image

from labelgate.backends.local.blobs.stores import BlobAccessDenied, BlobStore, parse_s3_uri
from labelgate.errors import InvalidS3ObjectException

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_HEAD_BYTES = 64  # enough for the PNG signature plus IHDR, and for the JPEG magic
_READ_CHUNK = 1 << 16
# SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but don't.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


class ImageProblem(StrEnum):
    """Why an image is unusable; every one is `ERROR_INVALID_IMAGE` in a manifest, except
    `DIMENSIONS` on lines with bounding boxes (`ERROR_INVALID_IMAGE_DIMENSION`).
    `ACCESS_DENIED` also makes training report the images bucket's permissions
    (`ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET`, training.md §2.4 #3)."""

    MISSING = "missing"  # no such object, or it cannot be read ("wrong path")
    ACCESS_DENIED = "access_denied"  # the store refused access (S3 403, PermissionError)
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"  # not PNG or JPEG by its bytes
    DIMENSIONS = "dimensions"  # a side outside the allowed range
    ASPECT_RATIO = "aspect_ratio"
    UNREADABLE = "unreadable"  # truncated, corrupt, or a header that makes no sense


@dataclass(frozen=True)
class ImageLimits:
    min_side: int = 64
    max_side: int = 4096
    max_bytes: int = 15 * 1024 * 1024
    max_aspect_ratio: float = 20.0


@dataclass(frozen=True)
class ImageReport:
    """What a probe found. `problem` is None for a usable image."""

    format: str | None = None  # "PNG" | "JPEG"
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    problem: ImageProblem | None = None
    detail: str = ""  # for logs and people, never part of an error message

    @property
    def ok(self) -> bool:
        return self.problem is None


class _NotAnImage(Exception):
    """The bytes are not a well-formed header of the format their magic number claims."""


class _Prefix:
    """The object's bytes read on demand, never more than `cap` of them."""

    def __init__(self, stream: BinaryIO, cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self.data = bytearray()
        self.eof = False

    def need(self, size: int) -> bool:
        """Read until `size` bytes are held (or the object ends); True if they are."""
        while len(self.data) < size and not self.eof:
            want = min(max(size - len(self.data), _READ_CHUNK), self._cap + 1 - len(self.data))
            chunk = self._stream.read(want) if want > 0 else b""
            if not chunk:
                self.eof = True
            self.data += chunk
        return len(self.data) >= size

    def read_all(self) -> bool:
        """Read to the end; False if the object holds more than `cap` bytes."""
        self.need(self._cap + 1)
        return len(self.data) <= self._cap


def _png_size(head: _Prefix) -> tuple[int, int]:
    # Signature (8), then the IHDR chunk: length (4), type (4), width (4), height (4).
    if not head.need(24) or bytes(head.data[12:16]) != b"IHDR":
        raise _NotAnImage("the PNG has no IHDR chunk")
    return struct.unpack(">II", bytes(head.data[16:24]))


def _jpeg_size(head: _Prefix) -> tuple[int, int]:
    """Walk the markers from SOI to the first SOF segment, reading only what they span."""
    pos = 2
    while True:
        if not head.need(pos + 2):
            raise _NotAnImage("the JPEG ends before its frame header")
        if head.data[pos] != 0xFF:
            raise _NotAnImage("the JPEG marker structure is broken")
        marker = head.data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            raise _NotAnImage("the JPEG has no frame header")
        if not head.need(pos + 4):
            raise _NotAnImage("the JPEG ends inside a marker")
        (length,) = struct.unpack(">H", bytes(head.data[pos + 2:pos + 4]))
        if length < 2:
            raise _NotAnImage("the JPEG has a malformed segment length")
        if marker in _JPEG_SOF:
            if not head.need(pos + 9):
                raise _NotAnImage("the JPEG ends inside its frame header")
            height, width = struct.unpack(">HH", bytes(head.data[pos + 5:pos + 9]))
            return width, height
        pos += 2 + length


def _decode_check(data: bytes, fmt: str, width: int, height: int) -> str | None:
    """Run the bytes through Pillow; a reason when they do not hold a whole image."""
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            if image.size != (width, height):
                return f"Pillow reads {image.size[0]}x{image.size[1]} px, the header says " \
                       f"{width}x{height}"
            if fmt == "PNG":
                image.verify()
            else:
                image.draft(image.mode, (1, 1))  # decode at the smallest scale libjpeg offers
                image.load()
    # Pillow's plugins signal corrupt data with many exception types (OSError, SyntaxError,
    # ValueError, struct.error, EOFError, DecompressionBombError, ...); any of them means
    # "not a usable image", and a manifest check must never crash on a bad file.
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class ImageProbe:
    """Checks images in a BlobStore against the Custom Labels image limits."""

    def __init__(
        self, blobs: BlobStore, *, limits: ImageLimits | None = None, concurrency: int = 8
    ) -> None:
        self.blobs = blobs
        self.limits = limits or ImageLimits()
        self.concurrency = max(1, concurrency)

    def probe_uri(self, source_ref: str) -> ImageReport:
        """`probe` for an `s3://bucket/key` reference."""
        try:
            bucket, key = parse_s3_uri(source_ref)
        except ValueError:
            return ImageReport(problem=ImageProblem.MISSING, detail="not an s3:// reference")
        return self.probe(bucket, key)

    def probe(self, bucket: str, key: str) -> ImageReport:
        try:
            size = self.blobs.size(bucket, key)
            if size > self.limits.max_bytes:
                return ImageReport(size_bytes=size, problem=ImageProblem.FILE_TOO_LARGE,
                                   detail=f"{size} bytes, the limit is {self.limits.max_bytes}")
            with self.blobs.open(bucket, key) as stream:
                return self._check(_Prefix(stream, self.limits.max_bytes), size)
        except BlobAccessDenied as exc:
            return ImageReport(problem=ImageProblem.ACCESS_DENIED, detail=str(exc))
        except InvalidS3ObjectException as exc:
            return ImageReport(problem=ImageProblem.MISSING, detail=str(exc))
        except OSError as exc:  # the object vanished or broke while being read
            return ImageReport(problem=ImageProblem.MISSING, detail=str(exc))

    def _check(self, content: _Prefix, size: int) -> ImageReport:
        content.need(_HEAD_BYTES)
        head = bytes(content.data[:8])
        if head.startswith(PNG_MAGIC):
            fmt, read_size = "PNG", _png_size
        elif head.startswith(JPEG_MAGIC):
            fmt, read_size = "JPEG", _jpeg_size
        else:
            return ImageReport(size_bytes=size, problem=ImageProblem.UNSUPPORTED_FORMAT,
                               detail="the bytes are neither PNG nor JPEG")
        try:
            width, height = read_size(content)
        except _NotAnImage as exc:
            return ImageReport(format=fmt, size_bytes=size, problem=ImageProblem.UNREADABLE,
                               detail=str(exc))
        found = ImageReport(format=fmt, width=width, height=height, size_bytes=size)
        limits = self.limits
        if min(width, height) < limits.min_side or max(width, height) > limits.max_side:
            return _with(found, ImageProblem.DIMENSIONS,
                         f"{width}x{height} px; each side must be {limits.min_side}-"
                         f"{limits.max_side} px")
        if max(width, height) > limits.max_aspect_ratio * min(width, height):
            return _with(found, ImageProblem.ASPECT_RATIO,
                         f"{width}x{height} px is beyond {limits.max_aspect_ratio:g}:1")
        if not content.read_all():
            return _with(found, ImageProblem.FILE_TOO_LARGE,
                         f"more than {limits.max_bytes} bytes")
        reason = _decode_check(bytes(content.data), fmt, width, height)
        if reason is not None:
            return _with(found, ImageProblem.UNREADABLE, reason)
        return found


def _with(report: ImageReport, problem: ImageProblem, detail: str) -> ImageReport:
    return ImageReport(report.format, report.width, report.height, report.size_bytes,
                       problem, detail)
