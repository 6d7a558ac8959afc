"""ImageProbe: header-first, bounded image checks (datasets.md §2.3; training.md §2.5).

Every image is made here, in a temporary blob store; the helpers are shared with
test_validation_corpus.py.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.validation import image_probe as images_module
from labelgate.backends.local.validation.image_probe import ImageLimits, ImageProbe, ImageProblem

BUCKET = "img"
FIFTEEN_MIB = 15 * 1024 * 1024


# --- image factories -------------------------------------------------------------------------


def png(width: int = 100, height: int = 80, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 90).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int = 100, height: int = 80, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(buffer, format="JPEG",
                                                                **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming `width` x `height`, and nothing else."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + crc


def jpeg_header(width: int, height: int) -> bytes:
    """SOI, then a baseline SOF0 frame header claiming `width` x `height`."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof


def sparse_file(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no disk space (a hole), for the size limits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.truncate(size)


class CountingStore(LocalBlobStore):
    """A local blob store that counts how often an object is opened for reading."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[str] = []

    def open(self, bucket: str, key: str):  # type: ignore[override]
        self.opened.append(key)
        return super().open(bucket, key)


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "s3")


@pytest.fixture
def probe(store: CountingStore) -> ImageProbe:
    return ImageProbe(store)


def put(store: LocalBlobStore, key: str, data: bytes) -> str:
    store.put(BUCKET, key, data)
    return key


# --- usable images -----------------------------------------------------------------------------


def test_png_reports_format_dimensions_and_size(store, probe):
    data = png(100, 80)
    report = probe.probe(BUCKET, put(store, "a.png", data))
    assert report.ok
    assert (report.format, report.width, report.height, report.size_bytes) == (
        "PNG", 100, 80, len(data))


def test_jpeg_reports_format_and_dimensions(store, probe):
    report = probe.probe(BUCKET, put(store, "a.jpg", jpeg(120, 90)))
    assert report.ok and (report.format, report.width, report.height) == ("JPEG", 120, 90)


def test_format_comes_from_the_bytes_not_the_extension(store, probe):
    assert probe.probe(BUCKET, put(store, "really-a-png.jpg", png())).format == "PNG"
    assert probe.probe(BUCKET, put(store, "really-a-jpeg.png", jpeg())).format == "JPEG"


def test_jpeg_frame_header_after_a_large_metadata_segment_is_found(store, probe):
    # A 100 kB ICC profile spans two APP2 segments, beyond the first read.
    data = jpeg(96, 64, icc_profile=b"\x00" * 100_000)
    report = probe.probe(BUCKET, put(store, "icc.jpg", data))
    assert report.ok and (report.width, report.height) == (96, 64)


def test_sides_of_exactly_64_and_4096_px_and_a_20_to_1_ratio_are_accepted(store, probe):
    assert probe.probe(BUCKET, put(store, "small.png", png(64, 64))).ok
    assert probe.probe(BUCKET, put(store, "wide.png", png(4096, 205, "L"))).ok
    assert probe.probe(BUCKET, put(store, "ratio.png", png(1280, 64, "L"))).ok


def test_grayscale_and_rgba_pngs_are_images(store, probe):
    assert probe.probe(BUCKET, put(store, "l.png", png(70, 70, "L"))).ok
    assert probe.probe(BUCKET, put(store, "rgba.png", png(70, 70, "RGBA"))).ok


# --- unusable images ---------------------------------------------------------------------------


def test_missing_object_is_missing(probe):
    report = probe.probe(BUCKET, "nope.png")
    assert report.problem is ImageProblem.MISSING and "does not exist" in report.detail


def test_a_key_the_store_refuses_is_missing(probe):
    assert probe.probe(BUCKET, "../escape.png").problem is ImageProblem.MISSING


def test_a_source_ref_that_is_not_s3_is_missing(probe):
    assert probe.probe_uri("https://img/a.png").problem is ImageProblem.MISSING


def test_a_text_file_named_png_is_unsupported_format(store, probe):
    report = probe.probe(BUCKET, put(store, "notes.png", b"just some text\n"))
    assert report.problem is ImageProblem.UNSUPPORTED_FORMAT


def test_gif_is_unsupported_format(store, probe):
    buffer = io.BytesIO()
    Image.new("P", (80, 80)).save(buffer, format="GIF")
    report = probe.probe(BUCKET, put(store, "anim.png", buffer.getvalue()))
    assert report.problem is ImageProblem.UNSUPPORTED_FORMAT


def test_truncated_jpeg_is_unreadable(store, probe):
    data = jpeg(200, 150)
    report = probe.probe(BUCKET, put(store, "cut.jpg", data[: len(data) // 2]))
    assert report.problem is ImageProblem.UNREADABLE
    assert (report.width, report.height) == (200, 150)  # the header was fine


def test_truncated_png_is_unreadable(store, probe):
    data = png(200, 150)
    assert probe.probe(BUCKET, put(store, "cut.png", data[:-20])).problem is (
        ImageProblem.UNREADABLE)


def test_jpeg_without_a_frame_header_is_unreadable(store, probe):
    report = probe.probe(BUCKET, put(store, "soi.jpg", b"\xff\xd8\xff\xd9"))
    assert report.problem is ImageProblem.UNREADABLE


def test_63_px_side_is_a_dimension_problem(store, probe):
    report = probe.probe(BUCKET, put(store, "63.png", png(63, 100)))
    assert report.problem is ImageProblem.DIMENSIONS and (report.width, report.height) == (63, 100)


def test_4097_px_side_is_a_dimension_problem(store, probe):
    report = probe.probe(BUCKET, put(store, "4097.png", png(4097, 300, "L")))
    assert report.problem is ImageProblem.DIMENSIONS


def test_aspect_ratio_beyond_20_to_1_is_a_problem(store, probe):
    report = probe.probe(BUCKET, put(store, "strip.png", png(3000, 100, "L")))
    assert report.problem is ImageProblem.ASPECT_RATIO


def test_file_over_15_mib_is_refused_from_its_size_without_being_read(store, probe):
    sparse_file(store.root / BUCKET / "huge.png", FIFTEEN_MIB + 1)
    report = probe.probe(BUCKET, "huge.png")
    assert report.problem is ImageProblem.FILE_TOO_LARGE and report.size_bytes == FIFTEEN_MIB + 1
    assert store.opened == []


def test_decompression_bomb_png_header_is_refused_from_the_header_alone(
        store, probe, monkeypatch):
    opened: list[object] = []
    monkeypatch.setattr(images_module.Image, "open", lambda *a, **k: opened.append(a))
    key = put(store, "bomb.png", png_header(100_000, 100_000) + b"\x00" * 1000)
    start = time.perf_counter()
    report = probe.probe(BUCKET, key)
    assert time.perf_counter() - start < 1.0
    assert report.problem is ImageProblem.DIMENSIONS
    assert (report.width, report.height) == (100_000, 100_000)
    assert opened == []  # Pillow never saw it: nothing was decoded or allocated


def test_decompression_bomb_jpeg_header_is_refused_from_the_header_alone(store, probe):
    report = probe.probe(BUCKET, put(store, "bomb.jpg", jpeg_header(65_000, 65_000)))
    assert report.problem is ImageProblem.DIMENSIONS


def test_pillow_global_limits_are_left_alone(store, probe):
    before = Image.MAX_IMAGE_PIXELS
    probe.probe(BUCKET, put(store, "bomb.png", png_header(100_000, 100_000)))
    probe.probe(BUCKET, put(store, "a.png", png()))
    assert Image.MAX_IMAGE_PIXELS == before


def test_limits_are_configurable(store):
    strict = ImageProbe(store, limits=ImageLimits(min_side=128))
    assert strict.probe(BUCKET, put(store, "a.png", png(100, 100))).problem is (
        ImageProblem.DIMENSIONS)


def test_probe_is_safe_from_many_threads_at_once(store, probe):
    keys = [put(store, f"{i}.png", png(64 + i, 64)) for i in range(16)]
    keys += [put(store, "cut.jpg", jpeg(200, 150)[:500]), "missing.png"]
    with ThreadPoolExecutor(8) as pool:
        reports = list(pool.map(lambda k: probe.probe(BUCKET, k), keys * 4))
    widths = [r.width for r in reports[:16]]
    assert widths == [64 + i for i in range(16)]
    assert [r.problem for r in reports[16:18]] == [ImageProblem.UNREADABLE, ImageProblem.MISSING]
    assert reports == reports[:18] * 4
