"""The manifest reader, the dataset-entries flavour of the line validator (`cl-errors`,
`cl-metadata`) and the dataset import's tally (datasets.md §4, §7; training.md §2.5, §4.2).

The per-code corpus, with images, is test_validation_corpus.py."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.json_lines import CheckedLine, LineValidator
from labelgate.backends.local.validation.manifests import (
    ImportTally,
    ManifestFileError,
    ManifestLimits,
    ManifestReader,
    iter_entries,
)

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"


def classification(ref: str = "s3://bkt/img.jpg", *labels: str, attr: str = "label") -> dict:
    line: dict[str, Any] = {"source-ref": ref}
    for i, label in enumerate(labels or ("cat",)):
        line[f"{attr}{i}"] = 1
        line[f"{attr}{i}-metadata"] = {
            "confidence": 1,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2023-05-02T09:14:51.208",
            "type": CLASSIFICATION,
            "job-name": "labeling-job/x",
        }
    return line


def detection(
    ref: str = "s3://bkt/board.jpg",
    boxes: list[tuple[int, int, int, int, int]] | None = None,
    class_map: dict[str, str] | None = None,
    size: Any = None,
) -> dict:
    """Boxes as (class_id, left, top, width, height) on a 1024x768 image by default."""
    boxes = [(0, 120, 64, 88, 40), (2, 400, 310, 35, 35), (0, 610, 500, 90, 42)] \
        if boxes is None else boxes
    size = [{"width": 1024, "height": 768, "depth": 3}] if size is None else size
    return {
        "source-ref": ref,
        "bb": {
            "image_size": size,
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {"0": "capacitor", "2": "led"} if class_map is None else class_map,
            "type": DETECTION,
            "human-annotated": "yes",
            "creation-date": "2023-05-02T10:00:00",
            "job-name": "labeling-job/bb",
        },
    }


def parse_entry(text: str | None) -> CheckedLine:
    """One line in the dataset-entries flavour, without image checks."""
    validator = LineValidator(error_key="cl-errors")
    return validator.finish(validator.begin(1, text))


def parse(obj: dict) -> CheckedLine:
    return parse_entry(json.dumps(obj))


def codes(entry: CheckedLine) -> list[str]:
    return [issue.code for issue in entry.errors]


# --- well-formed lines ------------------------------------------------------------------------


def test_image_level_line_gives_its_label_without_boxes():
    entry = parse(classification("s3://bkt/a.jpg", "spur_gear"))
    assert entry.source_ref == "s3://bkt/a.jpg"
    assert entry.labels == {"spur_gear": 0}
    assert entry.is_labeled and not entry.has_errors and not entry.warnings


def test_multi_label_line_gives_one_label_per_attribute_pair():
    entry = parse(classification("s3://bkt/b.png", "robin", "perched"))
    assert entry.labels == {"robin": 0, "perched": 0}


def test_bounding_box_line_counts_boxes_per_label_through_the_class_map():
    entry = parse(detection())
    assert entry.labels == {"capacitor": 2, "led": 1}
    assert not entry.has_errors


def test_mixed_line_merges_image_level_and_box_labels():
    obj = detection()
    obj.update({k: v for k, v in classification("x", "capacitor").items() if k != "source-ref"})
    assert parse(obj).labels == {"capacitor": 2, "led": 1}


def test_image_size_object_form_is_accepted():
    entry = parse(detection(size={"width": 1024, "height": 768, "depth": 3}))
    assert entry.labels == {"capacitor": 2, "led": 1}


def test_stored_line_is_compact_json_with_cl_metadata():
    entry = parse(classification("s3://bkt/a.jpg", "cat"))
    stored = json.loads(entry.output_line)
    assert stored["cl-metadata"] == {"is_labeled": True}
    assert " " not in entry.output_line.replace("labeling-job/x", "")
    assert list(stored)[:3] == ["source-ref", "label0", "label0-metadata"]  # input order kept


def test_line_separators_inside_strings_stay_escaped():
    entry = parse(classification("s3://bkt/a\u2028b.jpg", "cat"))
    assert "\u2028" not in entry.output_line
    assert json.loads(entry.output_line)["source-ref"] == "s3://bkt/a\u2028b.jpg"


# --- keys the service writes are stripped and recomputed ----------------------------------------


def test_service_keys_are_stripped_and_recomputed():
    obj = detection()
    stale = [{"code": "ERROR_STALE", "message": "old"}]
    obj["cl-errors"] = stale
    obj["errors"] = stale
    obj["warnings"] = stale
    obj["cl-metadata"] = {"is_labeled": False}
    obj["bb"]["cl-errors"] = stale
    obj["bb"]["annotations"][0]["errors"] = stale
    obj["bb-metadata"]["cl-errors"] = stale
    entry = parse(obj)
    assert "ERROR_STALE" not in entry.output_line
    assert json.loads(entry.output_line)["cl-metadata"] == {"is_labeled": True}
    assert not entry.has_errors


def test_an_attribute_named_errors_is_a_label_attribute_not_a_service_key():
    obj = classification("s3://bkt/a.jpg", "cat", attr="x")
    obj["errors"] = obj.pop("x0")
    obj["errors-metadata"] = obj.pop("x0-metadata")
    entry = parse(obj)
    assert entry.labels == {"cat": 0}
    assert "errors-metadata" in json.loads(entry.output_line)


def test_round_trip_of_a_listed_line_is_stable():
    first = parse(detection(boxes=[(0, -5, 0, 10, 10), (0, 1, 1, 10, 10)]))
    second = parse_entry(first.output_line)
    assert second.output_line == first.output_line
    assert codes(second) == codes(first) == ["ERROR_INVALID_BOUNDING_BOX"]


# --- terminal content errors: the dataset drops the line (datasets.md §7.2) -----------------------


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("not json", "ERROR_INVALID_JSON_LINE"),
        ("[1, 2]", "ERROR_INVALID_JSON_LINE"),
        ('{"source-ref": "s3://bkt/a.jpg", "x": NaN}', "ERROR_INVALID_JSON_LINE"),
        ("", "ERROR_INVALID_JSON_LINE"),
        ('{"label": 1}', "ERROR_MISSING_SOURCE_REF"),
        ('{"source-ref": "https://bkt/a.jpg"}', "ERROR_INVALID_SOURCE_REF_FORMAT"),
        ('{"source-ref": "s3://bkt"}', "ERROR_INVALID_SOURCE_REF_FORMAT"),
        ('{"source-ref": 7}', "ERROR_INVALID_SOURCE_REF_FORMAT"),
    ],
)
def test_lines_without_a_usable_source_ref_are_flagged_for_dropping(line, code):
    entry = parse_entry(line)
    assert codes(entry) == [code]
    assert entry.unreadable_source and entry.status == "invalid"


def test_line_over_100000_characters_is_an_invalid_json_line():
    obj = classification()
    obj["padding"] = "x" * 100_000
    entry = parse(obj)
    assert codes(entry) == ["ERROR_INVALID_JSON_LINE"] and entry.unreadable_source


def test_an_unreadable_line_is_an_invalid_json_line():
    assert codes(parse_entry(None)) == ["ERROR_INVALID_JSON_LINE"]


# --- non-terminal errors and warnings (datasets.md §7.3) ------------------------------------------


def test_unannotated_record_warns_and_is_unlabeled():
    entry = parse({"source-ref": "s3://bkt/a.jpg"})
    assert [w.code for w in entry.warnings] == ["WARNING_UNANNOTATED_RECORD"]
    assert not entry.is_labeled and not entry.has_errors
    assert json.loads(entry.output_line)["warnings"][0]["message"] == "Record is unannotated."


def test_attribute_without_metadata_is_no_label_attributes():
    entry = parse({"source-ref": "s3://bkt/a.jpg", "bounding-box": {"annotations": []}})
    assert codes(entry) == ["ERROR_NO_LABEL_ATTRIBUTES"]
    assert json.loads(entry.output_line)["cl-errors"][0]["code"] == "ERROR_NO_LABEL_ATTRIBUTES"


def test_unsupported_use_case_type_goes_into_the_metadata_cl_errors():
    obj = classification("s3://bkt/a.jpg", "cat", attr="BB")
    obj["BB0-metadata"]["type"] = "groundtruth/wrongtype"
    entry = parse(obj)
    assert codes(entry) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    stored = json.loads(entry.output_line)
    (meta_error,) = stored["BB0-metadata"]["cl-errors"]
    assert meta_error["message"] == (
        "The use case type of the BB0-metadata label attribute metadata is unsupported. "
        "Check the type field."
    )
    assert stored["cl-errors"][0]["code"] == "ERROR_NO_VALID_LABEL_ATTRIBUTES"
    assert stored["cl-metadata"] == {"is_labeled": False}


def test_missing_class_map_id_stops_the_line_without_no_valid_label_attributes():
    # A precedence error (training.md §2.6): nothing after it is reported.
    entry = parse(detection(class_map={"0": "capacitor"}))
    assert codes(entry) == ["ERROR_MISSING_CLASS_MAP_ID"]
    assert not entry.is_labeled


def test_malformed_annotations_are_invalid_label_attribute_format():
    obj = detection()
    obj["bb"]["annotations"] = "none"
    entry = parse(obj)
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
    (error,) = json.loads(entry.output_line)["bb"]["cl-errors"]
    assert "label attribute bb is invalid" in error["message"]


def test_missing_image_size_is_invalid_label_attribute_format():
    obj = detection()
    del obj["bb"]["image_size"]
    assert codes(parse(obj))[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"


def test_non_integer_image_level_value_is_invalid_label_attribute_format():
    obj = classification()
    obj["label0"] = "yes"
    entry = parse(obj)
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
    # The attribute is a bare value, so its error sits in the metadata.
    assert json.loads(entry.output_line)["label0-metadata"]["cl-errors"]


def test_missing_class_name_is_invalid_metadata_format():
    obj = classification()
    del obj["label0-metadata"]["class-name"]
    assert codes(parse(obj))[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_metadata_that_is_not_an_object_is_invalid_metadata_format_at_line_level():
    obj = classification()
    obj["label0-metadata"] = "oops"
    entry = parse(obj)
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    assert json.loads(entry.output_line)["cl-errors"][0]["code"] == (
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    )


def test_fewer_confidences_than_boxes_is_missing_bounding_box_confidence():
    obj = detection()
    obj["bb-metadata"]["objects"].pop()
    assert codes(parse(obj))[0] == "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"


def test_more_than_50_boxes_is_too_many_bounding_boxes():
    entry = parse(detection(boxes=[(0, 1, 1, 10, 10)] * 51))
    assert codes(entry)[0] == "ERROR_TOO_MANY_BOUNDING_BOXES"
    assert not entry.is_labeled


def test_off_frame_box_is_dropped_and_the_others_still_count():
    entry = parse(detection(boxes=[(0, -12, 40, 200, 90), (2, 300, 220, 64, 64),
                                   (0, 1000, 10, 100, 10)]))
    assert codes(entry) == ["ERROR_INVALID_BOUNDING_BOX", "ERROR_INVALID_BOUNDING_BOX"]
    assert entry.labels == {"led": 1}
    annotations = json.loads(entry.output_line)["bb"]["annotations"]
    assert annotations[0]["cl-errors"][0]["message"] == "The bounding box has off frame values."
    assert "cl-errors" not in annotations[1]


def test_box_too_small_after_the_1280_px_downscale():
    big = [{"width": 3000, "height": 3000, "depth": 3}]
    entry = parse(detection(boxes=[(0, 10, 10, 2, 2), (0, 100, 100, 50, 50)], size=big))
    assert codes(entry) == ["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert entry.labels == {"capacitor": 1}
    # The same 2x2 box on a small image is fine.
    assert not parse(detection(boxes=[(0, 10, 10, 2, 2)])).has_errors


def test_no_valid_annotations_when_every_box_is_bad():
    entry = parse(detection(boxes=[(0, -1, 0, 5, 5)]))
    assert codes(entry) == [
        "ERROR_NO_VALID_ANNOTATIONS", "ERROR_INVALID_BOUNDING_BOX",
        "ERROR_NO_VALID_LABEL_ATTRIBUTES",
    ]


def test_empty_annotations_warn_and_leave_the_image_unlabeled():
    entry = parse(detection(boxes=[], class_map={}))
    assert sorted(w.code for w in entry.warnings) == [
        "WARNING_NO_ANNOTATIONS", "WARNING_NO_ATTRIBUTE_ANNOTATIONS",
    ]
    stored = json.loads(entry.output_line)
    assert stored["bb"]["warnings"][0]["message"] == "No attribute annotations were found."
    assert stored["warnings"][0]["message"] == "No annotations were found."
    assert not entry.is_labeled and not entry.has_errors


def test_label_name_over_256_characters():
    entry = parse(classification("s3://bkt/a.jpg", "x" * 257))
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_NAME_LENGTH"
    assert parse(classification("s3://bkt/a.jpg", "x" * 256)).labels == {"x" * 256: 0}


def test_one_bad_attribute_leaves_the_valid_one_usable():
    obj = classification("s3://bkt/a.jpg", "cat", "dog")
    obj["label1-metadata"]["type"] = "nope"
    entry = parse(obj)
    assert entry.labels == {"cat": 0}
    assert codes(entry) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE"]


# --- the streaming reader -------------------------------------------------------------------------


def read(data: bytes, **options: Any) -> tuple[list[tuple[int, str | None]], ManifestReader]:
    reader = ManifestReader(io.BytesIO(data), **options)
    return [(raw.number, raw.text) for raw in reader], reader


def test_reader_counts_lines_and_bytes_across_chunk_boundaries():
    data = b'{"a":1}\r\n{"b":2}\n\n{"c":3}'
    lines, reader = read(data, chunk_size=3)
    assert lines == [(1, '{"a":1}'), (2, '{"b":2}'), (3, ""), (4, '{"c":3}')]
    assert reader.lines == 4 and reader.bytes_read == len(data)


def test_reader_trailing_newline_does_not_add_a_line():
    lines, _ = read(b"a\nb\n")
    assert lines == [(1, "a"), (2, "b")]


def test_reader_strips_a_byte_order_mark():
    lines, _ = read("\ufeff{}\n".encode())
    assert lines == [(1, "{}")]


def test_reader_skips_an_over_long_line_without_keeping_it():
    data = b"x" * 50 + b"\nshort\n"
    lines, _ = read(data, max_line_chars=10, chunk_size=4)
    assert lines == [(1, None), (2, "short")]


def test_reader_flags_invalid_utf8():
    lines, _ = read(b"\xff\xfe\nok\n")
    assert lines == [(1, None), (2, "ok")]


def test_reader_stops_once_the_size_limit_is_exceeded():
    with pytest.raises(ManifestFileError) as caught:
        read(b"line\n" * 100, max_bytes=64, chunk_size=16)
    assert caught.value.code == "ERROR_MANIFEST_SIZE_TOO_LARGE"


# --- whole manifests ------------------------------------------------------------------------------


def scan(lines: list[str], **limits: Any) -> tuple[list[CheckedLine], ImportTally]:
    tally = ImportTally(ManifestLimits(**limits))
    data = "\n".join(lines).encode()
    entries = list(iter_entries(ManifestReader(io.BytesIO(data)), tally, images=None))
    tally.finish()
    return entries, tally


def good(i: int) -> str:
    return json.dumps(classification(f"s3://bkt/{i}.jpg", "cat"))


def test_bad_lines_are_dropped_up_to_20_percent():
    entries, tally = scan([good(i) for i in range(8)] + ["bad", "{}"])
    assert len(entries) == 8 and tally.dropped == 2 and tally.lines == 10


def test_more_than_20_percent_bad_lines_fails_the_manifest():
    with pytest.raises(ManifestFileError) as caught:
        scan([good(i) for i in range(7)] + ["bad"] * 3)
    assert caught.value.code == "ERROR_TOO_MANY_RECORDS_IN_ERROR"


def test_blank_lines_count_as_bad_lines():
    with pytest.raises(ManifestFileError, match="ERROR_TOO_MANY_RECORDS_IN_ERROR"):
        scan([good(1), "", "", good(2)])


@pytest.mark.parametrize("lines", [[], [""], ["", "  "]])
def test_empty_manifest(lines):
    with pytest.raises(ManifestFileError) as caught:
        scan(lines)
    assert caught.value.code == "ERROR_EMPTY_MANIFEST"


def test_content_that_is_not_json_lines_is_an_unsupported_format():
    with pytest.raises(ManifestFileError) as caught:
        scan(["PK\x03\x04 binary junk", "more junk"])
    assert caught.value.code == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"


def test_row_limit_stops_reading():
    with pytest.raises(ManifestFileError) as caught:
        scan([good(i) for i in range(6)], max_rows=5)
    assert caught.value.code == "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
    assert str(caught.value).startswith("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM: ")


def test_invalid_stored_lines_count_toward_the_20_percent_with_dropped_ones():
    invalid = json.dumps(detection("s3://bkt/x.jpg", boxes=[(0, -1, 0, 5, 5)]))
    entries, tally = scan([good(i) for i in range(8)] + [invalid, "bad"])
    assert len(entries) == 9 and tally.invalid == 1 and tally.dropped == 1
    with pytest.raises(ManifestFileError, match="3 of 10 lines are invalid"):
        scan([good(i) for i in range(7)] + [invalid, invalid.replace("x.jpg", "y.jpg"), "bad"])


def test_ignored_lines_do_not_count_toward_the_20_percent():
    unannotated = [json.dumps({"source-ref": f"s3://bkt/u{i}.jpg"}) for i in range(5)]
    entries, tally = scan([good(i) for i in range(5)] + unannotated)
    assert len(entries) == 10 and tally.invalid == tally.dropped == 0


def test_images_from_a_second_bucket_fail_the_manifest():
    lines = [good(1), json.dumps(classification("s3://other-bkt/2.jpg", "cat"))]
    with pytest.raises(ManifestFileError) as caught:
        scan(lines)
    assert caught.value.code == "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
    assert caught.value.message == "The manifest file contains images from multiple S3 buckets."


def test_a_dropped_duplicate_is_uncounted_as_stored():
    tally = ImportTally()
    invalid = parse(detection("s3://bkt/x.jpg", boxes=[(0, -1, 0, 5, 5)]))
    tally.lines = 1
    assert tally.count(invalid) and tally.invalid == 1
    tally.drop(invalid)
    assert (tally.invalid, tally.dropped) == (0, 1)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_missing_images_up_to_20_percent_keep_their_invalid_image_errors(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    for i in range(8):
        blobs.put("bkt", f"{i}.jpg", _png())
    lines = [good(i) for i in range(10)]  # 8 and 9 have no image
    tally = ImportTally()
    reader = ManifestReader(io.BytesIO("\n".join(lines).encode()))
    entries = list(iter_entries(reader, tally, images=ImageProbe(blobs)))
    tally.finish()
    assert tally.missing_images == 2 and len(entries) == 10
    stored = json.loads(entries[9].output_line)
    assert stored["cl-errors"] == [{
        "code": "ERROR_INVALID_IMAGE",
        "message": "The image is invalid. Check S3 path and/or image properties."}]
    assert stored["cl-metadata"] == {"is_labeled": False} and not entries[9].labels
    # One more missing image passes 20 %.
    blobs.delete("bkt", "7.jpg")
    tally = ImportTally()
    reader = ManifestReader(io.BytesIO("\n".join(lines).encode()))
    list(iter_entries(reader, tally, images=ImageProbe(blobs)))
    with pytest.raises(ManifestFileError, match="3 of 10 lines reference images that are "
                                                "missing or cannot be read"):
        tally.finish()
