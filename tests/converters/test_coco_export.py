"""A dataset (manifest file or live entries) -> COCO instances JSON, and round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelgate.converters import (
    CocoExportOptions,
    CocoOptions,
    ConversionError,
    convert_coco,
    export_dataset,
    export_manifest_file,
    manifest_to_coco,
)
from tests.converters.samples import shelf
from tests.converters.service_parser import service_entries

PREFIX = "s3://bucket/images/"


def detection(ref: str, boxes: list[tuple[int, list[float]]], class_map: dict[str, str], *,
              attribute: str = "bounding-box", size: Any = None,
              created: str = "2021-03-04T12:00:00") -> dict[str, Any]:
    return {
        "source-ref": ref,
        attribute: {
            "annotations": [{"left": b[0], "top": b[1], "width": b[2], "height": b[3],
                             "class_id": cid} for cid, b in boxes],
            "image_size": size or [{"width": 640, "height": 480, "depth": 3}]},
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1} for _ in boxes], "class-map": class_map,
            "type": "groundtruth/object-detection", "human-annotated": "yes",
            "creation-date": created, "job-name": "j"}}


def classification(ref: str, label: str) -> dict[str, Any]:
    return {"source-ref": ref, label: 1, f"{label}-metadata": {
        "confidence": 1, "class-name": label, "human-annotated": "yes",
        "creation-date": "2021-01-01T00:00:00", "type": "groundtruth/image-classification"}}


def export(*lines: dict[str, Any] | str, **options: Any) -> tuple[dict[str, Any], Any]:
    texts = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return manifest_to_coco(((f"line {n}", t) for n, t in enumerate(texts, 1)),
                            CocoExportOptions(**options))


def boxes_by_file(coco: dict[str, Any]) -> dict[str, list[tuple[str, list[float]]]]:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    files = {i["id"]: i["file_name"] for i in coco["images"]}
    out: dict[str, list[tuple[str, list[float]]]] = {name: [] for name in files.values()}
    for a in coco["annotations"]:
        out[files[a["image_id"]]].append((names[a["category_id"]], a["bbox"]))
    return out


# -- round trips ------------------------------------------------------------------------------


def test_coco_to_manifest_to_coco_gives_the_same_boxes_and_categories(tmp_path):
    original = shelf()
    manifest = tmp_path / "shelf.manifest"
    convert_coco(original, manifest, CocoOptions(s3_prefix=PREFIX))
    back = tmp_path / "back.json"
    summary = export_manifest_file(manifest, back, CocoExportOptions(s3_prefix=PREFIX))
    coco = json.loads(back.read_text())

    used = {3, 9}  # "unused" (id 4) has no box, so no manifest line mentions it
    assert coco["categories"] == [c if "supercategory" not in c else
                                  {"id": c["id"], "name": c["name"]}
                                  for c in original["categories"] if c["id"] in used]
    assert boxes_by_file(coco) == boxes_by_file(original)
    assert [(i["file_name"], i["width"], i["height"], i["date_captured"])
            for i in coco["images"]] == [
        (i["file_name"], i["width"], i["height"], i["date_captured"])
        for i in original["images"]]
    assert not summary.categories_renumbered
    assert summary.describe() == ["3 images, 4 boxes, 2 categories (ids kept from class-maps)"]


def test_manifest_to_coco_to_manifest_is_the_same_manifest(tmp_path):
    first = tmp_path / "first.manifest"
    convert_coco(shelf(), first, CocoOptions(s3_prefix=PREFIX))
    coco = tmp_path / "coco.json"
    export_manifest_file(first, coco, CocoExportOptions(s3_prefix=PREFIX))
    second = tmp_path / "second.manifest"
    convert_coco(coco, second)  # coco_url is the s3:// source-ref now: no prefix needed
    assert second.read_text() == first.read_text()


def test_dataset_entries_as_the_service_stores_them_export_the_same(tmp_path):
    manifest = tmp_path / "m"
    convert_coco(shelf(), manifest, CocoOptions(s3_prefix=PREFIX))
    stored = [entry.line for entry in service_entries(manifest)]  # with cl-metadata, warnings
    from_file, _ = manifest_to_coco((("l", t) for t in manifest.read_text().splitlines()),
                                    CocoExportOptions(s3_prefix=PREFIX))
    from_service, _ = manifest_to_coco((("e", t) for t in stored),
                                       CocoExportOptions(s3_prefix=PREFIX))
    assert from_service["images"] == from_file["images"]
    assert from_service["annotations"] == from_file["annotations"]


# -- the mapping ------------------------------------------------------------------------------


def test_images_annotations_and_categories_fields():
    coco, _ = export(detection("s3://b/p/x.jpg", [(2, [1, 2, 30, 40]), (0, [5, 5, 2.5, 4])],
                               {"0": "nut", "2": "bolt"}))
    assert coco["images"] == [{"id": 1, "file_name": "p/x.jpg", "width": 640, "height": 480,
                               "coco_url": "s3://b/p/x.jpg",
                               "date_captured": "2021-03-04 12:00:00"}]
    assert coco["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 30, 40], "area": 1200,
         "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 0, "bbox": [5, 5, 2.5, 4], "area": 10.0,
         "iscrowd": 0}]
    assert coco["categories"] == [{"id": 0, "name": "nut"}, {"id": 2, "name": "bolt"}]
    assert set(coco) == {"info", "licenses", "images", "annotations", "categories"}


def test_file_name_is_relative_to_the_prefix_when_it_matches_else_the_key():
    coco, _ = export(detection("s3://b/imgs/a/x.jpg", [], {}),
                     detection("s3://b/other/y.jpg", [], {}), s3_prefix="s3://b/imgs")
    assert [i["file_name"] for i in coco["images"]] == ["a/x.jpg", "other/y.jpg"]


def test_an_image_without_boxes_is_kept():
    coco, summary = export(detection("s3://b/x.jpg", [], {}))
    assert len(coco["images"]) == 1 and coco["annotations"] == []
    assert summary.images == 1


def test_image_size_as_a_bare_object_is_read_too():
    coco, _ = export(detection("s3://b/x.jpg", [], {}, size={"width": 10, "height": 20}))
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (10, 20)


def test_an_unreadable_creation_date_leaves_date_captured_out():
    coco, _ = export(detection("s3://b/x.jpg", [], {}, created="yesterday"))
    assert "date_captured" not in coco["images"][0]


def test_boxes_of_several_attributes_on_one_line_are_one_image():
    line = detection("s3://b/x.jpg", [(0, [1, 1, 5, 5])], {"0": "nut"})
    line.update({k.replace("bounding-box", "more"): v for k, v in
                 detection("s3://b/x.jpg", [(1, [2, 2, 5, 5])], {"1": "bolt"}).items()
                 if k != "source-ref"})
    coco, _ = export(line)
    assert len(coco["images"]) == 1
    assert [a["category_id"] for a in coco["annotations"]] == [0, 1]


# -- categories -------------------------------------------------------------------------------


def test_inconsistent_class_ids_are_renumbered_by_label_name_whatever_the_line_order():
    lines = [detection("s3://b/1.jpg", [(0, [1, 1, 5, 5])], {"0": "dog"}),
             detection("s3://b/2.jpg", [(0, [1, 1, 5, 5]), (1, [2, 2, 5, 5])],
                       {"0": "cat", "1": "dog"})]
    coco, summary = export(*lines)
    reverse, _ = export(*reversed(lines))
    assert coco["categories"] == reverse["categories"] == [{"id": 1, "name": "cat"},
                                                           {"id": 2, "name": "dog"}]
    assert summary.categories_renumbered
    assert boxes_by_file(coco)["1.jpg"] == [("dog", [1, 1, 5, 5])]


def test_one_id_for_two_labels_is_renumbered_too():
    coco, summary = export(detection("s3://b/1.jpg", [(5, [1, 1, 5, 5])], {"5": "a"}),
                           detection("s3://b/2.jpg", [(5, [1, 1, 5, 5])], {"5": "b"}))
    assert summary.categories_renumbered
    assert [c["name"] for c in coco["categories"]] == ["a", "b"]


# -- what is skipped --------------------------------------------------------------------------


def test_image_level_labels_are_skipped_and_counted():
    mixed = {**detection("s3://b/1.jpg", [(0, [1, 1, 5, 5])], {"0": "nut"}),
             **{k: v for k, v in classification("s3://b/1.jpg", "indoor").items()
                if k != "source-ref"}}
    coco, summary = export(mixed, classification("s3://b/2.jpg", "outdoor"),
                           {"source-ref": "s3://b/3.jpg"})
    assert [i["coco_url"] for i in coco["images"]] == ["s3://b/1.jpg"]
    assert [c["name"] for c in coco["categories"]] == ["nut"]
    assert (summary.image_level_labels_skipped, summary.images_skipped) == (2, 2)
    assert "skipped 2 images without a bounding-box attribute" in summary.describe()


def test_boxes_and_attributes_the_service_flagged_or_that_cannot_be_read_are_skipped():
    flagged = detection("s3://b/1.jpg", [(0, [1, 1, 5, 5]), (0, [900, 1, 5, 5]),
                                         (7, [1, 1, 5, 5])], {"0": "nut"})
    flagged["bounding-box"]["annotations"][1]["cl-errors"] = [
        {"code": "ERROR_INVALID_BOUNDING_BOX", "message": "..."}]
    whole = detection("s3://b/2.jpg", [(0, [1, 1, 5, 5])], {"0": "nut"})
    whole["bounding-box-metadata"]["cl-errors"] = [{"code": "ERROR_X", "message": "..."}]
    no_size = detection("s3://b/3.jpg", [(0, [1, 1, 5, 5])], {"0": "nut"}, size=[{}])
    coco, summary = export(flagged, whole, no_size)
    assert [a["bbox"] for a in coco["annotations"]] == [[1, 1, 5, 5]]
    assert (summary.boxes_skipped, summary.attributes_skipped, summary.images_skipped) == (
        2, 2, 2)


def test_a_repeated_source_ref_keeps_its_first_line():
    coco, summary = export(detection("s3://b/1.jpg", [(0, [1, 1, 5, 5])], {"0": "first"}),
                           detection("s3://b/1.jpg", [(0, [1, 1, 5, 5])], {"0": "second"}))
    assert [c["name"] for c in coco["categories"]] == ["first"]
    assert summary.duplicates_skipped == 1


def test_blank_lines_are_ignored():
    coco, _ = export("", detection("s3://b/1.jpg", [], {}), "  ")
    assert len(coco["images"]) == 1


@pytest.mark.parametrize(("line", "message"), [
    ("{nope", "line 1 is not JSON"),
    ("[]", "line 1 is not a JSON object"),
    ({"x": 1}, "line 1: no 'source-ref'"),
    ({"source-ref": "http://b/x.jpg"}, "line 1 source-ref: 'http://b/x.jpg' is not an s3://"),
])
def test_a_line_the_service_would_drop_is_an_error(line, message):
    with pytest.raises(ConversionError, match=message):
        export(line)


def test_an_error_leaves_an_existing_output_untouched(tmp_path):
    manifest = tmp_path / "bad.manifest"
    manifest.write_text(json.dumps(detection("s3://b/1.jpg", [], {})) + "\n{oops\n")
    out = tmp_path / "coco.json"
    out.write_text("old")
    with pytest.raises(ConversionError, match=r"bad\.manifest line 2 is not JSON"):
        export_manifest_file(manifest, out)
    assert out.read_text() == "old"


# -- a live dataset ---------------------------------------------------------------------------


class PagingClient:
    """Stands in for labelgate.client.Client: `paginate` over ListDatasetEntries."""

    def __init__(self, entries: list[str], page_size: int) -> None:
        self.entries, self.page_size = entries, page_size
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def paginate(self, operation: str, params: dict[str, Any]):
        self.calls.append((operation, params))
        for start in range(0, len(self.entries), self.page_size):
            yield {"DatasetEntries": self.entries[start:start + self.page_size]}


def test_export_dataset_reads_every_page(tmp_path):
    entries = [json.dumps(detection(f"s3://b/{n}.jpg", [(1, [n, n, 5, 5])], {"1": "nut"}))
               for n in range(7)]
    client = PagingClient(entries, page_size=3)
    out = tmp_path / "coco.json"
    summary = export_dataset(client, "arn:ds", out)
    coco = json.loads(out.read_text())
    assert client.calls == [("ListDatasetEntries", {"DatasetArn": "arn:ds"})]
    assert [a["bbox"][0] for a in coco["annotations"]] == list(range(7))
    assert summary.images == 7
