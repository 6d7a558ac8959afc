"""SageMaker Ground Truth manifests (JSON Lines): the file checks and the streaming
validator every manifest path uses (CreateDataset, UpdateDatasetEntries, training).

Public API
----------
File level (training.md §2.3, datasets.md §7.1)::

    open_manifest(blobs, bucket, key, *, limits=None, require_extension=False) -> ManifestFile
        HEAD the object: ManifestFileError(ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT)
        when it cannot be found (or has no extension, when required),
        ManifestFileError(ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET) when the store
        refuses access to it (blobs.BlobAccessDenied: S3 AccessDenied/403, a local
        PermissionError; on the HEAD or on any later read of the lines),
        ManifestFileError(ERROR_MANIFEST_SIZE_TOO_LARGE) over 1 GiB, before any byte is read.
    ManifestFile.check() -> int
        One streaming pass: ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM (over 250,000 lines),
        ERROR_EMPTY_MANIFEST (no line with text), ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_
        FORMAT (no line is a JSON object). Returns the line count. Training runs it first,
        so a file error leaves no outputs at all (training.md §2.1).
    ManifestFile.lines() -> Iterator[str]
        The lines, streamed (an unreadable line, over-long or not UTF-8, comes as
        UNREADABLE_LINE, which validates as ERROR_INVALID_JSON_LINE).
    ManifestFile.raw_lines() -> Iterator[RawLine]

    ManifestFileError(code, detail="")  .code, .message (the exact documented message),
        .detail; str() is "CODE: message[ detail]", the dataset StatusMessage.

Lines (training.md §2.5, §2.6, §4.2)::

    validate_lines(lines: Iterable[str], *, images: ImageProbe | None,
                   error_key: str = "errors") -> Iterator[LineVerdict]
        One LineVerdict per input line, in order (line numbers are 1-based). `images`
        probes each line's source-ref (bounded concurrency: `images.concurrency` threads,
        a window of 4 lines per thread, so memory does not grow with the manifest); None
        skips the image checks. `error_key` is "errors" for training validation
        manifests (training.md §4.2) or "cl-errors" for the dataset-entries flavour (which
        also carries `cl-metadata`).

The dataset import (dataset_jobs.py) uses `iter_entries` + `ImportTally`: the same
validator, plus the dataset rules of datasets.md §4.6 / §7 (lines without a usable
source-ref are dropped; the 20 % rule is cumulative over dropped and invalid lines; more
than 20 % missing or unreadable images fails the operation; one bucket per dataset).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from labelgate.backends.local.blobs.stores import BlobAccessDenied, BlobStore
from labelgate.backends.local.validation.image_probe import ImageLimits, ImageProbe
from labelgate.backends.local.validation.json_lines import (
    CL_ERRORS,
    ERRORS,
    INVALID,
    CheckedLine,
    LineValidator,
    check_lines,
    dumps,
)
from labelgate.backends.local.validation.label_checks import MAX_LINE_CHARS
from labelgate.errors import InvalidS3ObjectException

__all__ = [
    "CL_ERRORS",
    "ERRORS",
    "FILE_ERROR_MESSAGES",
    "ImageLimits",
    "ImageProbe",
    "ImportTally",
    "LineVerdict",
    "ManifestFile",
    "ManifestFileError",
    "ManifestLimits",
    "ManifestReader",
    "RawLine",
    "dumps",
    "iter_entries",
    "open_manifest",
    "validate_lines",
]

MAX_MANIFEST_BYTES = 1 << 30  # "1 GB" (datasets.md §7.1), read as GiB
MAX_MANIFEST_ROWS = 250_000  # datasets.md §4.6
MAX_LABELS = 250  # unique labels per dataset (datasets.md §7.1)
MAX_ERROR_RATIO = 0.20  # invalid lines, cumulative over every rule (datasets.md §4.6)

#: Stand-in for a line that could not be read as text (over-long, not UTF-8).
UNREADABLE_LINE = "\x00"

# --- manifest file and manifest content errors ----------------------------------------------

#: Exact messages (training.md §2.3, §2.4; datasets.md §7.1). The label-overlap templates are
#: rendered with the 50 % threshold (training.md §2.4 [DESIGN]).
FILE_ERROR_MESSAGES = {
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT":
        "The manifest file extension or contents are invalid.",
    "ERROR_EMPTY_MANIFEST": "The manifest file is empty.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET": "Unable to write to output S3 bucket.",
    "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET": "The S3 bucket permissions are incorrect.",
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": "The manifest file contains too many invalid rows.",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS":
        "The manifest file contains images from multiple S3 buckets.",
    "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET":
        "The permissions for the images S3 bucket are invalid.",
    "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER": "Invalid owner id for images S3 bucket.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT":
        "The manifest file contains insufficient labeled images per label to perform "
        "auto-split.",
    "ERROR_MANIFEST_TOO_FEW_LABELS": "The manifest file has too few labels.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP":
        "Less than 50% label overlap between the training and testing manifest files.",
    "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS": "The manifest file has too few usable labels.",
    "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP":
        "Less than 50% usable label overlap between the training and testing manifest files.",
    "ERROR_FAILED_IMAGES_S3_COPY": "Failed to copy images from S3 bucket.",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR": "The manifest file has too many terminal errors.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE":
        "The manifest file doesn't have enough labeled images to distribute the dataset.",
}


class ManifestFileError(Exception):
    """A terminal error that fails the whole operation (dataset StatusMessageCode
    CLIENT_ERROR; training TRAINING_FAILED with `message` as the StatusMessage)."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.message = FILE_ERROR_MESSAGES.get(code, code)
        self.detail = detail
        text = f"{code}: {self.message}"
        super().__init__(f"{text} {detail}" if detail else text)


