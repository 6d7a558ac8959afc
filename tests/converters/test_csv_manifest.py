"""CSV -> image-level classification manifest (datasets.md §5.3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from labelgate.converters import ConversionError, DuplicateImagesError, convert_csv
from tests.converters.service_parser import service_entries

NOW = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
CREATED = "2024-01-02T03:04:05.678901"  # %Y-%m-%dT%H:%M:%S.%f, UTC


def write_csv(tmp_path: Path, text: str, name: str = "images.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def manifest_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def metadata(label: str) -> dict[str, Any]:
    return {"confidence": 1, "job-name": f"labeling-job/{label}", "class-name": label,
            "human-annotated": "yes", "creation-date": CREATED,
            "type": "groundtruth/image-classification"}


def test_the_spec_single_label_row_with_an_s3_path(tmp_path):
    csv_file = write_csv(tmp_path, "kitchen_01.jpg,kitchen\n")
    convert_csv(csv_file, s3_path="s3://acme-vision/rooms/", now=NOW)
    (line,) = manifest_lines(tmp_path / "images.manifest")
    assert line == {"source-ref": "s3://acme-vision/rooms/kitchen_01.jpg", "kitchen": 1,
                    "kitchen-metadata": metadata("kitchen")}
    # Key order as the reference tool writes it.
    assert list(line) == ["source-ref", "kitchen", "kitchen-metadata"]
    assert list(line["kitchen-metadata"]) == list(metadata("kitchen"))


def test_the_spec_multi_label_row_with_a_full_s3_path(tmp_path):
    csv_file = write_csv(tmp_path, "s3://acme-vision/flowers/rose9.jpg,rose,with_leaves,"
                                   "fully_grown\n")
    convert_csv(csv_file, now=NOW)
    (line,) = manifest_lines(tmp_path / "images.manifest")
    assert line == {"source-ref": "s3://acme-vision/flowers/rose9.jpg",
                    "rose": 1, "rose-metadata": metadata("rose"),
                    "with_leaves": 1, "with_leaves-metadata": metadata("with_leaves"),
                    "fully_grown": 1, "fully_grown-metadata": metadata("fully_grown")}
    (entry,) = service_entries(tmp_path / "images.manifest")
    assert entry.image_labels == {"rose", "with_leaves", "fully_grown"}


def test_there_is_no_header_row(tmp_path):
    csv_file = write_csv(tmp_path, "image,label\nb.jpg,cat\n")
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    lines = manifest_lines(tmp_path / "images.manifest")
    assert [line["source-ref"] for line in lines] == ["s3://b/image", "s3://b/b.jpg"]


def test_the_s3_path_is_prepended_verbatim(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat\n")
    summary = convert_csv(csv_file, s3_path="s3://b/imgs", now=NOW)
    assert manifest_lines(tmp_path / "images.manifest")[0]["source-ref"] == "s3://b/imgsa.jpg"
    assert "prepended verbatim" in summary.describe()[-1]


def test_pipe_is_the_quote_character(tmp_path):
    csv_file = write_csv(tmp_path, '|odd, name.jpg|,|red, ripe|,"quoted"\n')
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    (line,) = manifest_lines(tmp_path / "images.manifest")
    assert line["source-ref"] == "s3://b/odd, name.jpg"
    assert [k for k in line if not k.endswith("-metadata")] == [
        "source-ref", "red, ripe", '"quoted"']


def test_blank_rows_and_empty_label_columns_are_skipped(tmp_path):
    csv_file = write_csv(tmp_path, "\na.jpg,,cat,\n  \n,,\nb.jpg,dog\n\n")
    summary = convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    lines = manifest_lines(tmp_path / "images.manifest")
    assert [list(line)[1:] for line in lines] == [["cat", "cat-metadata"],
                                                  ["dog", "dog-metadata"]]
    assert summary.images == 2


def test_cells_are_stripped_of_surrounding_spaces(tmp_path):
    csv_file = write_csv(tmp_path, " a.jpg , cat ,dog \n")
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    (line,) = manifest_lines(tmp_path / "images.manifest")
    assert line["source-ref"] == "s3://b/a.jpg"
    assert line["cat-metadata"]["class-name"] == "cat"


def test_a_label_repeated_in_a_row_collapses_into_one_attribute(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat,cat,dog\n")
    summary = convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    (line,) = manifest_lines(tmp_path / "images.manifest")
    assert list(line) == ["source-ref", "cat", "cat-metadata", "dog", "dog-metadata"]
    assert summary.label_assignments == 3  # what the reference tool reports as "Labels"
    assert summary.labels == {"cat": 1, "dog": 1}


def test_a_row_without_labels_is_an_unlabelled_image(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg\nb.jpg,cat\n")
    summary = convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    first, _ = service_entries(tmp_path / "images.manifest")
    assert first.line.startswith('{"source-ref":"s3://b/a.jpg",')
    assert first.warnings == {"WARNING_UNANNOTATED_RECORD"}
    assert summary.unlabelled_images == 1


def test_the_summary_reports_image_and_label_counts(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat\nb.jpg,cat,indoor\nc.jpg,dog\n")
    summary = convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    assert summary.describe() == ["3 images (0 without labels), 3 labels, 4 label assignments"]
    assert summary.labels == {"cat": 2, "indoor": 1, "dog": 1}


def test_one_creation_date_for_the_whole_file_by_default_now(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat\nb.jpg,dog\n")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    convert_csv(csv_file, s3_path="s3://b/")
    dates = {line[k]["creation-date"] for line in manifest_lines(tmp_path / "images.manifest")
             for k in line if k.endswith("-metadata")}
    (date,) = dates
    assert dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%S.%f") >= before


def test_the_manifest_is_named_after_the_csv_unless_given(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat\n", name="my.labels.csv")
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    assert (tmp_path / "my.labels.manifest").exists()
    convert_csv(csv_file, s3_path="s3://b/", output=tmp_path / "elsewhere.manifest", now=NOW)
    assert (tmp_path / "elsewhere.manifest").exists()


def test_a_byte_order_mark_is_not_part_of_the_first_image(tmp_path):
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes("\ufeffa.jpg,cat\n".encode())
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    assert manifest_lines(tmp_path / "excel.manifest")[0]["source-ref"] == "s3://b/a.jpg"


# -- the duplicate check --------------------------------------------------------------------------


DUPLICATED = "a.jpg,cat\nb.jpg,dog\n\na.jpg,lion\nc.jpg,cow\nb.jpg,wolf,|grey, big|\n"


def test_duplicates_write_the_two_helper_files_and_no_manifest(tmp_path):
    csv_file = write_csv(tmp_path, DUPLICATED)
    with pytest.raises(DuplicateImagesError) as caught:
        convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    assert caught.value.duplicates == 2
    assert not (tmp_path / "images.manifest").exists()
    deduplicated = tmp_path / "images-deduplicated.csv"
    duplicates = tmp_path / "images-duplicates.csv"
    assert deduplicated.read_text() == "a.jpg,cat\nb.jpg,dog\nc.jpg,cow\n"
    assert duplicates.read_text() == "a.jpg,lion\nb.jpg,wolf,|grey, big|\n"  # same dialect
    message = str(caught.value)
    assert "2 duplicate image rows" in message and str(deduplicated) in message


def test_the_deduplicated_file_converts(tmp_path):
    csv_file = write_csv(tmp_path, DUPLICATED)
    with pytest.raises(DuplicateImagesError):
        convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    convert_csv(tmp_path / "images-deduplicated.csv", s3_path="s3://b/", now=NOW)
    lines = manifest_lines(tmp_path / "images-deduplicated.manifest")
    assert [line["source-ref"] for line in lines] == ["s3://b/a.jpg", "s3://b/b.jpg",
                                                      "s3://b/c.jpg"]


def test_without_duplicates_the_helper_files_are_deleted(tmp_path):
    csv_file = write_csv(tmp_path, DUPLICATED)
    with pytest.raises(DuplicateImagesError):
        convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    csv_file.write_text("a.jpg,cat\nb.jpg,dog\n")  # the user fixed the CSV
    convert_csv(csv_file, s3_path="s3://b/", now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.csv", "images.manifest"]


def test_duplicates_are_keyed_on_column_1_only_and_checked_before_anything_else(tmp_path):
    # The bare names would fail without an S3 path, but the duplicate check comes first.
    csv_file = write_csv(tmp_path, "a.jpg,cat\n a.jpg ,cat\n")
    with pytest.raises(DuplicateImagesError):
        convert_csv(csv_file)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "s3_path", "message"), [
    ("a.jpg,cat\n", None, r"row 1: 'a.jpg' is not an s3:// path; give .*--s3-path"),
    ("s3://b/a.jpg,cat\n", "s3://b/", "row 1: column 1 is already an s3:// path"),
    ("a.jpg,cat\n,dog\n", "s3://b/", "row 2: column 1 .* is empty"),
    ("s3://b,cat\n", None, "row 1: 's3://b' names a bucket but no object"),
    ("a.jpg,source-ref\n", "s3://b/", "row 1: 'source-ref' cannot be a label attribute"),
    ("a.jpg,cat,cat-metadata\n", "s3://b/", "labels 'cat' and 'cat-metadata' cannot be"),
    ("\n\n", "s3://b/", "images.csv has no rows"),
    ("a.jpg," + "y" * 257 + "\n", "s3://b/", "row 1: label 'yyy.*longer than 256 characters"),
])
def test_rows_that_cannot_make_a_valid_line_are_errors(tmp_path, text, s3_path, message):
    csv_file = write_csv(tmp_path, text)
    with pytest.raises(ConversionError, match=message):
        convert_csv(csv_file, s3_path=s3_path, now=NOW)
    assert not (tmp_path / "images.manifest").exists()


def test_an_s3_path_that_is_not_s3_is_rejected(tmp_path):
    with pytest.raises(ConversionError, match="S3 path: 'b/' is not an s3:// URI"):
        convert_csv(write_csv(tmp_path, "a.jpg,cat\n"), s3_path="b/")


def test_an_unreadable_csv(tmp_path):
    with pytest.raises(ConversionError, match=r"cannot read .*nope\.csv"):
        convert_csv(tmp_path / "nope.csv")
    (tmp_path / "latin1.csv").write_bytes(b"caf\xe9.jpg,cat\n")
    with pytest.raises(ConversionError, match=r"latin1\.csv: not UTF-8"):
        convert_csv(tmp_path / "latin1.csv", s3_path="s3://b/")


def test_the_output_passes_the_services_parser(tmp_path):
    csv_file = write_csv(tmp_path, "a.jpg,cat\nb.jpg,cat,indoor\nc.jpg\n|d,1.jpg|,dog\n")
    convert_csv(csv_file, s3_path="s3://b/x/", now=NOW)
    entries = service_entries(tmp_path / "images.manifest")
    assert [e.image_labels for e in entries] == [{"cat"}, {"cat", "indoor"}, set(), {"dog"}]
