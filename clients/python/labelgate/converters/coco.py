"""COCO instances JSON -> Custom Labels bounding-box manifest (datasets.md §5.1).

One JSON Line per COCO image, in the order of `images`; its boxes are the annotations whose
`image_id` is the image's `id`, in the order of `annotations`. The field mapping is the
reference tool's:

* `source-ref`: `coco_url` when it is already an `s3://` URI, else the S3 prefix joined
  with `file_name`;
* `image_size`: `[{"width", "depth": 3, "height"}]` from the image;
* each box: `left, top, width, height` = `bbox[0..3]` passed through unchanged (floats
  included), `class_id` = `category_id` unchanged (never re-indexed);
* `class-map`: `{str(category id): name}` for the categories used on that image;
  `objects`: one `{"confidence": 1}` per box;
* `creation-date`: `date_captured` (`%Y-%m-%d %H:%M:%S`) written as `%Y-%m-%dT%H:%M:%S`.

Where the reference tool would crash, this module is explicit:

* the whole document is checked before anything is written, and every problem is a
  ConversionError naming the array index and id (missing required key, duplicate id,
  annotation for an unknown image or category, malformed bbox);
* an annotation with a `segmentation` but no `bbox` is skipped and counted
  (Custom Labels has no segmentation);
* an image whose `date_captured` is missing or unreadable gets the conversion time as
  its `creation-date` (the service never reads the value, but requires it), counted in the
  summary. ISO 8601 dates (`2021-03-04T12:00:00Z`, ...) are read too, in UTC;
* an image with no annotations is still written, with empty `annotations`, `objects` and
  `class-map` (the service keeps it, with WARNING_NO_ATTRIBUTE_ANNOTATIONS).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from labelgate.converters.conversion_errors import ConversionError
from labelgate.converters.manifest_lines import (
    DETECTION_TYPE,
    MAX_BOXES_PER_IMAGE,
    SECONDS_FORMAT,
    ManifestWriter,
    as_utc_naive,
    check_attribute_name,
    check_label_name,
    check_source_ref,
    counted,
    is_number,
    join_s3,
    parse_s3_uri,
    utc_now,
)

DEFAULT_ATTRIBUTE = "bounding-box"
COCO_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
IMAGE_DEPTH = 3  # unused by the service but required; the reference tool writes 3


@dataclass(frozen=True)
class CocoOptions:
    s3_prefix: str | None = None  # joined with file_name when coco_url is not s3://
    attribute: str = DEFAULT_ATTRIBUTE
    job_name: str | None = None  # None: "labeling-job/<attribute>"
    human_annotated: str = "yes"
    # creation-date for images without a usable date_captured; None: the conversion time.
    default_date: dt.datetime | None = None


@dataclass(frozen=True)
class CocoImage:
    id: Any
    file_name: str
    width: int | float
    height: int | float
    date_captured: Any = None
    coco_url: Any = None


@dataclass(frozen=True)
class CocoBox:
    category_id: int
    bbox: tuple[int | float, int | float, int | float, int | float]


@dataclass
class CocoDocument:
    """The parts of a COCO file the conversion uses, checked and indexed."""

    images: list[CocoImage]
    categories: dict[int, str]  # id -> name
    boxes: dict[Any, list[CocoBox]]  # image id -> its boxes, in file order
    segmentation_only: int = 0  # annotations skipped: no bbox


@dataclass
class CocoSummary:
    images: int = 0
    images_without_boxes: int = 0
    boxes: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # boxes per label
    segmentation_only_skipped: int = 0
    dates_defaulted: int = 0
    images_over_box_limit: int = 0  # written as is; the service will not use them

    def describe(self) -> list[str]:
        lines = [f"{counted(self.images, 'image')} ({self.images_without_boxes} without "
                 f"boxes), {counted(self.boxes, 'box', 'boxes')}, "
                 f"{counted(len(self.labels), 'label')}"]
        if self.segmentation_only_skipped:
            skipped = counted(self.segmentation_only_skipped, "segmentation-only annotation")
            lines.append(f"skipped {skipped} (no bbox; Custom Labels has no segmentation)")
        if self.dates_defaulted:
            lines.append(f"{counted(self.dates_defaulted, 'image')} without a usable "
                         "date_captured: creation-date is the conversion time")
        if self.images_over_box_limit:
            lines.append(f"warning: {counted(self.images_over_box_limit, 'image')} with more "
                         f"than {MAX_BOXES_PER_IMAGE} boxes (ERROR_TOO_MANY_BOUNDING_BOXES on "
                         "import)")
        return lines


# -- reading and checking the document ------------------------------------------------------


def _is_id(value: Any) -> bool:
    # Image ids are only a join key: COCO uses integers, some exporters strings.
    return isinstance(value, int | str) and not isinstance(value, bool)


def _section(document: Mapping[str, Any], name: str) -> list[Any]:
    if name not in document:
        raise ConversionError(f"not a COCO instances file: no {name!r} section")
    value = document[name]
    if not isinstance(value, list):
        raise ConversionError(f"{name!r} must be a list, not {type(value).__name__}")
    return value


def _require(item: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ConversionError(f"{where} must be an object")
    missing = [k for k in keys if item.get(k) is None]
    if missing:
        raise ConversionError(f"{where} is missing {', '.join(repr(k) for k in missing)}")
    return item


def _where(section: str, index: int, item: Any) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    return f"{section}[{index}]" + (f" (id {ident!r})" if ident is not None else "")


def _read_categories(document: Mapping[str, Any]) -> dict[int, str]:
    categories: dict[int, str] = {}
    for index, item in enumerate(_section(document, "categories")):
        where = _where("categories", index, item)
        _require(item, where, ("id", "name"))
        ident, name = item["id"], item["name"]
        # The id becomes the manifest's class_id unchanged, which must be an integer.
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise ConversionError(f"{where}: id must be an integer")
        if not isinstance(name, str) or not name:
            raise ConversionError(f"{where}: name must be a non-empty string")
        check_label_name(name, what=where)
        if ident in categories:
            raise ConversionError(f"{where}: duplicate category id {ident}")
        categories[ident] = name
    return categories


def _read_images(document: Mapping[str, Any]) -> list[CocoImage]:
    images: list[CocoImage] = []
    seen: set[Any] = set()
    for index, item in enumerate(_section(document, "images")):
        where = _where("images", index, item)
        _require(item, where, ("id", "file_name", "width", "height"))
        if not _is_id(item["id"]):
            raise ConversionError(f"{where}: id must be an integer or a string")
        if item["id"] in seen:
            raise ConversionError(f"{where}: duplicate image id {item['id']!r}")
        seen.add(item["id"])
        for key in ("width", "height"):
            if not is_number(item[key]) or item[key] <= 0:
                raise ConversionError(f"{where}: {key} must be a positive number")
        if not isinstance(item["file_name"], str) or not item["file_name"]:
            raise ConversionError(f"{where}: file_name must be a non-empty string")
        images.append(CocoImage(item["id"], item["file_name"], item["width"], item["height"],
                                item.get("date_captured"), item.get("coco_url")))
    return images


def read_coco(document: Any) -> CocoDocument:
    """Check a parsed COCO instances document and index it; ConversionError on the first
    problem."""
    if not isinstance(document, Mapping):
        raise ConversionError("not a COCO instances file: the top level must be an object")
    categories = _read_categories(document)
    images = _read_images(document)
    boxes: dict[Any, list[CocoBox]] = {image.id: [] for image in images}
    segmentation_only = 0
    for index, item in enumerate(_section(document, "annotations")):
        where = _where("annotations", index, item)
        _require(item, where, ("image_id", "category_id"))
        bbox = item.get("bbox")
        if not bbox and item.get("segmentation"):
            segmentation_only += 1
            continue
        if bbox is None:
            raise ConversionError(f"{where} is missing 'bbox'")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(is_number, bbox))):
            raise ConversionError(f"{where}: bbox must be [x, y, width, height] in pixels")
        if item["image_id"] not in boxes:
            raise ConversionError(f"{where}: image_id {item['image_id']!r} is not in images")
        if item["category_id"] not in categories:
            raise ConversionError(f"{where}: category_id {item['category_id']!r} is not in "
                                  "categories")
        boxes[item["image_id"]].append(CocoBox(item["category_id"], tuple(bbox)))
    return CocoDocument(images, categories, boxes, segmentation_only)


def load_coco(path: str | os.PathLike[str]) -> Any:
    """Parse a COCO JSON file (any UTF encoding, byte-order mark or not)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as e:
        raise ConversionError(f"cannot read {os.fspath(path)}: {e.strerror or e}") from None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ConversionError(f"{os.fspath(path)} is not valid JSON: {e}") from None


