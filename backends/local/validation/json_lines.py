"""One JSON Line of a Ground Truth manifest, validated as Rekognition Custom Labels does
(training.md §2.5 codes and messages, §2.6 precedence, §4.2 where each finding goes).

`LineValidator.begin(number, text)` does everything that needs no image: the JSON parse,
the source-ref and the precedence checks of every label attribute. `finish(pending,
image)` takes the probe's `ImageReport` (or None when images are not checked) and runs the
rest. The split lets the caller probe images on a thread pool while lines stream
(`check_lines`), which is what `manifests.validate_lines` and the dataset import use.

Stages, in order (training.md §2.6 [DESIGN]); a precedence error stops the line after its
stage, so later findings are not reported until it is fixed:

1. JSON parse: `ERROR_INVALID_JSON_LINE` (also for lines over 100,000 characters, blank
   lines, text that is not UTF-8, JSON that is not an object).            precedence
2. `ERROR_MISSING_SOURCE_REF`, `ERROR_INVALID_SOURCE_REF_FORMAT`.            precedence
3. Label attributes: `ERROR_NO_LABEL_ATTRIBUTES` (line); per attribute the metadata
   schema (`type` included), `ERROR_UNSUPPORTED_USE_CASE_TYPE` (excludes that attribute
   only), the attribute schema, then for boxes `ERROR_MISSING_BOUNDING_BOX_CONFIDENCE` and
   `ERROR_MISSING_CLASS_MAP_ID`.                              precedence (except the type)
4. The image: `ERROR_INVALID_IMAGE`, or `ERROR_INVALID_IMAGE_DIMENSION` on lines with a
   bounding-box attribute (from the probed size, or the declared `image_size`).
5. Boxes: `ERROR_TOO_MANY_BOUNDING_BOXES` (over 50 on the image; the whole line is
   invalid), per box `ERROR_INVALID_BOUNDING_BOX` / `ERROR_BOUNDING_BOX_TOO_SMALL` (only
   that box is dropped), `ERROR_NO_VALID_ANNOTATIONS` (the attribute is dropped).
6. `ERROR_INVALID_LABEL_NAME_LENGTH` (the attribute is dropped), then more than 50 labels
   on the image (`ERROR_TOO_MANY_LABELS_PER_IMAGE`, a local code: no AWS code exists).
7. `ERROR_NO_VALID_LABEL_ATTRIBUTES` when no attribute survived; the warnings.

Semantics where the spec leaves room, chosen here:
* Attributes are independent: an attribute-level or metadata-level error drops that
  attribute, and the line is invalid only when none is left (then
  `ERROR_NO_VALID_LABEL_ATTRIBUTES`), as the guide's fixes say ("if other valid
  attributes exist, remove only the invalid one"). Precedence errors and image errors
  always invalidate the line.
* Box geometry uses the declared `image_size` (the coordinate space the boxes were drawn
  in), so it is checked the same with or without an image probe; the probed size decides
  the image limits. A mismatch between the two is not an error (AWS documents none).
* The empty-box warnings are given whatever `human-annotated` says: a box attribute with
  no box gives no training signal either way.

Line status (training.md §3.1): `invalid` (counts toward the 20 % rule), `ignored` (no usable
label, only warnings: not invalid), `valid` (at least one usable label).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from labelgate.backends.local.blobs.stores import parse_s3_uri
from labelgate.backends.local.validation.image_probe import (
    ImageLimits,
    ImageProbe,
    ImageProblem,
    ImageReport,
)
from labelgate.backends.local.validation.label_checks import (
    CONTENT_CHECKS_BY_TYPE,
    MAX_BOXES_PER_IMAGE,
    MAX_LABELS_PER_IMAGE,
    MAX_LINE_CHARS,
    SCHEMA_CHECKS,
    SCHEMA_CHECKS_BY_TYPE,
    Attribute,
    Issue,
    run_checks,
)

VALID, INVALID, IGNORED = "valid", "invalid", "ignored"
#: Where errors go: training validation manifests use `errors`, dataset entries
#: (ListDatasetEntries) `cl-errors` plus a `cl-metadata` object. Warnings are `warnings`.
ERRORS, CL_ERRORS, WARNINGS, CL_METADATA = "errors", "cl-errors", "warnings", "cl-metadata"
#: Keys the service writes; stripped from input lines and recomputed (training.md §2.7).
SERVICE_KEYS = (CL_METADATA, CL_ERRORS, ERRORS, WARNINGS)
_INNER_SERVICE_KEYS = (CL_ERRORS, ERRORS, WARNINGS)


#: What a training validation manifest shows for a line that is not a JSON object.
INVALID_JSON_OUTPUT = (
    '{"errors":[{"code":"ERROR_INVALID_JSON_LINE","message":"The JSON Line has an invalid '
    'format."}]}'
)


@dataclass(frozen=True)
class CheckedLine:
    """One validated line, with everything the training stage and the dataset import use."""

    number: int  # 1-based
    status: str  # VALID | INVALID | IGNORED
    source_ref: str | None
    bucket: str | None
    labels: Mapping[str, int]  # usable label -> usable boxes carrying it (0: image-level)
    image_labels: frozenset[str]
    box_labels: frozenset[str]
    errors: tuple[Issue, ...]  # at every level, in the order found
    warnings: tuple[Issue, ...]
    output_line: str
    parsed: bool  # the line is a JSON object
    image: ImageReport | None = None

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def is_labeled(self) -> bool:
        return bool(self.labels)

    @property
    def unreadable_source(self) -> bool:
        """The line has no usable source-ref: the dataset import drops it (datasets.md §7.2)."""
        return self.source_ref is None

    @property
    def missing_image(self) -> bool:
        """The image is missing or was refused: either way it cannot be read (the dataset
        import's "missing or unreadable images" rule, datasets.md §4.6)."""
        return self.image is not None and self.image.problem in (ImageProblem.MISSING,
                                                                 ImageProblem.ACCESS_DENIED)

    @property
    def image_denied(self) -> bool:
        """The blob store refused access to the image (training.md §2.4 #3)."""
        return self.image is not None and self.image.problem is ImageProblem.ACCESS_DENIED


# --- the line -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads/dumps with options construct a new coder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(obj: Any) -> str:
    """Compact JSON on one line. The API's DatasetEntry pattern is `^\\{.*\\}$` and `.` stops
    at U+0085/U+2028/U+2029, so those stay escaped (they only occur inside strings)."""
    text = _ENCODER.encode(obj)
    for char in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _load_object(text: str | None, max_chars: int) -> dict[str, Any] | None:
    if text is None or len(text) > max_chars:
        return None
    try:
        obj = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _strip_service_keys(obj: dict[str, Any]) -> bool:
    """Remove what the service wrote (errors, warnings, cl-*) at every level; True if any."""
    stripped = False
    for key in SERVICE_KEYS:
        # A label attribute may be called `errors`: it is one when it has its -metadata.
        if key in obj and f"{key}-metadata" not in obj:
            del obj[key]
            stripped = True
    for value in obj.values():
        if not isinstance(value, dict):
            continue
        boxes = value.get("annotations")
        for holder in [value, *(boxes if isinstance(boxes, list) else ())]:
            if isinstance(holder, dict):
                for key in _INNER_SERVICE_KEYS:
                    if key in holder:
                        del holder[key]
                        stripped = True
    return stripped


def _find_attributes(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(label attribute names that have their -metadata, other keys)."""
    keys = [k for k in obj if k != "source-ref"]
    metadata = {f"{k}-metadata" for k in keys if f"{k}-metadata" in obj}
    pairs = [k for k in keys if f"{k}-metadata" in obj and k not in metadata]
    others = [k for k in keys if k not in metadata and k not in pairs]
    return pairs, others


@dataclass
class PendingLine:
    """A line after the stages that need no image; `source_ref` set when it needs one."""

    number: int
    text: str | None
    obj: dict[str, Any] | None = None
    source_ref: str | None = None
    bucket: str | None = None
    stripped: bool = False
    attributes: list[Attribute] = field(default_factory=list)
    line_errors: list[Issue] = field(default_factory=list)
    stopped: bool = False  # a precedence error: nothing after stage 3 runs

    @property
    def needs_image(self) -> bool:
        return not self.stopped and self.source_ref is not None


class LineValidator:
    """Validates lines one at a time. `error_key` is `errors` (training validation
    manifests) or `cl-errors` (dataset entries, which also get `cl-metadata`)."""

    def __init__(self, *, error_key: str = ERRORS, max_line_chars: int = MAX_LINE_CHARS,
                 image_limits: ImageLimits | None = None) -> None:
        if error_key not in (ERRORS, CL_ERRORS):
            raise ValueError(f"error_key must be {ERRORS!r} or {CL_ERRORS!r}")
        self.error_key = error_key
        self.max_line_chars = max_line_chars
        self.image_limits = image_limits or ImageLimits()

    # -- stages 1-3 --------------------------------------------------------------------
    def begin(self, number: int, text: str | None) -> PendingLine:
        pending = PendingLine(number, text)
        obj = _load_object(text, self.max_line_chars)
        if obj is None:
            pending.line_errors.append(Issue.of("ERROR_INVALID_JSON_LINE"))
            pending.stopped = True
            return pending
        pending.obj = obj
        pending.stripped = _strip_service_keys(obj)
        if "source-ref" not in obj:
            return self._stop(pending, "ERROR_MISSING_SOURCE_REF")
        try:
            pending.bucket, _key = parse_s3_uri(obj["source-ref"])
        except ValueError:
            return self._stop(pending, "ERROR_INVALID_SOURCE_REF_FORMAT")
        pending.source_ref = obj["source-ref"]
        pairs, others = _find_attributes(obj)
        if not pairs and others:
            return self._stop(pending, "ERROR_NO_LABEL_ATTRIBUTES")
        for name in pairs:
            attr = Attribute(name, obj[name], obj[f"{name}-metadata"])
            if run_checks(SCHEMA_CHECKS, attr):
                run_checks(SCHEMA_CHECKS_BY_TYPE[attr.type], attr)
            pending.attributes.append(attr)
            pending.stopped = pending.stopped or attr.precedence_failed
        return pending

    @staticmethod
    def _stop(pending: PendingLine, code: str) -> PendingLine:
        pending.line_errors.append(Issue.of(code))
        pending.stopped = True
        return pending

    # -- stages 4-7 --------------------------------------------------------------------
    def finish(self, pending: PendingLine, image: ImageReport | None = None) -> CheckedLine:
        warnings: list[Issue] = []
        invalid = pending.stopped
        if not pending.stopped:
            invalid = self._check_content(pending, image, warnings)
        return self._result(pending, image, warnings, invalid)

    def _check_content(
        self, pending: PendingLine, image: ImageReport | None, warnings: list[Issue]
    ) -> bool:
        """Stages 4-7 on a line that passed the precedence checks; True if it is invalid."""
        attributes = pending.attributes
        usable = [a for a in attributes if a.usable]
        detection = [a for a in usable if a.is_detection]
        line_errors = pending.line_errors
        # 4: the image.
        declared_ok = all(self._side_ok(*a.image_size) for a in detection)
        if image is not None and not image.ok:
            if image.problem is ImageProblem.DIMENSIONS and detection:
                line_errors.append(Issue.of("ERROR_INVALID_IMAGE_DIMENSION"))
            else:
                line_errors.append(Issue.of("ERROR_INVALID_IMAGE"))
        if not declared_ok and not any(i.code == "ERROR_INVALID_IMAGE_DIMENSION"
                                       for i in line_errors):
            line_errors.append(Issue.of("ERROR_INVALID_IMAGE_DIMENSION"))
        # 5: more boxes than an image may have invalidates the line; the boxes are still
        # checked one by one below, so every finding is reported at once.
        too_many_boxes = sum(len(a.boxes) for a in detection) > MAX_BOXES_PER_IMAGE
        for attr in usable:
            run_checks(CONTENT_CHECKS_BY_TYPE[attr.type], attr)
            if too_many_boxes and attr.boxes:
                attr.fail("ERROR_TOO_MANY_BOUNDING_BOXES", in_metadata=False)
        # 6: labels per image.
        labels = {name for a in attributes for name in a.labels()}
        if len(labels) > MAX_LABELS_PER_IMAGE:
            line_errors.append(Issue.of("ERROR_TOO_MANY_LABELS_PER_IMAGE"))
        # 7: nothing usable left, and the warnings.
        if not attributes:
            warnings.append(Issue.of("WARNING_UNANNOTATED_RECORD"))
        elif not any(a.usable for a in attributes):
            line_errors.append(Issue.of("ERROR_NO_VALID_LABEL_ATTRIBUTES"))
        invalid = bool(line_errors) or too_many_boxes
        if not invalid and not labels and any(a.usable and a.is_detection and not a.boxes
                                              for a in attributes):
            warnings.append(Issue.of("WARNING_NO_ANNOTATIONS"))
        return invalid

    def _side_ok(self, width: float, height: float) -> bool:
        limits = self.image_limits
        return limits.min_side <= min(width, height) and max(width, height) <= limits.max_side

    # -- the result --------------------------------------------------------------------
    def _result(self, pending: PendingLine, image: ImageReport | None,
                warnings: list[Issue], invalid: bool) -> CheckedLine:
        labels: dict[str, int] = {}
        image_labels: set[str] = set()
        box_labels: set[str] = set()
        if not invalid:
            for attr in pending.attributes:
                for name, boxes in attr.labels().items():
                    labels[name] = labels.get(name, 0) + boxes
                    (box_labels if attr.is_detection else image_labels).add(name)
        errors = [i for a in pending.attributes for i in a.all_issues()] + pending.line_errors
        all_warnings = [w for a in pending.attributes for w in a.warnings] + warnings
        status = INVALID if invalid else VALID if labels else IGNORED
        return CheckedLine(
            number=pending.number,
            status=status,
            source_ref=pending.source_ref,
            bucket=pending.bucket,
            labels=labels,
            image_labels=frozenset(image_labels),
            box_labels=frozenset(box_labels),
            errors=tuple(errors),
            warnings=tuple(all_warnings),
            output_line=self._render(pending, warnings, bool(labels),
                                     clean=not errors and not all_warnings),
            parsed=pending.obj is not None,
            image=image,
        )

    def _render(self, pending: PendingLine, line_warnings: list[Issue], labeled: bool,
                clean: bool) -> str:
        obj, key = pending.obj, self.error_key
        if obj is None:
            return INVALID_JSON_OUTPUT.replace('"errors"', f'"{key}"', 1)
        if key == ERRORS and clean and not pending.stripped:
            # "Lines without problems are copied unchanged" (training.md §4.1).
            assert pending.text is not None
            return pending.text
        # Attribute errors with no object to sit in go first, then the line's own.
        line_errors = [i for a in pending.attributes for i in _place(a, obj, key)]
        line_errors += pending.line_errors
        if line_errors:
            obj[key] = [i.as_json() for i in line_errors]
        if line_warnings:
            obj[WARNINGS] = [i.as_json() for i in line_warnings]
        if key == CL_ERRORS:
            obj[CL_METADATA] = {"is_labeled": labeled}
        return dumps(obj)


def _place(attr: Attribute, obj: dict[str, Any], key: str) -> list[Issue]:
    """Write the attribute's findings where training.md §4.2 puts them; returns those that have
    no object to sit in (they go to the line)."""
    value, metadata = obj[attr.name], obj[f"{attr.name}-metadata"]
    for index, issues in attr.box_errors.items():
        value["annotations"][index][key] = [i.as_json() for i in issues]
    attribute_errors = list(attr.errors)
    if attribute_errors and isinstance(value, dict):
        value[key] = [i.as_json() for i in attribute_errors]
        attribute_errors = []
    metadata_errors = attr.metadata_errors + attribute_errors
    if metadata_errors and isinstance(metadata, dict):
        metadata[key] = [i.as_json() for i in metadata_errors]
        metadata_errors = []
    if attr.warnings and isinstance(value, dict):
        value[WARNINGS] = [i.as_json() for i in attr.warnings]
    return metadata_errors


# --- many lines, images probed concurrently ---------------------------------------------------


def check_lines(
    lines: Iterable[tuple[int, str | None]],
    *,
    images: ImageProbe | None,
    validator: LineValidator,
) -> Iterator[CheckedLine]:
    """Validate numbered lines in order. Images are probed on a pool of
    `images.concurrency` threads while later lines are parsed; at most a small window of
    lines (4 per thread) is held, so memory does not grow with the manifest. The pool is
    this call's own and is shut down when the iterator ends or is closed."""
    if images is None:
        for number, text in lines:
            yield validator.finish(validator.begin(number, text))
        return
    window: deque[tuple[PendingLine, Future[ImageReport] | None]] = deque()
    limit = 4 * images.concurrency
    pool = ThreadPoolExecutor(images.concurrency, thread_name_prefix="image-probe")
    try:
        for number, text in lines:
            pending = validator.begin(number, text)
            future = pool.submit(images.probe_uri, pending.source_ref) \
                if pending.needs_image else None
            window.append((pending, future))
            if len(window) >= limit:
                yield _finish(validator, *window.popleft())
        while window:
            yield _finish(validator, *window.popleft())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _finish(validator: LineValidator, pending: PendingLine,
            future: Future[ImageReport] | None) -> CheckedLine:
    return validator.finish(pending, future.result() if future is not None else None)
