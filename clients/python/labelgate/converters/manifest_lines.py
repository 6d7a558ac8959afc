"""What every converter shares: building Custom Labels JSON Lines and writing them safely.

A manifest line is built as a plain dict whose key order is the order the spec's examples
use (datasets.md §4.2-§4.4, §5.1), then written compactly, one object per line, by
`ManifestWriter`. The writer publishes the file only when the conversion finished: a
malformed input found half-way leaves no half-written manifest behind (and an existing file
of that name untouched).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from labelgate.converters.conversion_errors import ConversionError

CLASSIFICATION_TYPE = "groundtruth/image-classification"
DETECTION_TYPE = "groundtruth/object-detection"

#: Line-level keys a label attribute may not take: `source-ref` is the image, and the
#: service writes `cl-metadata` / `cl-errors` onto every stored line (datasets.md §4.5).
RESERVED_KEYS = frozenset({"source-ref", "cl-metadata", "cl-errors"})

#: Longer label names are ERROR_INVALID_LABEL_NAME_LENGTH on import (datasets.md §7.3).
MAX_LABEL_NAME_CHARS = 256
#: More boxes on one image are ERROR_TOO_MANY_BOUNDING_BOXES on import (datasets.md §7.3).
MAX_BOXES_PER_IMAGE = 50

#: `creation-date` as the reference tools write it (datasets.md §5.1 and §5.3).
SECONDS_FORMAT = "%Y-%m-%dT%H:%M:%S"
MICROSECONDS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def manifest_line(obj: dict[str, Any]) -> str:
    """One JSON Line (without the newline): compact, UTF-8 text, keys in insertion order."""
    text = _ENCODER.encode(obj)
    # Labels and paths are written as UTF-8 text, but these three characters count as line
    # breaks for some readers (str.splitlines, JavaScript): keep them escaped so one object
    # stays one line everywhere. The escape is equivalent JSON.
    for char in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def is_number(value: Any) -> bool:
    """A JSON number (bool is an int to Python, not to JSON)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_json_object(text: str, *, what: str) -> dict[str, Any]:
    """One manifest line as a JSON object, or a ConversionError naming the line."""
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise ConversionError(f"{what} is not JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise ConversionError(f"{what} is not a JSON object")
    return parsed


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 image`, `2 images`, `0 boxes` (with `plural` for nouns that take more than an s)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc_naive(moment: dt.datetime) -> dt.datetime:
    """Manifest timestamps are UTC without an offset: convert aware times, keep naive ones."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def parse_s3_uri(uri: str, *, what: str) -> tuple[str, str]:
    """`s3://bucket/key/path` -> (bucket, "key/path"); the key may be empty.

    `what` names the value in the error ("--s3-prefix", "row 3 source-ref"...).
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ConversionError(f"{what}: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ConversionError(f"{what}: {uri!r} has no bucket name")
    return bucket, key


def check_source_ref(uri: str, *, what: str) -> str:
    """A usable source-ref is `s3://bucket/key` with a non-empty key (the service drops any
    other line as ERROR_INVALID_SOURCE_REF_FORMAT, so a converter must never write one)."""
    _, key = parse_s3_uri(uri, what=what)
    if not key:
        raise ConversionError(f"{what}: {uri!r} names a bucket but no object")
    return uri


def join_s3(prefix: str, relative: str) -> str:
    """`s3://bucket/images` + `a/b.jpg` -> `s3://bucket/images/a/b.jpg`: exactly one `/`
    between the two, whether or not the prefix ends with one."""
    return f"{prefix.rstrip('/')}/{relative.lstrip('/')}"


def check_attribute_name(name: str, *, what: str) -> str:
    """A label attribute name must be a non-empty key that cannot collide with the line's
    other keys."""
    if not name:
        raise ConversionError(f"{what}: an attribute name cannot be empty")
    if name in RESERVED_KEYS:
        raise ConversionError(f"{what}: {name!r} cannot be a label attribute name "
                              "(the manifest line uses that key itself)")
    return name


def check_label_name(name: str, *, what: str) -> str:
    """A label the service accepts: a non-empty string of at most 256 characters."""
    if not isinstance(name, str) or not name:
        raise ConversionError(f"{what}: a label name must be a non-empty string")
    if len(name) > MAX_LABEL_NAME_CHARS:
        raise ConversionError(f"{what}: label {name[:40]!r}... is longer than "
                              f"{MAX_LABEL_NAME_CHARS} characters")
    return name


def classification_attributes(labels: Iterable[str], created: str, *,
                              what: str) -> dict[str, Any]:
    """Image-level labels the way the CSV tool writes them (datasets.md §5.3): per label, an
    attribute named after the label with value 1, then `<label>-metadata`.

    Repeated labels collapse into one attribute (JSON keys are unique). A label that is
    another label's `-metadata` key on the same line would overwrite it, so that is an error.
    """
    unique = list(dict.fromkeys(labels))
    taken = set(unique)
    attributes: dict[str, Any] = {}
    for label in unique:
        check_label_name(label, what=what)
        check_attribute_name(label, what=what)
        if label.endswith("-metadata") and label.removesuffix("-metadata") in taken:
            raise ConversionError(f"{what}: labels {label.removesuffix('-metadata')!r} and "
                                  f"{label!r} cannot be on the same image (the second is "
                                  "the first one's metadata key)")
        attributes[label] = 1
        attributes[f"{label}-metadata"] = {
            "confidence": 1,
            "job-name": f"labeling-job/{label}",
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": created,
            "type": CLASSIFICATION_TYPE,
        }
    return attributes


def temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in `path`'s folder (so renaming it onto `path` is atomic)."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e}") from None


class ManifestWriter:
    """Writes manifest lines to a temporary file beside `path`; on a clean exit from the
    `with` block the file is renamed to `path` in one step, on an exception it is removed.

    `empty_message`: when set and no line was written, the block ends with a
    ConversionError with that message instead of publishing an empty manifest (which the
    service rejects as ERROR_EMPTY_MANIFEST).
    """

    def __init__(self, path: str | os.PathLike[str], *, empty_message: str | None = None) -> None:
        self.path = Path(path)
        self.lines = 0
        self._empty_message = empty_message
        self._file: TextIO | None = None
        self._temp: Path | None = None

    def __enter__(self) -> ManifestWriter:
        fd, name = temp_beside(self.path)
        self._temp = Path(name)
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        return self

    def write(self, obj: dict[str, Any]) -> None:
        assert self._file is not None, "use ManifestWriter in a with block"
        self._file.write(manifest_line(obj))
        self._file.write("\n")
        self.lines += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._file is not None and self._temp is not None
        self._file.close()
        if exc_type is None and self.lines == 0 and self._empty_message is not None:
            self._temp.unlink(missing_ok=True)
            raise ConversionError(self._empty_message)
        if exc_type is not None:
            self._temp.unlink(missing_ok=True)
            return
        os.replace(self._temp, self.path)


def read_text_lines(path: str | os.PathLike[str]) -> Iterable[tuple[int, str]]:
    """(1-based number, text) for each line of a UTF-8 file, read one line at a time; a
    byte-order mark is dropped and unreadable files become ConversionError."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise ConversionError(f"cannot read {os.fspath(path)}: {e.strerror or e}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise ConversionError(f"{os.fspath(path)}: not UTF-8 text ({e.reason})") from None