# -- writing lines ---------------------------------------------------------------------------


def coco_creation_date(value: Any) -> str | None:
    """`date_captured` as a manifest creation-date, or None when it cannot be read."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return dt.datetime.strptime(value, COCO_DATE_FORMAT).strftime(SECONDS_FORMAT)
    except ValueError:
        pass
    try:  # exporters other than the COCO tools often write ISO 8601
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc_naive(parsed).strftime(SECONDS_FORMAT)


def _source_ref(image: CocoImage, s3_prefix: str | None) -> str:
    what = f"image {image.id!r} ({image.file_name})"
    if isinstance(image.coco_url, str) and image.coco_url.startswith("s3://"):
        return check_source_ref(image.coco_url, what=f"{what} coco_url")
    if s3_prefix is None:
        raise ConversionError(f"{what}: coco_url is not an s3:// URI, so an S3 prefix is "
                              "needed to build its source-ref (--s3-prefix)")
    return check_source_ref(join_s3(s3_prefix, image.file_name), what=what)


def coco_manifest_lines(coco: CocoDocument, options: CocoOptions,
                        summary: CocoSummary) -> Iterator[dict[str, Any]]:
    """One manifest line per COCO image; counts go into `summary` as lines are made."""
    attribute = check_attribute_name(options.attribute, what="attribute")
    if options.s3_prefix is not None:
        parse_s3_uri(options.s3_prefix, what="S3 prefix")
    job_name = options.job_name or f"labeling-job/{attribute}"
    default_date = as_utc_naive(options.default_date or utc_now()).strftime(SECONDS_FORMAT)
    summary.segmentation_only_skipped += coco.segmentation_only
    for image in coco.images:
        source_ref = _source_ref(image, options.s3_prefix)
        created = coco_creation_date(image.date_captured)
        if created is None:
            created = default_date
            summary.dates_defaulted += 1
        boxes = coco.boxes[image.id]
        class_map: dict[str, str] = {}
        for box in boxes:
            name = coco.categories[box.category_id]
            class_map.setdefault(str(box.category_id), name)
            summary.labels[name] += 1
        summary.images += 1
        summary.boxes += len(boxes)
        summary.images_without_boxes += not boxes
        summary.images_over_box_limit += len(boxes) > MAX_BOXES_PER_IMAGE
        # Key order is that of the spec's example line (datasets.md §5.1).
        yield {
            "source-ref": source_ref,
            attribute: {
                "annotations": [
                    {"left": box.bbox[0], "top": box.bbox[1], "width": box.bbox[2],
                     "height": box.bbox[3], "class_id": box.category_id}
                    for box in boxes
                ],
                "image_size": [{"width": image.width, "depth": IMAGE_DEPTH,
                                "height": image.height}],
            },
            f"{attribute}-metadata": {
                "job-name": job_name,
                "class-map": class_map,
                "human-annotated": options.human_annotated,
                "objects": [{"confidence": 1} for _ in boxes],
                "creation-date": created,
                "type": DETECTION_TYPE,
            },
        }


def convert_coco(source: str | os.PathLike[str] | Mapping[str, Any],
                 output: str | os.PathLike[str],
                 options: CocoOptions | None = None) -> CocoSummary:
    """Convert a COCO instances file (a path, or the parsed document) into a bounding-box
    manifest at `output`. The document is fully checked before the manifest is written."""
    options = options or CocoOptions()
    document = load_coco(source) if isinstance(source, str | os.PathLike) else source
    coco = read_coco(document)
    summary = CocoSummary()
    with ManifestWriter(output, empty_message="the COCO file has no images") as writer:
        for line in coco_manifest_lines(coco, options, summary):
            writer.write(line)
    return summary
