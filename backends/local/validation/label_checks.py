"""The label-attribute checks of a JSON Line and the codes they report (training.md §2.5).

Each check is a small function over one `Attribute` (a label attribute and its
`-metadata`); it records what it finds on the attribute and returns False when the
attribute is dropped, which stops that attribute's later checks. The checks run in the
ordered tuples at the bottom: `SCHEMA_CHECKS` / `SCHEMA_CHECKS_BY_TYPE` before the image
(their errors are precedence errors, training.md §2.6, except the use-case type), then
`CONTENT_CHECKS_BY_TYPE`. validation.py runs them and decides what the line is.

Where a finding goes (training.md §4.2): `Attribute.errors` into the attribute object,
`metadata_errors` into `<attr>-metadata`, `box_errors[i]` into `annotations[i]`, warnings
into the attribute object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
SUPPORTED_TYPES = (CLASSIFICATION, DETECTION)

MAX_LINE_CHARS = 100_000
MAX_BOXES_PER_IMAGE = 50
MAX_LABELS_PER_IMAGE = 50
MAX_LABEL_NAME_CHARS = 256
TRAINING_MAX_SIDE = 1280  # training downscales larger images before the box-size check

#: Every JSON Line error and warning: code -> exact message (`{attr}`: the attribute name).
MESSAGES: dict[str, str] = {
    "ERROR_MISSING_SOURCE_REF": "The source-ref key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The format of the source-ref value is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute {attr} is invalid.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT":
        "The format of the label attribute metadata is invalid.",
    "ERROR_NO_VALID_LABEL_ATTRIBUTES": "No valid label attributes found.",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE":
        "One or more bounding boxes has a missing confidence value.",
    "ERROR_MISSING_CLASS_MAP_ID":
        "One of more class ids is missing from the class map.",  # sic, as AWS words it
    "ERROR_INVALID_JSON_LINE": "The JSON Line has an invalid format.",
    "ERROR_INVALID_IMAGE": "The image is invalid. Check S3 path and/or image properties.",
    "ERROR_INVALID_IMAGE_DIMENSION":
        "The image dimension(s) do not conform to allowed dimensions.",
    "ERROR_INVALID_BOUNDING_BOX": "The bounding box has off frame values.",
    "ERROR_BOUNDING_BOX_TOO_SMALL": "The height and width of the bounding box is too small.",
    "ERROR_TOO_MANY_BOUNDING_BOXES": "There are more bounding boxes than the allowed maximum.",
    "ERROR_NO_VALID_ANNOTATIONS": "No valid annotations found.",
    "ERROR_UNSUPPORTED_USE_CASE_TYPE": "The use case type of the {attr}-metadata label "
                                       "attribute metadata is unsupported. Check the type field.",
    # AWS documents no message for this code (training.md §2.5): ours.
    "ERROR_INVALID_LABEL_NAME_LENGTH":
        f"The label name is longer than {MAX_LABEL_NAME_CHARS} characters.",
    # AWS documents the 50-labels-per-image quota but no code for it: ours, named like its
    # bounding-box sibling.
    "ERROR_TOO_MANY_LABELS_PER_IMAGE": "There are more labels than the allowed maximum.",
    # The examples' wording, which the service emits (the headings say "provided").
    "WARNING_UNANNOTATED_RECORD": "Record is unannotated.",
    "WARNING_NO_ANNOTATIONS": "No annotations were found.",
    "WARNING_NO_ATTRIBUTE_ANNOTATIONS": "No attribute annotations were found.",
}

#: Spec 02 §2.6: any of these stops the validation of the line.
PRECEDENCE_CODES = frozenset({
    "ERROR_INVALID_JSON_LINE",
    "ERROR_MISSING_SOURCE_REF",
    "ERROR_INVALID_SOURCE_REF_FORMAT",
    "ERROR_NO_LABEL_ATTRIBUTES",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
    "ERROR_MISSING_CLASS_MAP_ID",
})


@dataclass(frozen=True)
class Issue:
    """An error or warning, `{"code", "message"}` in the JSON Line."""

    code: str
    message: str

    @classmethod
    def of(cls, code: str, attr: str = "") -> Issue:
        return cls(code, MESSAGES[code].format(attr=attr))

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- label attributes -----------------------------------------------------------------------


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
    usable: bool = True
    precedence_failed: bool = False
    # Filled by the schema checks.
    image_size: tuple[float, float] = (0.0, 0.0)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    valid_boxes: list[int] = field(default_factory=list)

    @property
    def type(self) -> Any:
        return self.metadata.get("type") if isinstance(self.metadata, dict) else None

    @property
    def is_detection(self) -> bool:
        return self.type == DETECTION

    def fail(self, code: str, *, in_metadata: bool) -> bool:
        """Record an error that drops the attribute; False stops its checks."""
        (self.metadata_errors if in_metadata else self.errors).append(Issue.of(code, self.name))
        self.usable = False
        self.precedence_failed = self.precedence_failed or code in PRECEDENCE_CODES
        return False

    def labels(self) -> dict[str, int]:
        if not self.usable:
            return {}
        if self.type == CLASSIFICATION:
            return {self.metadata["class-name"]: 0}
        class_map = self.metadata["class-map"]
        found: dict[str, int] = {}
        for index in self.valid_boxes:
            name = class_map[str(self.boxes[index]["class_id"])]
            found[name] = found.get(name, 0) + 1
        return found

    def all_issues(self) -> list[Issue]:
        boxes = [i for index in sorted(self.box_errors) for i in self.box_errors[index]]
        return self.errors + boxes + self.metadata_errors


#: A check looks at one attribute; False means "attribute dropped, stop checking it".
AttributeCheck = Callable[[Attribute], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _attribute_format(attr: Attribute) -> bool:
    # A classification attribute is a bare integer with no room for errors: they go into
    # its metadata (and to the line when that is no object either, see _place).
    return attr.fail("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
                     in_metadata=not isinstance(attr.value, dict))


def _metadata_format(attr: Attribute) -> bool:
    return attr.fail("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", in_metadata=True)


def _common_metadata_ok(meta: dict[str, Any]) -> bool:
    """The fields both kinds require (datasets.md §4.2, §4.4); `job-name` is optional."""
    return (
        meta.get("human-annotated") in ("yes", "no")
        and _is_timestamp(meta.get("creation-date"))
        and isinstance(meta.get("job-name", ""), str)
    )


# -- stage 3: schema (precedence) ------------------------------------------------------------


def check_metadata_schema_type(attr: Attribute) -> bool:
    if not isinstance(attr.metadata, dict) or not isinstance(attr.type, str):
        return _metadata_format(attr)
    return True


def check_use_case_type(attr: Attribute) -> bool:
    if attr.type not in SUPPORTED_TYPES:
        return attr.fail("ERROR_UNSUPPORTED_USE_CASE_TYPE", in_metadata=True)
    return True


def check_classification_metadata(attr: Attribute) -> bool:
    meta = attr.metadata
    confidence = meta.get("confidence")
    name = meta.get("class-name")
    if not (
        _is_number(confidence) and 0 <= confidence <= 1
        and isinstance(name, str) and name
        and _common_metadata_ok(meta)
    ):
        return _metadata_format(attr)
    return True


def check_classification_value(attr: Attribute) -> bool:
    if not _is_int(attr.value):
        return _attribute_format(attr)
    return True


def _image_size(value: Any) -> tuple[float, float] | None:
    # The spec's form is a one-element array; one example uses a bare object (datasets.md §4.4).
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return None
    width, height, depth = value.get("width"), value.get("height"), value.get("depth")
    if not all(_is_number(v) and v > 0 for v in (width, height, depth)):
        return None
    return float(width), float(height)


def _is_box(box: Any) -> bool:
    return isinstance(box, dict) and _is_int(box.get("class_id")) and all(
        _is_number(box.get(k)) for k in ("left", "top", "width", "height")
    )


def check_detection_metadata(attr: Attribute) -> bool:
    meta = attr.metadata
    class_map = meta.get("class-map")
    if not (
        isinstance(meta.get("objects"), list)
        and isinstance(class_map, dict)
        and all(isinstance(v, str) and v for v in class_map.values())
        and _common_metadata_ok(meta)
    ):
        return _metadata_format(attr)
    return True


def check_detection_value(attr: Attribute) -> bool:
    if not isinstance(attr.value, dict):
        return _attribute_format(attr)
    size = _image_size(attr.value.get("image_size"))
    # A missing `annotations` is the "no annotations" warning, not a schema error.
    boxes = attr.value.get("annotations", [])
    if size is None or not isinstance(boxes, list) or not all(_is_box(b) for b in boxes):
        return _attribute_format(attr)
    attr.image_size, attr.boxes = size, boxes
    return True


def check_box_confidences(attr: Attribute) -> bool:
    # `objects` is parallel to `annotations`: one `{"confidence": n}` per box, same index.
    objects = attr.metadata["objects"]
    for index in range(len(attr.boxes)):
        entry = objects[index] if index < len(objects) else None
        if not isinstance(entry, dict) or not _is_number(entry.get("confidence")):
            return attr.fail("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", in_metadata=True)
    return True


def check_class_ids_mapped(attr: Attribute) -> bool:
    class_map = attr.metadata["class-map"]
    if any(str(box["class_id"]) not in class_map for box in attr.boxes):
        return attr.fail("ERROR_MISSING_CLASS_MAP_ID", in_metadata=True)
    return True


# -- stages 5 and 6: content ----------------------------------------------------------------


def check_boxes(attr: Attribute) -> bool:
    """Per box: a bad box is dropped with its error, the others stay usable."""
    width, height = attr.image_size
    # Training downscales images whose longer side exceeds 1280 px (keeping the aspect
    # ratio); a box must still be larger than 1 px both ways afterwards.
    scale = min(1.0, TRAINING_MAX_SIDE / max(width, height))
    for index, box in enumerate(attr.boxes):
        left, top, w, h = box["left"], box["top"], box["width"], box["height"]
        if min(left, top, w, h) < 0 or left + w > width or top + h > height:
            issue = Issue.of("ERROR_INVALID_BOUNDING_BOX")
        elif w * scale <= 1 or h * scale <= 1:
            issue = Issue.of("ERROR_BOUNDING_BOX_TOO_SMALL")
        else:
            attr.valid_boxes.append(index)
            continue
        attr.box_errors.setdefault(index, []).append(issue)
    if attr.boxes and not attr.valid_boxes:
        return attr.fail("ERROR_NO_VALID_ANNOTATIONS", in_metadata=False)
    return True


def check_label_name_length(attr: Attribute) -> bool:
    meta = attr.metadata
    names = [meta["class-name"]] if attr.type == CLASSIFICATION else meta["class-map"].values()
    if any(len(name) > MAX_LABEL_NAME_CHARS for name in names):
        return attr.fail("ERROR_INVALID_LABEL_NAME_LENGTH", in_metadata=True)
    return True


def check_has_annotations(attr: Attribute) -> bool:
    if attr.is_detection and not attr.boxes:
        attr.warnings.append(Issue.of("WARNING_NO_ATTRIBUTE_ANNOTATIONS"))
    return True


#: Precedence-stage checks: every attribute, then by its type.
SCHEMA_CHECKS: tuple[AttributeCheck, ...] = (check_metadata_schema_type, check_use_case_type)
SCHEMA_CHECKS_BY_TYPE: dict[str, tuple[AttributeCheck, ...]] = {
    CLASSIFICATION: (check_classification_metadata, check_classification_value),
    DETECTION: (
        check_detection_metadata,
        check_detection_value,
        check_box_confidences,
        check_class_ids_mapped,
    ),
}
#: Checks after the image, on attributes that passed the schema stage.
CONTENT_CHECKS_BY_TYPE: dict[str, tuple[AttributeCheck, ...]] = {
    CLASSIFICATION: (check_label_name_length,),
    DETECTION: (check_boxes, check_label_name_length, check_has_annotations),
}


def run_checks(checks: Iterable[AttributeCheck], attr: Attribute) -> bool:
    return all(check(attr) for check in checks)
