"""A Custom Labels dataset -> COCO instances JSON: the reverse of `coco.py`.

The lines come from a manifest file or from a live dataset (ListDatasetEntries, every
page). COCO's `images` need a width and height and its `annotations` are boxes, so:

* an image is exported when its line has a bounding-box attribute (type
  `groundtruth/object-detection` with a usable `image_size`), boxes or not. Lines without
  one (image-level labels only, or unlabelled) are skipped and counted: their size is not
  in the manifest;
* image-level labels have no COCO instances form: they are skipped and counted, never
  turned into made-up boxes;
* `images[]`: `id` 1, 2, ... in line order; `file_name` = the source-ref relative to the
  S3 prefix when given and matching, else the object key; `width`/`height` from
  `image_size`; `coco_url` = the source-ref; `date_captured` from the attribute's
  creation-date as `%Y-%m-%d %H:%M:%S` (left out when unreadable);
* `annotations[]`: `bbox` = `[left, top, width, height]` (values unchanged), `area` =
  width x height, `iscrowd` 0, `id` 1, 2, ...;
* `categories[]`: one per label that has a box. They keep the manifest's class ids when
  those are consistent across the whole dataset (each label always has the same id and
  each id the same label), which makes COCO -> manifest -> COCO return the same ids.
  Otherwise (e.g. lines from jobs that numbered classes differently) they are numbered
  1..N in label-name order. Either way the ids depend only on the content, not on the
  order of the lines;
* boxes and attributes the service flagged (`cl-errors` / `errors`, as ListDatasetEntries
  returns them) or that cannot be read (class id missing from class-map, malformed box)
  are skipped and counted: COCO gets what training would use;
* a repeated source-ref keeps its first line, as the service does.

A manifest line that is not a JSON object or has no `s3://` source-ref is a
ConversionError naming the line (the service would drop it; an export should not hide it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.converters.conversion_errors import ConversionError
from labelgate.converters.manifest_lines import (
    CLASSIFICATION_TYPE,
    DETECTION_TYPE,
    as_utc_naive,
    check_source_ref,
    counted,
    is_number,
    parse_json_object,
    parse_s3_uri,
    read_text_lines,
    temp_beside,
    utc_now,
)

COCO_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CocoExportOptions:
    s3_prefix: str | None = None  # file_name is the source-ref relative to it
    description: str = "Exported from a Custom Labels dataset by labelgate"
    now: dt.datetime | None = None  # info.date_created; None: the export time


@dataclass
class CocoExportSummary:
    images: int = 0
    boxes: int = 0
    categories: int = 0
    categories_renumbered: bool = False
    images_skipped: int = 0  # no bounding-box attribute, so no image size
    image_level_labels_skipped: int = 0
    boxes_skipped: int = 0  # flagged by the service or unreadable
    attributes_skipped: int = 0  # flagged, unreadable, or of another type
    duplicates_skipped: int = 0

    def describe(self) -> list[str]:
        ids = "renumbered 1..N" if self.categories_renumbered else "ids kept from class-maps"
        lines = [f"{counted(self.images, 'image')}, {counted(self.boxes, 'box', 'boxes')}, "
                 f"{counted(self.categories, 'category', 'categories')} ({ids})"]
        skipped = [
            (self.images_skipped, "image without a bounding-box attribute",
             "images without a bounding-box attribute"),
            (self.image_level_labels_skipped, "image-level label", None),
            (self.boxes_skipped, "flagged or unreadable box", "flagged or unreadable boxes"),
            (self.attributes_skipped, "flagged, unreadable or unsupported attribute", None),
            (self.duplicates_skipped, "repeated source-ref", None),
        ]
        lines += [f"skipped {counted(number, noun, plural)}"
                  for number, noun, plural in skipped if number]
        return lines


@dataclass(frozen=True)
class ExportBox:
    label: str
    class_id: int
    bbox: tuple[Any, Any, Any, Any]  # left, top, width, height


@dataclass
class ExportImage:
    source_ref: str
    width: Any
    height: Any
    date_captured: str | None
    boxes: list[ExportBox] = field(default_factory=list)


def _flagged(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("cl-errors") or item.get("errors"))


def _image_size(value: Any) -> tuple[Any, Any] | None:
    # The one-element array of the spec, or the bare object one example uses (datasets.md §4.4).
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return None
    width, height = value.get("width"), value.get("height")
    if not (is_number(width) and is_number(height)) or width <= 0 or height <= 0:
        return None
    return width, height


def _coco_date(creation_date: Any) -> str | None:
    if not isinstance(creation_date, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(creation_date.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc_naive(parsed).strftime(COCO_DATE_FORMAT)


def _label_attributes(line: dict[str, Any]) -> list[str]:
    """Keys that have a `-metadata` companion and are not themselves one."""
    keys = [k for k in line if k != "source-ref"]
    metadata = {f"{k}-metadata" for k in keys if f"{k}-metadata" in line}
    return [k for k in keys if f"{k}-metadata" in line and k not in metadata]


def _boxes(value: dict[str, Any], metadata: dict[str, Any],
           summary: CocoExportSummary) -> list[ExportBox]:
    class_map = metadata.get("class-map")
    annotations = value.get("annotations")
    if not isinstance(class_map, dict) or not isinstance(annotations, list):
        summary.attributes_skipped += 1
        return []
    boxes: list[ExportBox] = []
    for box in annotations:
        readable = (isinstance(box, dict) and isinstance(box.get("class_id"), int)
                    and not isinstance(box.get("class_id"), bool)
                    and all(is_number(box.get(k)) for k in ("left", "top", "width", "height")))
        label = class_map.get(str(box["class_id"])) if readable else None
        if not readable or not isinstance(label, str) or not label or _flagged(box):
            summary.boxes_skipped += 1
            continue
        boxes.append(ExportBox(label, box["class_id"],
                               (box["left"], box["top"], box["width"], box["height"])))
    return boxes


def export_image(line: dict[str, Any], summary: CocoExportSummary) -> ExportImage | None:
    """The COCO image one manifest line gives, or None (counted) when it gives none."""
    image: ExportImage | None = None
    for name in _label_attributes(line):
        value, metadata = line[name], line[f"{name}-metadata"]
        kind = metadata.get("type") if isinstance(metadata, dict) else None
        if kind == CLASSIFICATION_TYPE:
            summary.image_level_labels_skipped += 1
            continue
        size = _image_size(value.get("image_size")) if isinstance(value, dict) else None
        if kind != DETECTION_TYPE or size is None or _flagged(metadata) or _flagged(value):
            summary.attributes_skipped += 1
            continue
        assert isinstance(value, dict) and isinstance(metadata, dict)
        if image is None:
            image = ExportImage(line["source-ref"], size[0], size[1],
                                _coco_date(metadata.get("creation-date")))
        image.boxes += _boxes(value, metadata, summary)
    if image is None:
        summary.images_skipped += 1
    return image


def _category_ids(images: list[ExportImage], summary: CocoExportSummary) -> dict[str, int]:
    ids_of: dict[str, set[int]] = {}
    names_of: dict[int, set[str]] = {}
    for image in images:
        for box in image.boxes:
            ids_of.setdefault(box.label, set()).add(box.class_id)
            names_of.setdefault(box.class_id, set()).add(box.label)
    if all(len(ids) == 1 for ids in ids_of.values()) and all(
            len(names) == 1 for names in names_of.values()):
        return {label: next(iter(ids)) for label, ids in ids_of.items()}
    summary.categories_renumbered = True
    return {label: number for number, label in enumerate(sorted(ids_of), start=1)}


def _file_name(source_ref: str, s3_prefix: str | None) -> str:
    if s3_prefix is not None:
        folder = s3_prefix.rstrip("/") + "/"
        if source_ref.startswith(folder):
            return source_ref[len(folder):]
    return parse_s3_uri(source_ref, what="source-ref")[1]


def manifest_to_coco(lines: Iterable[tuple[str, str]], options: CocoExportOptions | None = None
                     ) -> tuple[dict[str, Any], CocoExportSummary]:
    """(where, JSON Line text) pairs -> (COCO document, summary). `where` names the line in
    errors ("train.manifest line 3")."""
    options = options or CocoExportOptions()
    if options.s3_prefix is not None:
        parse_s3_uri(options.s3_prefix, what="S3 prefix")
    summary = CocoExportSummary()
    images: list[ExportImage] = []
    seen: set[str] = set()
    for where, text in lines:
        if not text.strip():
            continue
        line = parse_json_object(text, what=where)
        if "source-ref" not in line:
            raise ConversionError(f"{where}: no 'source-ref'")
        source_ref = check_source_ref(line["source-ref"], what=f"{where} source-ref")
        if source_ref in seen:
            summary.duplicates_skipped += 1
            continue
        seen.add(source_ref)
        image = export_image(line, summary)
        if image is not None:
            images.append(image)

    category_ids = _category_ids(images, summary)
    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, image in enumerate(images, start=1):
        entry: dict[str, Any] = {
            "id": image_id, "file_name": _file_name(image.source_ref, options.s3_prefix),
            "width": image.width, "height": image.height, "coco_url": image.source_ref}
        if image.date_captured is not None:
            entry["date_captured"] = image.date_captured
        coco_images.append(entry)
        for box in image.boxes:
            left, top, width, height = box.bbox
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": category_ids[box.label],
                                "bbox": [left, top, width, height], "area": width * height,
                                "iscrowd": 0})
    categories = [{"id": ident, "name": label}
                  for label, ident in sorted(category_ids.items(), key=lambda item: item[1])]
    summary.images, summary.boxes, summary.categories = (
        len(coco_images), len(annotations), len(categories))
    now = as_utc_naive(options.now or utc_now())
    document = {
        "info": {"description": options.description, "version": "1.0", "year": now.year,
                 "contributor": "labelgate",
                 "date_created": now.strftime(COCO_DATE_FORMAT)},
        "licenses": [],
        "images": coco_images,
        "annotations": annotations,
        "categories": categories,
    }
    return document, summary


def write_coco(document: dict[str, Any], output: str | os.PathLike[str]) -> None:
    """Write the COCO JSON beside its final name, then rename: never a half-written file."""
    path = Path(output)
    fd, name = temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, separators=(",", ":"))
            handle.write("\n")
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def manifest_file_lines(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    source = os.fspath(path)
    for number, text in read_text_lines(path):
        yield f"{source} line {number}", text


def dataset_entry_lines(client: Any, dataset_arn: str) -> Iterator[tuple[str, str]]:
    """Every entry of a dataset, following ListDatasetEntries' pages (`client` is a
    `labelgate.client.Client`, or anything with its `paginate`)."""
    number = 0
    for page in client.paginate("ListDatasetEntries", {"DatasetArn": dataset_arn}):
        for entry in page.get("DatasetEntries", ()):
            number += 1
            yield f"dataset entry {number}", entry


def export_manifest_file(path: str | os.PathLike[str], output: str | os.PathLike[str],
                         options: CocoExportOptions | None = None) -> CocoExportSummary:
    document, summary = manifest_to_coco(manifest_file_lines(path), options)
    write_coco(document, output)
    return summary


def export_dataset(client: Any, dataset_arn: str, output: str | os.PathLike[str],
                   options: CocoExportOptions | None = None) -> CocoExportSummary:
    document, summary = manifest_to_coco(dataset_entry_lines(client, dataset_arn), options)
    write_coco(document, output)
    return summary
