"""A corpus of crafted manifests and images, one test per error and warning code of training.md
§2.5 (and the manifest-file codes of §2.3 that apply to a manifest), each asserting the
exact code, the exact message and where the error sits (§4.2); then the precedence rule
(§2.6) and the line statuses (§3.1).

Every image and manifest is made by the tests, in a temporary blob store.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from labelgate.backends.local.blobs.stores import LocalBlobStore
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.manifests import (
    LineVerdict,
    ManifestFileError,
    ManifestLimits,
    open_manifest,
    validate_lines,
)
from tests.local.test_images import (
    FIFTEEN_MIB,
    jpeg,
    jpeg_header,
    png,
    png_header,
    sparse_file,
)

IMAGES = "corpus-img"
MANIFESTS = "corpus-manifests"

# The exact messages, as the spec gives them.
MISSING_SOURCE_REF = "The source-ref key is missing."
INVALID_SOURCE_REF_FORMAT = "The format of the source-ref value is invalid."
NO_LABEL_ATTRIBUTES = "No label attributes found."
NO_VALID_LABEL_ATTRIBUTES = "No valid label attributes found."
METADATA_FORMAT = "The format of the label attribute metadata is invalid."
MISSING_CONFIDENCE = "One or more bounding boxes has a missing confidence value."
MISSING_CLASS_MAP_ID = "One of more class ids is missing from the class map."
INVALID_JSON_LINE = "The JSON Line has an invalid format."
INVALID_IMAGE = "The image is invalid. Check S3 path and/or image properties."
INVALID_IMAGE_DIMENSION = "The image dimension(s) do not conform to allowed dimensions."
INVALID_BOUNDING_BOX = "The bounding box has off frame values."
BOUNDING_BOX_TOO_SMALL = "The height and width of the bounding box is too small."
TOO_MANY_BOUNDING_BOXES = "There are more bounding boxes than the allowed maximum."
NO_VALID_ANNOTATIONS = "No valid annotations found."
LABEL_NAME_LENGTH = "The label name is longer than 256 characters."
TOO_MANY_LABELS_PER_IMAGE = "There are more labels than the allowed maximum."


def err(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


# --- the corpus --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalBlobStore:
    root = tmp_path_factory.mktemp("corpus") / "s3"
    blobs = LocalBlobStore(root)
    full_jpeg = jpeg(200, 150)
    corpus = {
        "good.png": png(1024, 768, "L"),
        "good.jpg": jpeg(320, 240),
        "truncated.jpg": full_jpeg[: len(full_jpeg) // 2],
        "notes.png": b"this is a text file with an image's name\n",
        "bomb.png": png_header(100_000, 100_000),
        "bomb.jpg": jpeg_header(60_000, 60_000),
        "strip.png": png(3000, 100, "L"),
        "tiny.png": png(63, 63),
        "huge-side.png": png(4097, 300, "L"),
        "big.png": png(3000, 3000, "L"),
    }
    for key, data in corpus.items():
        blobs.put(IMAGES, key, data)
    sparse_file(root / IMAGES / "heavy.png", FIFTEEN_MIB + 1)
    return blobs


@pytest.fixture
def images(store: LocalBlobStore) -> ImageProbe:
    return ImageProbe(store)


def ref(key: str) -> str:
    return f"s3://{IMAGES}/{key}"


def cls_line(key: str = "good.png", label: str = "scratch", attr: str = "defect") -> dict:
    return {
        "source-ref": ref(key),
        attr: 1,
        f"{attr}-metadata": {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-05-02T09:14:55.120431",
            "type": "groundtruth/image-classification", "job-name": "labeling-job/defect",
        },
    }


def box_line(
    key: str = "good.png",
    boxes: list[tuple[int, float, float, float, float]] | None = None,
    class_map: dict[str, str] | None = None,
    size: tuple[int, int] = (1024, 768),
    attr: str = "parts",
) -> dict:
    """Boxes as (class_id, left, top, width, height)."""
    boxes = [(0, 100, 80, 60, 40), (1, 300, 220, 64, 64)] if boxes is None else boxes
    return {
        "source-ref": ref(key),
        attr: {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        f"{attr}-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {"0": "bolt", "1": "nut"} if class_map is None else class_map,
            "type": "groundtruth/object-detection", "human-annotated": "yes",
            "creation-date": "2024-05-02T10:00:00", "job-name": "labeling-job/parts",
        },
    }


def check(line: dict | str, images: ImageProbe | None = None,
          error_key: str = "errors") -> tuple[LineVerdict, Any]:
    """Validate one line; (its verdict, its validation-manifest line parsed)."""
    text = line if isinstance(line, str) else json.dumps(line)
    (verdict,) = validate_lines([text], images=images, error_key=error_key)
    return verdict, json.loads(verdict.output_line)


# --- JSON Line errors, one test per code (training.md §2.5) ---------------------------------------


def test_error_missing_source_ref_is_a_line_error_and_invalidates_the_line():
    line = cls_line()
    del line["source-ref"]
    verdict, out = check(line)
    assert out["errors"] == [err("ERROR_MISSING_SOURCE_REF", MISSING_SOURCE_REF)]
    assert verdict.status == "invalid" and verdict.has_errors and verdict.source_ref is None


def test_error_invalid_source_ref_format_for_an_https_url():
    line = cls_line()
    line["source-ref"] = "https://corpus-img.s3.amazonaws.com/good.png"
    verdict, out = check(line)
    assert out["errors"] == [err("ERROR_INVALID_SOURCE_REF_FORMAT", INVALID_SOURCE_REF_FORMAT)]
    assert verdict.status == "invalid"


def test_error_no_label_attributes_when_the_metadata_key_is_misspelt():
    line = box_line()
    line["parts-metdata"] = line.pop("parts-metadata")
    verdict, out = check(line)
    assert out["errors"] == [err("ERROR_NO_LABEL_ATTRIBUTES", NO_LABEL_ATTRIBUTES)]
    assert verdict.status == "invalid"


def test_error_invalid_label_attribute_format_sits_in_the_attribute():
    line = box_line()
    line["parts"]["image_size"] = "1024x768"
    verdict, out = check(line)
    assert out["parts"]["errors"] == [err(
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        "The format of the label attribute parts is invalid.",
    )]
    assert "errors" not in out and verdict.status == "invalid"


def test_error_invalid_label_attribute_format_of_a_bare_value_sits_in_its_metadata():
    line = cls_line()
    line["defect"] = "yes"
    verdict, out = check(line)
    assert out["defect-metadata"]["errors"] == [err(
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        "The format of the label attribute defect is invalid.",
    )]
    assert verdict.status == "invalid"


def test_error_invalid_label_attribute_metadata_format_sits_in_the_metadata():
    line = cls_line()
    del line["defect-metadata"]["class-name"]
    verdict, out = check(line)
    assert out["defect-metadata"]["errors"] == [
        err("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", METADATA_FORMAT)]
    assert verdict.status == "invalid"


@pytest.mark.parametrize("field", ["human-annotated", "creation-date", "type", "confidence"])
def test_error_invalid_label_attribute_metadata_format_for_each_required_field(field):
    line = cls_line()
    del line["defect-metadata"][field]
    _, out = check(line)
    assert out["defect-metadata"]["errors"][0]["code"] == (
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")


def test_error_invalid_label_attribute_metadata_format_of_a_non_object_goes_to_the_line():
    line = cls_line()
    line["defect-metadata"] = "scratch"
    _, out = check(line)
    assert out["errors"] == [err("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", METADATA_FORMAT)]


def test_error_no_valid_label_attributes_when_no_attribute_survives():
    line = cls_line()
    line["defect-metadata"]["type"] = "groundtruth/image-classification-multilabel"
    verdict, out = check(line)
    assert out["errors"] == [err("ERROR_NO_VALID_LABEL_ATTRIBUTES", NO_VALID_LABEL_ATTRIBUTES)]
    assert verdict.status == "invalid"


def test_error_missing_bounding_box_confidence_sits_in_the_metadata():
    line = box_line()
    line["parts-metadata"]["objects"] = [{"confidence": 1}]  # two boxes, one confidence
    verdict, out = check(line)
    assert out["parts-metadata"]["errors"] == [
        err("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", MISSING_CONFIDENCE)]
    assert verdict.status == "invalid"


def test_error_missing_class_map_id_sits_in_the_metadata():
    verdict, out = check(box_line(class_map={"0": "bolt"}))
    assert out["parts-metadata"]["errors"] == [
        err("ERROR_MISSING_CLASS_MAP_ID", MISSING_CLASS_MAP_ID)]
    assert verdict.status == "invalid"


@pytest.mark.parametrize(
    "text",
    ['{"source-ref": "s3://corpus-img/good.png" "defect": 1}', "", "   ", "[1, 2]", "null",
     '{"source-ref": "s3://corpus-img/good.png", "x": NaN}', "\x00"],
)
def test_error_invalid_json_line_replaces_the_line(text):
    verdict, _ = check(text)
    assert verdict.output_line == (
        '{"errors":[{"code":"ERROR_INVALID_JSON_LINE","message":"The JSON Line has an invalid '
        'format."}]}'
    )
    assert verdict.status == "invalid" and verdict.has_errors


def test_error_invalid_json_line_for_a_line_over_100000_characters():
    line = cls_line()
    line["padding"] = "x" * 100_000
    _, out = check(line)
    assert out == {"errors": [err("ERROR_INVALID_JSON_LINE", INVALID_JSON_LINE)]}


@pytest.mark.parametrize(
    "key",
    ["missing.png", "notes.png", "truncated.jpg", "heavy.png", "strip.png", "tiny.png",
     "bomb.png", "bomb.jpg"],
    ids=["wrong-path", "not-an-image", "truncated", "over-15-MiB", "aspect-30-to-1",
         "63-px", "decompression-bomb-png", "decompression-bomb-jpeg"],
)
def test_error_invalid_image_for_each_cause(images, key):
    verdict, out = check(cls_line(key), images)
    assert out["errors"] == [err("ERROR_INVALID_IMAGE", INVALID_IMAGE)]
    assert verdict.status == "invalid" and verdict.image_labels == frozenset()


def test_error_invalid_image_dimension_for_a_box_line_on_a_4097_px_image(images):
    verdict, out = check(box_line("huge-side.png", size=(4097, 300)), images)
    assert out["errors"] == [err("ERROR_INVALID_IMAGE_DIMENSION", INVALID_IMAGE_DIMENSION)]
    assert verdict.status == "invalid"


def test_error_invalid_image_dimension_from_the_declared_image_size():
    verdict, out = check(box_line(size=(63, 800), boxes=[(0, 1, 1, 20, 20)]))
    assert out["errors"] == [err("ERROR_INVALID_IMAGE_DIMENSION", INVALID_IMAGE_DIMENSION)]
    assert verdict.status == "invalid"


def test_error_invalid_bounding_box_sits_in_the_annotation_and_drops_only_that_box():
    verdict, out = check(box_line(boxes=[(0, -12, 40, 200, 90), (1, 300, 220, 64, 64),
                                         (0, 1000, 10, 100, 10)]))
    annotations = out["parts"]["annotations"]
    assert annotations[0]["errors"] == [err("ERROR_INVALID_BOUNDING_BOX", INVALID_BOUNDING_BOX)]
    assert annotations[2]["errors"] == [err("ERROR_INVALID_BOUNDING_BOX", INVALID_BOUNDING_BOX)]
    assert "errors" not in annotations[1]
    assert verdict.status == "valid" and verdict.has_errors
    assert verdict.box_labels == {"nut"}


def test_error_bounding_box_too_small_after_the_1280_px_downscale(images):
    # 2 px on a 3000 px image is 0.85 px once trained at 1280 px.
    verdict, out = check(box_line("big.png", size=(3000, 3000),
                                  boxes=[(0, 10, 10, 2, 2), (1, 100, 100, 50, 50)]), images)
    annotations = out["parts"]["annotations"]
    assert annotations[0]["errors"] == [
        err("ERROR_BOUNDING_BOX_TOO_SMALL", BOUNDING_BOX_TOO_SMALL)]
    assert verdict.status == "valid" and verdict.box_labels == {"nut"}
    # The same box on an image that is not downscaled is large enough.
    assert not check(box_line(boxes=[(0, 10, 10, 2, 2)]))[0].has_errors


def test_error_too_many_bounding_boxes_sits_in_the_attribute_and_invalidates_the_line():
    verdict, out = check(box_line(boxes=[(0, 1 + i, 1, 10, 10) for i in range(51)]))
    assert out["parts"]["errors"] == [err("ERROR_TOO_MANY_BOUNDING_BOXES",
                                          TOO_MANY_BOUNDING_BOXES)]
    assert out["errors"] == [err("ERROR_NO_VALID_LABEL_ATTRIBUTES", NO_VALID_LABEL_ATTRIBUTES)]
    assert verdict.status == "invalid"
    assert check(box_line(boxes=[(0, 1 + i, 1, 10, 10) for i in range(50)]))[0].status == "valid"


def test_error_too_many_bounding_boxes_counts_every_box_attribute_of_the_image():
    line = box_line(boxes=[(0, 1 + i, 1, 10, 10) for i in range(30)])
    line.update({k: v for k, v in box_line(attr="more", boxes=[(1, 1 + i, 100, 10, 10)
                                                               for i in range(30)]).items()
                 if k != "source-ref"})
    verdict, out = check(line)
    for attr in ("parts", "more"):
        assert out[attr]["errors"] == [err("ERROR_TOO_MANY_BOUNDING_BOXES",
                                           TOO_MANY_BOUNDING_BOXES)]
    assert verdict.status == "invalid"


def test_error_no_valid_annotations_sits_in_the_attribute():
    verdict, out = check(box_line(boxes=[(0, -1, 0, 5, 5)]))
    assert out["parts"]["errors"] == [err("ERROR_NO_VALID_ANNOTATIONS", NO_VALID_ANNOTATIONS)]
    assert out["errors"] == [err("ERROR_NO_VALID_LABEL_ATTRIBUTES", NO_VALID_LABEL_ATTRIBUTES)]
    assert verdict.status == "invalid"


def test_error_unsupported_use_case_type_names_the_attribute_in_the_metadata():
    line = cls_line(attr="BB")
    line["BB-metadata"]["type"] = "groundtruth/wrongtype"
    verdict, out = check(line)
    assert out["BB-metadata"]["errors"] == [err(
        "ERROR_UNSUPPORTED_USE_CASE_TYPE",
        "The use case type of the BB-metadata label attribute metadata is unsupported. "
        "Check the type field.",
    )]
    assert out["errors"] == [err("ERROR_NO_VALID_LABEL_ATTRIBUTES", NO_VALID_LABEL_ATTRIBUTES)]
    assert verdict.status == "invalid"


def test_error_invalid_label_name_length_over_256_characters_sits_in_the_metadata():
    verdict, out = check(cls_line(label="x" * 257))
    assert out["defect-metadata"]["errors"] == [
        err("ERROR_INVALID_LABEL_NAME_LENGTH", LABEL_NAME_LENGTH)]
    assert verdict.status == "invalid"
    assert check(cls_line(label="x" * 256))[0].image_labels == {"x" * 256}


def test_error_invalid_label_name_length_in_a_class_map():
    verdict, out = check(box_line(class_map={"0": "bolt", "1": "n" * 257}))
    assert out["parts-metadata"]["errors"] == [
        err("ERROR_INVALID_LABEL_NAME_LENGTH", LABEL_NAME_LENGTH)]
    assert verdict.status == "invalid"


def test_error_too_many_labels_per_image_over_50():
    line: dict = {"source-ref": ref("good.png")}
    for i in range(51):
        line.update({k.replace("defect", f"a{i}"): v
                     for k, v in cls_line(label=f"label{i}").items() if k != "source-ref"})
    verdict, out = check(line)
    assert out["errors"] == [err("ERROR_TOO_MANY_LABELS_PER_IMAGE", TOO_MANY_LABELS_PER_IMAGE)]
    assert verdict.status == "invalid"


# --- warnings ------------------------------------------------------------------------------------


def test_warning_unannotated_record_at_top_level_and_the_line_is_ignored():
    verdict, out = check({"source-ref": ref("good.png")})
    assert out == {"source-ref": ref("good.png"),
                   "warnings": [err("WARNING_UNANNOTATED_RECORD", "Record is unannotated.")]}
    assert verdict.status == "ignored" and not verdict.has_errors


def test_warning_no_annotations_at_top_level_and_no_attribute_annotations_in_it():
    verdict, out = check(box_line(boxes=[], class_map={}))
    assert out["warnings"] == [err("WARNING_NO_ANNOTATIONS", "No annotations were found.")]
    assert out["parts"]["warnings"] == [
        err("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "No attribute annotations were found.")]
    assert verdict.status == "ignored" and not verdict.has_errors


def test_warning_no_attribute_annotations_alone_when_another_attribute_is_usable():
    line = box_line(attr="empty", boxes=[], class_map={})
    line.update({k: v for k, v in box_line().items() if k != "source-ref"})
    verdict, out = check(line)
    assert out["empty"]["warnings"] == [
        err("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "No attribute annotations were found.")]
    assert "warnings" not in out
    assert verdict.status == "valid" and verdict.box_labels == {"bolt", "nut"}


def test_warning_for_a_missing_annotations_array():
    line = box_line(boxes=[], class_map={})
    del line["parts"]["annotations"]
    verdict, out = check(line)
    assert out["parts"]["warnings"][0]["code"] == "WARNING_NO_ATTRIBUTE_ANNOTATIONS"
    assert verdict.status == "ignored"


# --- manifest file errors (training.md §2.3) ------------------------------------------------------


def file_error(caught: pytest.ExceptionInfo[ManifestFileError], code: str, message: str) -> None:
    assert caught.value.code == code
    assert caught.value.message == message


def test_file_error_inaccessible_when_the_manifest_does_not_exist(store):
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "absent.manifest")
    file_error(caught, "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
               "The manifest file extension or contents are invalid.")


def test_file_error_inaccessible_without_an_extension_when_training_asks_for_one(store):
    store.put(MANIFESTS, "noext", json.dumps(cls_line()).encode())
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "noext", require_extension=True)
    file_error(caught, "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
               "The manifest file extension or contents are invalid.")
    assert open_manifest(store, MANIFESTS, "noext").size_bytes > 0  # datasets accept it


def test_file_error_inaccessible_when_the_content_is_not_json_lines(store):
    store.put(MANIFESTS, "image.manifest", png())
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "image.manifest").check()
    file_error(caught, "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
               "The manifest file extension or contents are invalid.")


def test_file_error_empty_manifest(store):
    store.put(MANIFESTS, "empty.manifest", b"\n  \n\n")
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "empty.manifest").check()
    file_error(caught, "ERROR_EMPTY_MANIFEST", "The manifest file is empty.")


def test_file_error_size_too_large_over_1_gib_without_reading_it(store):
    sparse_file(store.root / MANIFESTS / "huge.manifest", (1 << 30) + 1)
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "huge.manifest")
    file_error(caught, "ERROR_MANIFEST_SIZE_TOO_LARGE",
               "The manifest file size exceeds the maximum supported size.")


def test_file_error_rows_exceeds_maximum_past_250000_lines(store):
    store.put(MANIFESTS, "rows.manifest", b"{}\n" * 250_001)
    manifest = open_manifest(store, MANIFESTS, "rows.manifest")
    with pytest.raises(ManifestFileError) as caught:
        manifest.check()
    file_error(caught, "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
               "The manifest file has too many rows.")
    store.put(MANIFESTS, "rows.manifest", b"{}\n" * 250_000)
    assert open_manifest(store, MANIFESTS, "rows.manifest").check() == 250_000


def test_file_error_str_is_the_dataset_status_message(store):
    with pytest.raises(ManifestFileError) as caught:
        open_manifest(store, MANIFESTS, "absent.manifest")
    assert str(caught.value).startswith(
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT: "
        "The manifest file extension or contents are invalid. ")


def test_manifest_lines_stream_with_unreadable_lines_as_invalid_json(store):
    data = json.dumps(cls_line()).encode() + b"\n\xff\xfe\n" + b"{" * 10 + b"\n"
    store.put(MANIFESTS, "mixed.manifest", data)
    manifest = open_manifest(store, MANIFESTS, "mixed.manifest",
                             limits=ManifestLimits(max_line_chars=5000))
    verdicts = list(validate_lines(manifest.lines(), images=None))
    assert [v.status for v in verdicts] == ["valid", "invalid", "invalid"]


# --- precedence (training.md §2.6) ----------------------------------------------------------------


class CountingProbe(ImageProbe):
    def __init__(self, blobs: LocalBlobStore) -> None:
        super().__init__(blobs)
        self.probed: list[str] = []

    def probe_uri(self, source_ref: str):  # type: ignore[override]
        self.probed.append(source_ref)
        return super().probe_uri(source_ref)


def test_precedence_missing_source_ref_hides_every_other_error():
    line = box_line(boxes=[(0, -5, 0, 10, 10)], class_map={})
    del line["source-ref"]
    _, out = check(line)
    assert out["errors"] == [err("ERROR_MISSING_SOURCE_REF", MISSING_SOURCE_REF)]
    assert "errors" not in out["parts-metadata"] and "errors" not in out["parts"]["annotations"][0]


def test_precedence_error_stops_the_line_before_the_image_and_the_boxes(store):
    images = CountingProbe(store)
    line = box_line("missing.png", boxes=[(0, -5, 0, 10, 10), (1, 1, 1, 5, 5)],
                    class_map={"0": "bolt"})
    verdict, out = check(line, images)
    assert out["parts-metadata"]["errors"] == [
        err("ERROR_MISSING_CLASS_MAP_ID", MISSING_CLASS_MAP_ID)]
    assert "errors" not in out  # no ERROR_INVALID_IMAGE, no ERROR_NO_VALID_LABEL_ATTRIBUTES
    assert all("errors" not in box for box in out["parts"]["annotations"])
    assert images.probed == [] and verdict.status == "invalid"


def test_precedence_reports_every_precedence_error_of_the_line_at_once():
    line = box_line(class_map={"0": "bolt"})
    line.update({k: v for k, v in cls_line(attr="kind").items() if k != "source-ref"})
    del line["kind-metadata"]["creation-date"]
    _, out = check(line)
    assert out["parts-metadata"]["errors"][0]["code"] == "ERROR_MISSING_CLASS_MAP_ID"
    assert out["kind-metadata"]["errors"][0]["code"] == (
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")


def test_errors_after_the_precedence_stage_are_all_reported(images):
    verdict, out = check(box_line("notes.png", boxes=[(0, -5, 0, 10, 10), (1, 1, 1, 50, 50)]),
                         images)
    assert out["errors"] == [err("ERROR_INVALID_IMAGE", INVALID_IMAGE)]
    assert out["parts"]["annotations"][0]["errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"
    assert verdict.status == "invalid" and verdict.box_labels == frozenset()


# --- statuses, labels and output lines (training.md §3.1, §4) -------------------------------------


def test_a_clean_line_is_copied_unchanged(images):
    text = json.dumps(cls_line(), indent=None, separators=(", ", ": "))
    verdict, _ = check(text, images)
    assert verdict.output_line == text
    assert verdict.status == "valid" and not verdict.has_errors
    assert verdict.image_labels == {"scratch"} and verdict.box_labels == frozenset()
    assert verdict.bucket == IMAGES and verdict.source_ref == ref("good.png")


def test_jpeg_images_are_checked_too(images):
    assert check(cls_line("good.jpg"), images)[0].status == "valid"


def test_previous_validation_keys_are_stripped_and_recomputed(images):
    line = box_line()
    stale = [err("ERROR_STALE", "old")]
    line.update({"errors": stale, "warnings": stale, "cl-errors": stale,
                 "cl-metadata": {"is_labeled": False}})
    line["parts"]["errors"] = stale
    line["parts"]["annotations"][0]["cl-errors"] = stale
    line["parts-metadata"]["errors"] = stale
    verdict, out = check(line, images)
    assert "ERROR_STALE" not in verdict.output_line
    assert out == box_line()  # nothing left to report: exactly the input, keys stripped
    assert verdict.status == "valid" and not verdict.has_errors


def test_a_validation_manifest_line_fed_back_gives_the_same_line(images):
    first, _ = check(box_line(boxes=[(0, -5, 0, 10, 10), (1, 1, 1, 50, 50)]), images)
    again, _ = check(first.output_line, images)
    assert again.output_line == first.output_line


def test_dataset_flavour_uses_cl_errors_and_cl_metadata(images):
    _, out = check(box_line("missing.png"), images, error_key="cl-errors")
    assert out["cl-errors"] == [err("ERROR_INVALID_IMAGE", INVALID_IMAGE)]
    assert out["cl-metadata"] == {"is_labeled": False}
    assert "errors" not in out


def test_mixed_line_gives_image_and_box_labels():
    line = box_line()
    line.update({k: v for k, v in cls_line(attr="kind", label="tray").items()
                 if k != "source-ref"})
    verdict, _ = check(line)
    assert verdict.image_labels == {"tray"} and verdict.box_labels == {"bolt", "nut"}


def test_validate_lines_keeps_order_and_numbers_lines_from_1(images):
    keys = ["good.png", "missing.png", "good.jpg", "notes.png"] * 10
    verdicts = list(validate_lines((json.dumps(cls_line(k)) for k in keys), images=images))
    assert [v.number for v in verdicts] == list(range(1, 41))
    assert [v.status for v in verdicts] == ["valid", "invalid", "valid", "invalid"] * 10


def test_validate_lines_streams_without_reading_all_its_input(images):
    def endless():
        while True:
            yield json.dumps(cls_line())

    start = time.perf_counter()
    stream = validate_lines(endless(), images=images)
    first = [next(stream) for _ in range(5)]
    stream.close()
    assert [v.number for v in first] == [1, 2, 3, 4, 5]
    assert time.perf_counter() - start < 5


def test_decompression_bomb_does_not_allocate_and_finishes_fast(images):
    start = time.perf_counter()
    verdicts = list(validate_lines([json.dumps(cls_line("bomb.png"))] * 20, images=images))
    assert time.perf_counter() - start < 2
    assert all(json.loads(v.output_line)["errors"][0]["code"] == "ERROR_INVALID_IMAGE"
               for v in verdicts)


def test_without_an_image_probe_images_are_not_checked():
    assert check(cls_line("missing.png"), None)[0].status == "valid"


def test_unknown_error_key_is_refused():
    with pytest.raises(ValueError):
        list(validate_lines(["{}"], images=None, error_key="problems"))