@dataclass(frozen=True)
class ManifestLimits:
    max_bytes: int = MAX_MANIFEST_BYTES
    max_rows: int = MAX_MANIFEST_ROWS
    max_line_chars: int = MAX_LINE_CHARS
    max_error_ratio: float = MAX_ERROR_RATIO
    max_labels: int = MAX_LABELS


# --- streaming reader ---------------------------------------------------------------------


@dataclass(frozen=True)
class RawLine:
    """One manifest line: `text` is None when it could not be kept (too long, not UTF-8),
    and `problem` says why."""

    number: int  # 1-based
    text: str | None
    problem: str = ""


class ManifestReader:
    """Iterates the lines of a binary stream; holds at most one line in memory.

    A line longer than `max_line_chars` is skipped to its end without being buffered. A
    stream longer than `max_bytes` raises ManifestFileError(ERROR_MANIFEST_SIZE_TOO_LARGE)
    as soon as the excess is read. A final line without `\\n` counts; a trailing `\\n` does not
    start another line. `\\r\\n` endings and a UTF-8 byte-order mark are accepted.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_line_chars: int = MAX_LINE_CHARS,
        max_bytes: int | None = None,
        chunk_size: int = 1 << 16,
    ) -> None:
        self._stream = stream
        self._max_chars = max_line_chars
        self._max_line_bytes = max_line_chars * 4  # UTF-8 needs at most 4 bytes a character
        self._max_bytes = max_bytes
        self._chunk_size = chunk_size
        self.lines = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[RawLine]:
        buf = bytearray()
        overflow = False
        while chunk := self._stream.read(self._chunk_size):
            self.bytes_read += len(chunk)
            if self._max_bytes is not None and self.bytes_read > self._max_bytes:
                raise ManifestFileError(
                    "ERROR_MANIFEST_SIZE_TOO_LARGE", f"The limit is {self._max_bytes} bytes."
                )
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                piece = chunk[start:] if end < 0 else chunk[start:end]
                if not overflow:
                    buf += piece
                    if len(buf) > self._max_line_bytes:
                        overflow = True
                        buf.clear()
                if end < 0:
                    break
                yield self._finish(buf, overflow)
                buf, overflow, start = bytearray(), False, end + 1
        if buf or overflow:
            yield self._finish(buf, overflow)

    def _finish(self, buf: bytearray, overflow: bool) -> RawLine:
        self.lines += 1
        too_long = f"The JSON Line is longer than {self._max_chars} characters."
        if overflow:
            return RawLine(self.lines, None, too_long)
        if buf.endswith(b"\r"):
            del buf[-1:]
        try:
            text = buf.decode("utf-8")
        except UnicodeDecodeError:
            return RawLine(self.lines, None, "The JSON Line is not valid UTF-8.")
        if self.lines == 1:
            text = text.removeprefix("\ufeff")
        if len(text) > self._max_chars:
            return RawLine(self.lines, None, too_long)
        return RawLine(self.lines, text)


INACCESSIBLE = "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
NO_PERMISSION = "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET"


def _unreadable(exc: InvalidS3ObjectException) -> ManifestFileError:
    """The file error for a manifest the store would not give: refused, or not there."""
    return ManifestFileError(NO_PERMISSION if isinstance(exc, BlobAccessDenied)
                             else INACCESSIBLE, str(exc))


def _rows_exceeded(limits: ManifestLimits) -> ManifestFileError:
    return ManifestFileError(
        "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", f"The limit is {limits.max_rows} lines."
    )


def _is_json_object(text: str) -> bool:
    if not text.lstrip().startswith("{"):
        return False  # cheap refusal first: most junk is not even shaped like an object
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


# --- the manifest file ----------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestFile:
    """A manifest object that exists and is within the size limit; see `open_manifest`."""

    blobs: BlobStore
    bucket: str
    key: str
    size_bytes: int
    limits: ManifestLimits = field(default_factory=ManifestLimits)

    def raw_lines(self) -> Iterator[RawLine]:
        """The lines as read; ManifestFileError once the row or size limit is crossed (the
        lines past it are never read), or when the object can no longer be read."""
        try:
            with self.blobs.open(self.bucket, self.key) as stream:
                reader = ManifestReader(stream, max_line_chars=self.limits.max_line_chars,
                                        max_bytes=self.limits.max_bytes)
                for raw in reader:
                    if raw.number > self.limits.max_rows:
                        raise _rows_exceeded(self.limits)
                    yield raw
        except InvalidS3ObjectException as exc:
            raise _unreadable(exc) from None

    def lines(self) -> Iterator[str]:
        for raw in self.raw_lines():
            yield UNREADABLE_LINE if raw.text is None else raw.text

    def check(self) -> int:
        """The whole-file checks, in one streaming pass; returns the number of lines."""
        has_text = has_object = False
        count = 0
        for raw in self.raw_lines():
            count = raw.number
            if raw.text is None:
                has_text = True
            elif raw.text.strip():
                has_text = True
                # Parse only until the first object is found: the rest is the validator's.
                has_object = has_object or _is_json_object(raw.text)
        if not has_text:
            raise ManifestFileError("ERROR_EMPTY_MANIFEST")
        if not has_object:
            raise ManifestFileError("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                                    "No line is a JSON object.")
        return count


def _has_extension(key: str) -> bool:
    stem, dot, extension = key.rpartition("/")[2].rpartition(".")
    return bool(dot and stem and extension)


def open_manifest(
    blobs: BlobStore,
    bucket: str,
    key: str,
    *,
    limits: ManifestLimits | None = None,
    require_extension: bool = False,
) -> ManifestFile:
    """The checks that need no byte of the manifest (a HEAD request). Training passes
    `require_extension=True` (training.md §2.3 lists a missing extension as a cause);
    CreateDataset accepts any name, as datasets.md §4.1 recommends."""
    limits = limits or ManifestLimits()
    if require_extension and not _has_extension(key):
        raise ManifestFileError("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                                "The manifest object key has no extension.")
    try:
        size = blobs.size(bucket, key)
    except InvalidS3ObjectException as exc:
        raise _unreadable(exc) from None
    if size > limits.max_bytes:
        raise ManifestFileError("ERROR_MANIFEST_SIZE_TOO_LARGE",
                                f"The limit is {limits.max_bytes} bytes.")
    return ManifestFile(blobs, bucket, key, size, limits)


# --- validating lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class LineVerdict:
    number: int  # 1-based line number in the manifest
    status: str  # "valid" | "invalid" | "ignored"   (training.md §3.1 counting)
    source_ref: str | None
    bucket: str | None  # bucket of source-ref
    image_labels: frozenset[str]  # usable image-level labels of this line
    box_labels: frozenset[str]  # labels on usable boxes of this line
    has_errors: bool  # at least one `errors` entry at any level (error_json_line_indices)
    output_line: str  # the line as the training validation manifest shows it
    image_denied: bool = False  # the store refused access to the image (training.md §2.4 #3)


def validate_lines(
    lines: Iterable[str], *, images: ImageProbe | None, error_key: str = ERRORS
) -> Iterator[LineVerdict]:
    """Validate every line, in order; see the module docstring."""
    validator = LineValidator(error_key=error_key,
                              image_limits=images.limits if images else None)
    numbered = enumerate(lines, start=1)
    for line in check_lines(numbered, images=images, validator=validator):
        yield LineVerdict(
            number=line.number,
            status=line.status,
            source_ref=line.source_ref,
            bucket=line.bucket,
            image_labels=line.image_labels,
            box_labels=line.box_labels,
            has_errors=line.has_errors,
            output_line=line.output_line,
            image_denied=line.image_denied,
        )


# --- the dataset import -----------------------------------------------------------------------


@dataclass
class ImportTally:
    """What a dataset import or update has seen so far; decides the operation's outcome
    (datasets.md §4.6, §7).

    More than 20 % of the lines with images that cannot be read fails the operation with
    `ERROR_TOO_MANY_RECORDS_IN_ERROR`, or, when the images the store *refused* are over
    20 % on their own, with `ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET` ([DESIGN]: the
    bucket's permissions are the cause to fix, as `ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS`
    already names the bucket rule here; training.md §2.4 #3).
    """

    limits: ManifestLimits = field(default_factory=ManifestLimits)
    lines: int = 0
    blank: int = 0
    dropped: int = 0  # not stored: no usable source-ref, unreadable, duplicates
    invalid: int = 0  # stored, but invalid (non-terminal errors that exclude the line)
    missing_images: int = 0  # stored, with an image that is missing or cannot be read
    denied_images: int = 0  # of those, images the store refused access to
    objects: int = 0  # lines that were JSON objects
    bucket: str | None = None  # the images' bucket

    def count(self, line: CheckedLine) -> bool:
        """Count one validated line; True when it is to be stored."""
        self.objects += line.parsed
        if line.unreadable_source:
            self.dropped += 1
            return False
        if self.bucket is None:
            self.bucket = line.bucket
        elif line.bucket != self.bucket:
            raise ManifestFileError(
                "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
                f"Line {line.number} names bucket {line.bucket}, earlier lines {self.bucket}.",
            )
        self.invalid += line.status == INVALID
        self.missing_images += line.missing_image
        self.denied_images += line.image_denied
        return True

    def drop(self, line: CheckedLine) -> None:
        """A counted line turned out not to be stored (a duplicate source-ref)."""
        self.invalid -= line.status == INVALID
        self.missing_images -= line.missing_image
        self.denied_images -= line.image_denied
        self.dropped += 1

    def finish(self) -> None:
        """Raise the error the counts call for, if any."""
        if self.lines == self.blank:
            raise ManifestFileError("ERROR_EMPTY_MANIFEST")
        if self.objects == 0:
            raise ManifestFileError(
                "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT", "No line is a JSON object."
            )
        # Blank and unreadable lines count as lines (datasets.md §4.6).
        ratio = self.limits.max_error_ratio
        if self.denied_images > ratio * self.lines:
            raise ManifestFileError(
                "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",
                f"Access was denied to the images of {self.denied_images} of {self.lines} "
                f"lines in bucket {self.bucket} (at most {ratio:.0%} may be unreadable).",
            )
        if self.missing_images > ratio * self.lines:
            raise ManifestFileError(
                "ERROR_TOO_MANY_RECORDS_IN_ERROR",
                f"{self.missing_images} of {self.lines} lines reference images that are "
                f"missing or cannot be read (at most {ratio:.0%} may).",
            )
        if self.dropped + self.invalid > ratio * self.lines:
            raise ManifestFileError(
                "ERROR_TOO_MANY_RECORDS_IN_ERROR",
                f"{self.dropped + self.invalid} of {self.lines} lines are invalid "
                f"(at most {ratio:.0%} may).",
            )


def _numbered(raw_lines: Iterable[RawLine], tally: ImportTally
              ) -> Iterator[tuple[int, str | None]]:
    for raw in raw_lines:
        tally.lines = raw.number
        if raw.number > tally.limits.max_rows:
            raise _rows_exceeded(tally.limits)
        if raw.text is not None and not raw.text.strip():
            tally.blank += 1
            tally.dropped += 1
            continue
        yield raw.number, raw.text


def iter_entries(
    raw_lines: Iterable[RawLine], tally: ImportTally, *, images: ImageProbe | None
) -> Iterator[CheckedLine]:
    """The lines a dataset stores, validated in the dataset-entries flavour (`cl-errors`,
    `cl-metadata`), in order; every line is counted in `tally`. Raises ManifestFileError
    for the row limit and for a second images bucket as soon as they are crossed."""
    validator = LineValidator(error_key=CL_ERRORS, max_line_chars=tally.limits.max_line_chars,
                              image_limits=images.limits if images else None)
    checked = check_lines(_numbered(raw_lines, tally), images=images, validator=validator)
    try:
        for line in checked:
            if tally.count(line):
                yield line
    finally:
        checked.close()  # stops its image probes now, not when it is collected
