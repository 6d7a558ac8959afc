"""COCO instances JSON -> bounding-box manifest (datasets.md §5.1)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from labelgate.converters import CocoOptions, ConversionError, convert_coco
from tests.converters.samples import coco, shelf
from tests.converters.service_parser import service_entries

#: The spec's invented example (datasets.md §5.1), input and expected line, verbatim.
SPEC_IMAGE = {"id": 7, "file_name": "shelf_07.jpg", "width": 800, "height": 600,
              "date_captured": "2021-03-04 12:00:00"}
SPEC_ANNOTATION = {"image_id": 7, "category_id": 5, "bbox": [10.5, 20, 100, 50]}
SPEC_CATEGORY = {"id": 5, "name": "cereal_box"}
SPEC_LINE = (
    '{"source-ref":"s3://acme-vision/coco/shelf_07.jpg","bounding-box":{"annotations":'
    '[{"left":10.5,"top":20,"width":100,"height":50,"class_id":5}],"image_size":'
    '[{"width":800,"depth":3,"height":600}]},"bounding-box-metadata":{"job-name":"shelf-job",'
    '"class-map":{"5":"cereal_box"},"human-annotated":"yes","objects":[{"confidence":1}],'
    '"creation-date":"2021-03-04T12:00:00","type":"groundtruth/object-detection"}}'
)
FIXED_NOW = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def convert(tmp_path: Path, document: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    options.setdefault("s3_prefix", "s3://bucket/images/")
    options.setdefault("default_date", FIXED_NOW)
    out = tmp_path / "out.manifest"
    convert_coco(document, out, CocoOptions(**options))
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_the_spec_example_gives_the_spec_line_byte_for_byte(tmp_path):
    out = tmp_path / "shelf.manifest"
    convert_coco(coco([SPEC_IMAGE], [SPEC_ANNOTATION], [SPEC_CATEGORY]), out,
                 CocoOptions(s3_prefix="s3://acme-vision/coco/", job_name="shelf-job"))
    assert out.read_text() == SPEC_LINE + "\n"
    (entry,) = service_entries(out)
    assert entry.box_labels == {"cereal_box"}


def test_one_line_per_image_in_images_order_with_boxes_in_annotations_order(tmp_path):
    lines = convert(tmp_path, shelf())
    assert [line["source-ref"] for line in lines] == [
        "s3://bucket/images/a.jpg", "s3://bucket/images/sub/b.jpg", "s3://bucket/images/c.jpg"]
    boxes = lines[0]["bounding-box"]["annotations"]
    assert boxes == [{"left": 1, "top": 2, "width": 30, "height": 40, "class_id": 3},
                     {"left": 300, "top": 200, "width": 50, "height": 60, "class_id": 9}]


def test_class_ids_are_category_ids_unchanged_and_class_map_holds_only_those_used(tmp_path):
    first, second, _ = convert(tmp_path, shelf())
    assert first["bounding-box-metadata"]["class-map"] == {"3": "capacitor", "9": "led"}
    assert second["bounding-box-metadata"]["class-map"] == {"9": "led"}
    assert {b["class_id"] for b in second["bounding-box"]["annotations"]} == {9}


def test_one_confidence_1_object_per_box(tmp_path):
    first, _, third = convert(tmp_path, shelf())
    assert first["bounding-box-metadata"]["objects"] == [{"confidence": 1}] * 2
    assert third["bounding-box-metadata"]["objects"] == []


def test_coordinates_pass_through_unchanged_floats_included(tmp_path):
    _, second, _ = convert(tmp_path, shelf())
    box = second["bounding-box"]["annotations"][0]
    assert (box["left"], box["top"], box["width"], box["height"]) == (100.25, 50.5, 60, 70.75)
    assert isinstance(second["bounding-box"]["annotations"][1]["left"], int)


def test_image_size_is_a_one_element_array_with_depth_3(tmp_path):
    _, second, _ = convert(tmp_path, shelf())
    assert second["bounding-box"]["image_size"] == [{"width": 1024, "depth": 3, "height": 768}]


def test_an_image_without_annotations_is_written_with_empty_lists(tmp_path):
    *_, third = convert(tmp_path, shelf())
    assert third["bounding-box"]["annotations"] == []
    assert third["bounding-box-metadata"]["objects"] == []
    assert third["bounding-box-metadata"]["class-map"] == {}


def test_metadata_type_human_annotated_and_default_job_name(tmp_path):
    first, *_ = convert(tmp_path, shelf())
    metadata = first["bounding-box-metadata"]
    assert metadata["type"] == "groundtruth/object-detection"
    assert metadata["human-annotated"] == "yes"
    assert metadata["job-name"] == "labeling-job/bounding-box"


def test_attribute_name_and_job_name_are_configurable(tmp_path):
    first, *_ = convert(tmp_path, shelf(), attribute="parts", job_name="labeling-job/parts")
    assert set(first) == {"source-ref", "parts", "parts-metadata"}
    assert first["parts-metadata"]["job-name"] == "labeling-job/parts"


def test_an_attribute_name_that_is_a_line_key_is_rejected(tmp_path):
    with pytest.raises(ConversionError, match="'source-ref' cannot be a label attribute"):
        convert(tmp_path, shelf(), attribute="source-ref")


def test_the_output_passes_the_services_parser(tmp_path):
    convert(tmp_path, shelf())
    entries = service_entries(tmp_path / "out.manifest")
    assert [e.box_labels for e in entries] == [{"capacitor", "led"}, {"led"}, set()]
    assert entries[2].warnings == {"WARNING_NO_ATTRIBUTE_ANNOTATIONS", "WARNING_NO_ANNOTATIONS"}


# -- source-ref ---------------------------------------------------------------------------------


def test_an_s3_coco_url_is_the_source_ref_as_is(tmp_path):
    document = shelf()
    document["images"][0]["coco_url"] = "s3://other-bucket/raw/a-original.jpg"
    document["images"][1]["coco_url"] = "http://images.cocodataset.org/val2017/b.jpg"
    first, second, _ = convert(tmp_path, document)
    assert first["source-ref"] == "s3://other-bucket/raw/a-original.jpg"
    assert second["source-ref"] == "s3://bucket/images/sub/b.jpg"  # not s3: prefix + file_name


@pytest.mark.parametrize("prefix", ["s3://bucket/images", "s3://bucket/images/"])
def test_the_prefix_and_file_name_are_joined_by_one_slash(tmp_path, prefix):
    first, *_ = convert(tmp_path, shelf(), s3_prefix=prefix)
    assert first["source-ref"] == "s3://bucket/images/a.jpg"


def test_a_bucket_alone_is_a_prefix(tmp_path):
    first, *_ = convert(tmp_path, shelf(), s3_prefix="s3://bucket")
    assert first["source-ref"] == "s3://bucket/a.jpg"


def test_without_a_prefix_every_image_needs_an_s3_coco_url(tmp_path):
    document = shelf()
    for image in document["images"]:
        image["coco_url"] = f"s3://bucket/x/{image['file_name']}"
    assert convert(tmp_path, document, s3_prefix=None)[0]["source-ref"] == "s3://bucket/x/a.jpg"
    document["images"][2]["coco_url"] = "https://example.com/c.jpg"
    with pytest.raises(ConversionError, match=r"image 3 \(c.jpg\).*--s3-prefix"):
        convert(tmp_path, document, s3_prefix=None)


def test_a_prefix_that_is_not_s3_is_rejected(tmp_path):
    with pytest.raises(ConversionError, match="S3 prefix: 'https://x/' is not an s3:// URI"):
        convert(tmp_path, shelf(), s3_prefix="https://x/")


# -- creation-date ------------------------------------------------------------------------------


@pytest.mark.parametrize(("date_captured", "creation_date"), [
    ("2021-03-04 12:00:00", "2021-03-04T12:00:00"),
    ("2021-03-04T12:00:00", "2021-03-04T12:00:00"),  # ISO 8601 too
    ("2021-03-04T14:00:00+02:00", "2021-03-04T12:00:00"),  # in UTC
    ("2021-03-04T12:00:00.250Z", "2021-03-04T12:00:00"),
])
def test_date_captured_becomes_the_creation_date(tmp_path, date_captured, creation_date):
    document = coco([{**SPEC_IMAGE, "date_captured": date_captured}], [], [SPEC_CATEGORY])
    (line,) = convert(tmp_path, document)
    assert line["bounding-box-metadata"]["creation-date"] == creation_date


@pytest.mark.parametrize("date_captured", [None, "", "last tuesday", 20210304])
def test_a_missing_or_unreadable_date_falls_back_to_the_conversion_time(tmp_path,
                                                                         date_captured):
    image = {k: v for k, v in SPEC_IMAGE.items() if k != "date_captured"}
    if date_captured is not None:
        image["date_captured"] = date_captured
    out = tmp_path / "out.manifest"
    summary = convert_coco(coco([image], [], []), out,
                           CocoOptions(s3_prefix="s3://b/", default_date=FIXED_NOW))
    assert json.loads(out.read_text())["bounding-box-metadata"]["creation-date"] == (
        "2024-01-02T03:04:05")
    assert summary.dates_defaulted == 1
    assert "creation-date is the conversion time" in summary.describe()[-1]


# -- what is skipped, what is an error ------------------------------------------------------------


def test_segmentation_only_annotations_are_skipped_and_counted(tmp_path):
    document = coco([SPEC_IMAGE], [
        SPEC_ANNOTATION,
        {"image_id": 7, "category_id": 5, "segmentation": [[1, 1, 5, 1, 5, 5]]},
        {"image_id": 7, "category_id": 5, "bbox": [], "segmentation": {"counts": "x"}},
    ], [SPEC_CATEGORY])
    out = tmp_path / "out.manifest"
    summary = convert_coco(document, out, CocoOptions(s3_prefix="s3://b/"))
    assert len(json.loads(out.read_text())["bounding-box"]["annotations"]) == 1
    assert summary.segmentation_only_skipped == 2
    assert (summary.images, summary.boxes, dict(summary.labels)) == (1, 1, {"cereal_box": 1})


def test_the_summary_counts_images_boxes_and_labels(tmp_path):
    out = tmp_path / "out.manifest"
    summary = convert_coco(shelf(), out, CocoOptions(s3_prefix="s3://b/"))
    assert (summary.images, summary.images_without_boxes, summary.boxes) == (3, 1, 4)
    assert summary.labels == {"led": 3, "capacitor": 1}
    assert summary.describe() == ["3 images (1 without boxes), 4 boxes, 2 labels"]


def _broken(change) -> dict[str, Any]:
    document = copy.deepcopy(shelf())
    change(document)
    return document


@pytest.mark.parametrize(("document", "message"), [
    ([], "the top level must be an object"),
    (_broken(lambda d: d.pop("annotations")), "no 'annotations' section"),
    (_broken(lambda d: d.update(images={})), "'images' must be a list"),
    (_broken(lambda d: d["images"][1].pop("width")), r"images\[1\] \(id 2\) is missing 'width'"),
    (_broken(lambda d: d["images"][0].update(height=0)), "height must be a positive number"),
    (_broken(lambda d: d["images"][0].update(file_name="")), "file_name must be a non-empty"),
    (_broken(lambda d: d["images"][2].update(id=1)), "duplicate image id 1"),
    (_broken(lambda d: d["images"].append("x")), r"images\[3\] must be an object"),
    (_broken(lambda d: d["categories"][0].pop("name")), "is missing 'name'"),
    (_broken(lambda d: d["categories"][0].update(id="3")), "id must be an integer"),
    (_broken(lambda d: d["categories"][2].update(id=9)), "duplicate category id 9"),
    (_broken(lambda d: d["annotations"][1].pop("image_id")), "is missing 'image_id'"),
    (_broken(lambda d: d["annotations"][0].pop("bbox")), r"annotations\[0\] \(id 10\) is "
                                                         "missing 'bbox'"),
    (_broken(lambda d: d["annotations"][0].update(bbox=[1, 2, 3])), "bbox must be"),
    (_broken(lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4])), "bbox must be"),
    (_broken(lambda d: d["annotations"][3].update(image_id=99)),
     r"annotations\[3\] \(id 13\): image_id 99 is not in images"),
    (_broken(lambda d: d["annotations"][2].update(category_id=1)),
     "category_id 1 is not in categories"),
])
def test_malformed_coco_is_a_clear_error_and_writes_nothing(tmp_path, document, message):
    out = tmp_path / "out.manifest"
    out.write_text("an older manifest\n")
    with pytest.raises(ConversionError, match=message):
        convert_coco(document, out, CocoOptions(s3_prefix="s3://b/"))
    assert out.read_text() == "an older manifest\n"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.manifest"]  # no temporary left


def test_a_file_that_is_not_json_or_cannot_be_read(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConversionError, match=r"bad\.json is not valid JSON"):
        convert_coco(bad, tmp_path / "o.manifest")
    with pytest.raises(ConversionError, match=r"cannot read .*missing\.json"):
        convert_coco(tmp_path / "missing.json", tmp_path / "o.manifest")


def test_a_coco_file_with_no_images_gives_no_manifest(tmp_path):
    with pytest.raises(ConversionError, match="no images"):
        convert_coco(coco([], [], []), tmp_path / "o.manifest")
    assert not (tmp_path / "o.manifest").exists()


def test_reads_a_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "instances.json"
    path.write_text("\ufeff" + json.dumps(coco([SPEC_IMAGE], [SPEC_ANNOTATION], [SPEC_CATEGORY])),
                    encoding="utf-8")
    convert_coco(path, tmp_path / "o.manifest", CocoOptions(s3_prefix="s3://acme-vision/coco/",
                                                            job_name="shelf-job"))
    assert (tmp_path / "o.manifest").read_text() == SPEC_LINE + "\n"


def test_non_ascii_labels_are_written_as_utf8_and_stay_on_one_line(tmp_path):
    document = coco([SPEC_IMAGE], [SPEC_ANNOTATION], [{"id": 5, "name": "Müsli\u2028box"}])
    out = tmp_path / "o.manifest"
    convert_coco(document, out, CocoOptions(s3_prefix="s3://b/"))
    text = out.read_text(encoding="utf-8")
    assert "Müsli\\u2028box" in text and text.count("\n") == 1
    assert service_entries(out)[0].box_labels == {"Müsli\u2028box"}


def test_a_category_name_longer_than_256_characters_is_an_error(tmp_path):
    document = coco([SPEC_IMAGE], [SPEC_ANNOTATION], [{"id": 5, "name": "x" * 257}])
    with pytest.raises(ConversionError, match="longer than 256 characters"):
        convert(tmp_path, document)
    convert(tmp_path, coco([SPEC_IMAGE], [SPEC_ANNOTATION], [{"id": 5, "name": "x" * 256}]))


def test_more_than_50_boxes_on_an_image_are_written_with_a_warning(tmp_path):
    boxes = [{"image_id": 7, "category_id": 5, "bbox": [n, n, 5, 5]} for n in range(51)]
    out = tmp_path / "o.manifest"
    summary = convert_coco(coco([SPEC_IMAGE], boxes, [SPEC_CATEGORY]), out,
                           CocoOptions(s3_prefix="s3://b/"))
    assert len(json.loads(out.read_text())["bounding-box"]["annotations"]) == 51
    assert summary.describe()[-1] == ("warning: 1 image with more than 50 boxes "
                                      "(ERROR_TOO_MANY_BOUNDING_BOXES on import)")
