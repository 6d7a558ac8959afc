"""SageMaker Ground Truth manifests (JSON Lines): streaming reader and per-line parser.

`ManifestReader` walks a binary stream one line at a time (memory bounded by the longest
allowed line, whatever the manifest's size), counting lines and bytes. `parse_entry` turns
one line into a `ParsedEntry`: its source-ref, the labels it uses with their bounding-box
counts, whether it is labelled, its non-terminal errors and warnings (spec 01 §7.3, spec 02
§2.5), and the canonical JSON Line the dataset stores. A line with a *terminal content
error* (spec 01 §7.2) raises `TerminalLineError`; the importer drops it and counts it
toward the 20 % rule.

Keys the service writes (`cl-metadata`, `cl-errors`, and training's `errors` / `warnings`)
are **stripped on input and recomputed**, never round-tripped: a line fetched with
ListDatasetEntries, fixed and sent back through UpdateDatasetEntries must not keep the
errors it no longer has. The stored line is the input re-serialised compactly (keys in
input order) plus `"cl-metadata": {"is_labeled": ...}`, with each non-terminal error placed
where spec 02 §4.2 puts it, under the dataset-entries key `cl-errors` (line level, in
`<attr>-metadata`, in the attribute object, or in one annotation) and warnings under
`warnings` (line level or in the attribute object).

The per-attribute checks are small functions in ordered tuples (`ATTRIBUTE_CHECKS`,
`CLASSIFICATION_CHECKS`, `DETECTION_CHECKS`); the full validator extends those tuples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from labelgate.backends.local.blobs import parse_s3_uri

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
SUPPORTED_TYPES = (CLASSIFICATION, DETECTION)

MAX_LINE_CHARS = 100_000  # spec 01 §7.2
MAX_MANIFEST_BYTES = 1 << 30  # "1 GB" (spec 01 §7.1), read as GiB
MAX_MANIFEST_ROWS = 250_000  # spec 01 §4.6
MAX_LABELS = 250  # unique labels per dataset (spec 01 §7.1)
MAX_ERROR_RATIO = 0.20  # terminal content errors, cumulative (spec 01 §4.6)
MAX_BOXES_PER_IMAGE = 50
MAX_LABEL_NAME_CHARS = 256
TRAINING_MAX_SIDE = 1280  # images are downscaled to this before the box-size check

#: Keys the service adds to lines; stripped on input (see the module docstring).
SERVICE_KEYS = ("cl-metadata", "cl-errors", "errors", "warnings")
_ERROR_KEYS = ("cl-errors", "errors", "warnings")

# --- file-level (operation-failing) errors ----------------------------------------------

FILE_ERROR_MESSAGES = {
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT":
        "The manifest file extension or contents are invalid.",
    "ERROR_EMPTY_MANIFEST": "The manifest file is empty.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR": "The manifest file has too many terminal errors.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE":
        "The manifest file doesn't have enough labeled images to distribute the dataset.",
}


class ManifestFileError(Exception):
    """A terminal error that fails the whole create/update (StatusMessageCode CLIENT_ERROR).

    `str()` is `CODE: message`, the StatusMessage DescribeDataset shows.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.message = FILE_ERROR_MESSAGES.get(code, code)
        if detail:
            self.message = f"{self.message} {detail}"
        super().__init__(f"{code}: {self.message}")


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


# --- per-line parsing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A non-terminal error or warning, `{"code", "message"}` in the JSON Line."""

    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class TerminalLineError(Exception):
    """The line is dropped (spec 01 §7.2). `was_object` tells whether it was a JSON object,
    which distinguishes a bad line from a file that is not JSON Lines at all."""

    def __init__(self, code: str, message: str, *, was_object: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.was_object = was_object


@dataclass(frozen=True)
class ParsedEntry:
    source_ref: str
    line: str  # the canonical JSON Line to store and list
    labels: dict[str, int]  # label -> bounding boxes carrying it (0: image-level only)
    errors: tuple[Issue, ...] = ()  # every non-terminal error, at any level
    warnings: tuple[Issue, ...] = ()

    @property
    def is_labeled(self) -> bool:
        """At least one label, image-level or on a valid bounding box."""
        return bool(self.labels)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


@dataclass
class Attribute:
    """One label attribute and its `-metadata`, with what the checks found."""

    name: str
    value: Any
    metadata: Any
    errors: list[Issue] = field(default_factory=list)  # placed in the attribute object
    metadata_errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    box_errors: dict[int, list[Issue]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    # Detection only, filled by the schema check: (image width, height) and the annotations.
    image_size: tuple[float, float] = (0.0, 0.0)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    valid_boxes: list[int] = field(default_factory=list)

    @property
    def type(self) -> Any:
        return self.metadata.get("type") if isinstance(self.metadata, dict) else None

    def fail(self, code: str, message: str, *, in_metadata: bool = False) -> bool:
        """Record an error that invalidates the attribute; returns False to stop its checks."""
        (self.metadata_errors if in_metadata else self.errors).append(Issue(code, message))
        return False


#: A check looks at one attribute; False means "attribute invalid, stop checking it".
AttributeCheck = Callable[[Attribute], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _attribute_format(attr: Attribute, detail: str) -> bool:
    return attr.fail(
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        f"The format of the label attribute {attr.name} is invalid. {detail}",
        # A classification attribute is a bare integer: its error goes to the metadata.
        in_metadata=not isinstance(attr.value, dict),
    )


def _metadata_format(attr: Attribute, detail: str) -> bool:
    return attr.fail(
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        f"The format of the label attribute metadata is invalid. {detail}",
        in_metadata=isinstance(attr.metadata, dict),
    )


# -- checks every attribute gets -----------------------------------------------------------


def check_metadata_is_object(attr: Attribute) -> bool:
    if not isinstance(attr.metadata, dict):
        return _metadata_format(attr, f"{attr.name}-metadata must be a JSON object.")
    return True


def check_use_case_type(attr: Attribute) -> bool:
    if attr.type not in SUPPORTED_TYPES:
        return attr.fail(
            "ERROR_UNSUPPORTED_USE_CASE_TYPE",
            f"The use case type of the {attr.name}-metadata label attribute metadata is "
            "unsupported. Check the type field.",
            in_metadata=True,
        )
    return True


def check_label_name_length(name: str, attr: Attribute) -> bool:
    if len(name) > MAX_LABEL_NAME_CHARS:
        return attr.fail(
            "ERROR_INVALID_LABEL_NAME_LENGTH",
            f"The label name is longer than {MAX_LABEL_NAME_CHARS} characters.",
            in_metadata=True,
        )
    return True


# -- image-level classification ------------------------------------------------------------


def check_class_name(attr: Attribute) -> bool:
    name = attr.metadata.get("class-name")
    if not isinstance(name, str) or not name:
        return _metadata_format(attr, "class-name must be a non-empty string.")
    return check_label_name_length(name, attr)


def check_classification_value(attr: Attribute) -> bool:
    if not _is_int(attr.value):
        return _attribute_format(attr, "An image-level label attribute must be an integer.")
    return True


def collect_class_label(attr: Attribute) -> bool:
    attr.labels[attr.metadata["class-name"]] = 0
    return True


# -- bounding boxes ------------------------------------------------------------------------


def _image_size(value: Any) -> tuple[float, float] | None:
    # The spec's form is a one-element array; one example uses a bare object (spec 01 §4.4).
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return None
    width, height = value.get("width"), value.get("height")
    if not (_is_number(width) and _is_number(height)) or width <= 0 or height <= 0:
        return None
    return float(width), float(height)


def check_detection_schema(attr: Attribute) -> bool:
    if not isinstance(attr.value, dict):
        return _attribute_format(attr, "A bounding-box label attribute must be a JSON object.")
    size = _image_size(attr.value.get("image_size"))
    if size is None:
        return _attribute_format(attr, "image_size must hold a positive width and height.")
    boxes = attr.value.get("annotations")
    if not isinstance(boxes, list):
        return _attribute_format(attr, "annotations must be a list.")
    for box in boxes:
        if not isinstance(box, dict) or not _is_int(box.get("class_id")) or not all(
            _is_number(box.get(k)) for k in ("left", "top", "width", "height")
        ):
            return _attribute_format(
                attr, "Each annotation needs an integer class_id and numeric left, top, "
                "width and height."
            )
    attr.image_size, attr.boxes = size, boxes
    return True


def check_class_map(attr: Attribute) -> bool:
    class_map = attr.metadata.get("class-map")
    if not isinstance(class_map, dict) or not all(
        isinstance(v, str) and v for v in class_map.values()
    ):
        return _metadata_format(attr, "class-map must map class ids to non-empty label names.")
    return all(check_label_name_length(name, attr) for name in class_map.values())


def check_box_confidences(attr: Attribute) -> bool:
    objects = attr.metadata.get("objects", [])
    if not isinstance(objects, list):
        return _metadata_format(attr, "objects must be a list.")
    confident = [o for o in objects if isinstance(o, dict) and _is_number(o.get("confidence"))]
    if len(confident) < len(attr.boxes):
        return attr.fail(
            "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
            "One or more bounding boxes has a missing confidence value.",
            in_metadata=True,
        )
    return True


def check_class_ids_mapped(attr: Attribute) -> bool:
    class_map = attr.metadata["class-map"]
    if any(str(box["class_id"]) not in class_map for box in attr.boxes):
        return attr.fail(
            "ERROR_MISSING_CLASS_MAP_ID",
            "One of more class ids is missing from the class map.",  # sic, as AWS words it
            in_metadata=True,
        )
    return True


def check_box_count(attr: Attribute) -> bool:
    if len(attr.boxes) > MAX_BOXES_PER_IMAGE:
        return attr.fail(
            "ERROR_TOO_MANY_BOUNDING_BOXES",
            "There are more bounding boxes than the allowed maximum.",
        )
    return True


def check_boxes(attr: Attribute) -> bool:
    """Per-box checks: a bad box is dropped with an error on it, the others stay usable."""
    width, height = attr.image_size
    # Training downscales images whose longer side exceeds 1280 px; a box must still be
    # larger than 1 px in both directions afterwards (spec 02 §2.5).
    scale = min(1.0, TRAINING_MAX_SIDE / max(width, height))
    for index, box in enumerate(attr.boxes):
        left, top, w, h = box["left"], box["top"], box["width"], box["height"]
        if min(left, top, w, h) < 0 or left + w > width or top + h > height:
            issue = Issue("ERROR_INVALID_BOUNDING_BOX", "The bounding box has off frame values.")
        elif w * scale <= 1 or h * scale <= 1:
            issue = Issue(
                "ERROR_BOUNDING_BOX_TOO_SMALL",
                "The height and width of the bounding box is too small.",
            )
        else:
            attr.valid_boxes.append(index)
            continue
        attr.box_errors.setdefault(index, []).append(issue)
    if attr.boxes and not attr.valid_boxes:
        return attr.fail("ERROR_NO_VALID_ANNOTATIONS", "No valid annotations found.")
    return True


def check_has_annotations(attr: Attribute) -> bool:
    if not attr.boxes:
        attr.warnings.append(
            Issue("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "No attribute annotations were found.")
        )
    return True


def collect_box_labels(attr: Attribute) -> bool:
    class_map = attr.metadata["class-map"]
    for index in attr.valid_boxes:
        name = class_map[str(attr.boxes[index]["class_id"])]
        attr.labels[name] = attr.labels.get(name, 0) + 1
    return True


ATTRIBUTE_CHECKS: tuple[AttributeCheck, ...] = (check_metadata_is_object, check_use_case_type)
CLASSIFICATION_CHECKS: tuple[AttributeCheck, ...] = (
    check_class_name,
    check_classification_value,
    collect_class_label,
)
DETECTION_CHECKS: tuple[AttributeCheck, ...] = (
    check_detection_schema,
    check_class_map,
    check_box_confidences,
    check_class_ids_mapped,
    check_box_count,
    check_boxes,
    check_has_annotations,
    collect_box_labels,
)
CHECKS_BY_TYPE: dict[str, tuple[AttributeCheck, ...]] = {
    CLASSIFICATION: CLASSIFICATION_CHECKS,
    DETECTION: DETECTION_CHECKS,
}


def _run_checks(attr: Attribute) -> bool:
    for check in ATTRIBUTE_CHECKS:
        if not check(attr):
            return False
    return all(check(attr) for check in CHECKS_BY_TYPE[attr.type])


# --- the line -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads/dumps with options construct a new coder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _load_object(line: str, max_chars: int) -> dict[str, Any]:
    if len(line) > max_chars:
        raise TerminalLineError(
            "ERROR_INVALID_JSON_LINE", f"The JSON Line is longer than {max_chars} characters."
        )
    try:
        obj = _DECODER.decode(line)
    except (ValueError, RecursionError):
        raise TerminalLineError(
            "ERROR_INVALID_JSON_LINE", "The JSON Line has an invalid format."
        ) from None
    if not isinstance(obj, dict):
        raise TerminalLineError("ERROR_INVALID_JSON_LINE", "The JSON Line has an invalid format.")
    return obj


def _source_ref(obj: dict[str, Any]) -> str:
    if "source-ref" not in obj:
        raise TerminalLineError(
            "ERROR_MISSING_SOURCE_REF", "The source-ref key is missing.", was_object=True
        )
    ref = obj["source-ref"]
    try:
        parse_s3_uri(ref)
    except ValueError:
        raise TerminalLineError(
            "ERROR_INVALID_SOURCE_REF_FORMAT",
            "The format of the source-ref value is invalid.",
            was_object=True,
        ) from None
    return ref


def _strip_service_keys(obj: dict[str, Any]) -> None:
    for key in SERVICE_KEYS:
        # A label attribute may be called `errors`; it is one when it has its -metadata.
        if key in obj and f"{key}-metadata" not in obj:
            del obj[key]
    # ...and inside attribute objects, their -metadata and their annotations.
    for value in obj.values():
        if not isinstance(value, dict):
            continue
        for inner in _ERROR_KEYS:
            value.pop(inner, None)
        boxes = value.get("annotations")
        for box in boxes if isinstance(boxes, list) else ():
            if isinstance(box, dict):
                for inner in _ERROR_KEYS:
                    box.pop(inner, None)


def _find_attributes(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(label attribute names that have their -metadata, other keys)."""
    keys = [k for k in obj if k != "source-ref"]
    metadata = {f"{k}-metadata" for k in keys if f"{k}-metadata" in obj}
    pairs = [k for k in keys if f"{k}-metadata" in obj and k not in metadata]
    others = [k for k in keys if k not in metadata and k not in pairs]
    return pairs, others


def _place(attr: Attribute, obj: dict[str, Any]) -> None:
    """Write the attribute's findings into the line where spec 02 §4.2 puts them."""
    value, metadata = obj[attr.name], obj[f"{attr.name}-metadata"]
    for index, issues in attr.box_errors.items():
        value["annotations"][index]["cl-errors"] = [i.as_json() for i in issues]
    attribute_errors = attr.errors
    if attribute_errors:
        if isinstance(value, dict):
            value["cl-errors"] = [i.as_json() for i in attribute_errors]
            attribute_errors = []
    metadata_errors = attr.metadata_errors + attribute_errors
    if metadata_errors and isinstance(metadata, dict):
        metadata["cl-errors"] = [i.as_json() for i in metadata_errors]
    if attr.warnings and isinstance(value, dict):
        value["warnings"] = [i.as_json() for i in attr.warnings]


def _unplaceable(attr: Attribute, obj: dict[str, Any]) -> list[Issue]:
    """Errors with no object to sit in (metadata not an object): they go to line level."""
    value, metadata = obj[attr.name], obj[f"{attr.name}-metadata"]
    leftover = [] if isinstance(metadata, dict) else list(attr.metadata_errors)
    if not isinstance(value, dict) and not isinstance(metadata, dict):
        leftover += attr.errors
    return leftover


def _dumps(obj: dict[str, Any]) -> str:
    text = _ENCODER.encode(obj)
    # The API's DatasetEntry pattern is `^\{.*\}$`: `.` stops at these line terminators, so
    # keep them escaped (they can only occur inside strings, where the escape is equivalent).
    for char in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def parse_entry(line: str, *, max_chars: int = MAX_LINE_CHARS) -> ParsedEntry:
    """Parse and check one JSON Line; TerminalLineError when the line must be dropped."""
    obj = _load_object(line, max_chars)
    source_ref = _source_ref(obj)
    _strip_service_keys(obj)
    pairs, others = _find_attributes(obj)

    line_errors: list[Issue] = []  # found at line level
    moved: list[Issue] = []  # attribute errors with no object to sit in
    line_warnings: list[Issue] = []
    labels: dict[str, int] = {}
    errors: list[Issue] = []
    warnings: list[Issue] = []
    valid = 0
    for name in pairs:
        attr = Attribute(name, obj[name], obj[f"{name}-metadata"])
        if _run_checks(attr):
            valid += 1
            for label, boxes in attr.labels.items():
                labels[label] = labels.get(label, 0) + boxes
        _place(attr, obj)
        moved += _unplaceable(attr, obj)
        errors += attr.errors + attr.metadata_errors
        errors += [i for issues in attr.box_errors.values() for i in issues]
        warnings += attr.warnings

    if not pairs and others:
        line_errors.append(Issue("ERROR_NO_LABEL_ATTRIBUTES", "No label attributes found."))
    elif not pairs:
        line_warnings.append(Issue("WARNING_UNANNOTATED_RECORD", "Record is unannotated."))
    elif not valid:
        line_errors.append(
            Issue("ERROR_NO_VALID_LABEL_ATTRIBUTES", "No valid label attributes found.")
        )
    elif not labels and any(
        isinstance(obj[n], dict) and not obj[n].get("annotations") for n in pairs
    ):
        line_warnings.append(Issue("WARNING_NO_ANNOTATIONS", "No annotations were found."))

    if moved or line_errors:
        obj["cl-errors"] = [i.as_json() for i in moved + line_errors]
    if line_warnings:
        obj["warnings"] = [i.as_json() for i in line_warnings]
    obj["cl-metadata"] = {"is_labeled": bool(labels)}
    return ParsedEntry(
        source_ref=source_ref,
        line=_dumps(obj),
        labels=labels,
        errors=tuple(errors + line_errors),
        warnings=tuple(warnings + line_warnings),
    )


# --- whole manifests ------------------------------------------------------------------------


@dataclass
class ManifestTally:
    """What an import has seen so far; decides the file-level outcome (spec 01 §4.6)."""

    limits: ManifestLimits = field(default_factory=ManifestLimits)
    lines: int = 0
    blank: int = 0
    dropped: int = 0  # lines with a terminal content error, duplicates included
    objects: int = 0  # lines that were JSON objects

    def drop(self) -> None:
        """Count a line dropped after parsing (a duplicate source-ref)."""
        self.dropped += 1

    def finish(self) -> None:
        """Raise the file-level error the counts call for, if any."""
        if self.lines == self.blank:
            raise ManifestFileError("ERROR_EMPTY_MANIFEST")
        if self.objects == 0:
            raise ManifestFileError(
                "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                "No line is a JSON object.",
            )
        # Blank and invalid lines count as dataset objects in the 20 % rule (spec 01 §4.6).
        if self.dropped > self.limits.max_error_ratio * self.lines:
            raise ManifestFileError(
                "ERROR_TOO_MANY_RECORDS_IN_ERROR",
                f"{self.dropped} of {self.lines} lines have terminal errors "
                f"(at most {self.limits.max_error_ratio:.0%} may).",
            )


def iter_entries(stream: BinaryIO, tally: ManifestTally) -> Iterator[ParsedEntry]:
    """The usable entries of a manifest stream, in order; terminal-error lines are counted
    in `tally` and skipped. Raises ManifestFileError for the row and size limits as soon as
    they are crossed (lines past the row limit are never parsed)."""
    limits = tally.limits
    reader = ManifestReader(stream, max_line_chars=limits.max_line_chars,
                            max_bytes=limits.max_bytes)
    for raw in reader:
        tally.lines = raw.number
        if raw.number > limits.max_rows:
            raise ManifestFileError(
                "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", f"The limit is {limits.max_rows} lines."
            )
        if raw.text is None:
            tally.dropped += 1
            continue
        if not raw.text.strip():
            tally.blank += 1
            tally.dropped += 1
            continue
        try:
            entry = parse_entry(raw.text, max_chars=limits.max_line_chars)
        except TerminalLineError as exc:
            tally.dropped += 1
            tally.objects += exc.was_object
            continue
        tally.objects += 1
        yield entry
