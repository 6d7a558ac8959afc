"""SageMaker Ground Truth multi-label manifest -> Custom Labels manifest (datasets.md §5.2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelgate.converters import ConversionError, convert_sagemaker_multilabel
from tests.converters.service_parser import service_entries

#: Spec 01 §5.2's invented input line and the §4.3 line it must become, verbatim.
SPEC_INPUT = (
    '{"source-ref":"s3://acme-vision/birds/img_7781.png","birds":[0,4],"birds-metadata":'
    '{"class-map":{"0":"robin","4":"perched"},"confidence-map":{"0":0.98,"4":0.91},'
    '"job-name":"labeling-job/birds","human-annotated":"yes","creation-date":'
    '"2023-05-02T09:20:00","type":"groundtruth/image-classification-multilabel"}}'
)
SPEC_OUTPUT = (
    '{"source-ref":"s3://acme-vision/birds/img_7781.png","birds0":0,"birds0-metadata":'
    '{"confidence":0.98,"job-name":"labeling-job/birds","class-name":"robin",'
    '"human-annotated":"yes","creation-date":"2023-05-02T09:20:00",'
    '"type":"groundtruth/image-classification"},"birds1":1,"birds1-metadata":'
    '{"confidence":0.91,"job-name":"labeling-job/birds","class-name":"perched",'
    '"human-annotated":"yes","creation-date":"2023-05-02T09:20:00",'
    '"type":"groundtruth/image-classification"}}'
)


def gt_line(ref: str, ids: list[int], names: dict[int, str], job: str = "birds",
            **metadata: Any) -> dict[str, Any]:
    return {"source-ref": ref, job: ids, f"{job}-metadata": {
        "class-map": {str(i): n for i, n in names.items()},
        "confidence-map": {str(i): 0.5 for i in names},
        "job-name": f"labeling-job/{job}", "human-annotated": "no",
        "creation-date": "2023-01-01T00:00:00.123",
        "type": "groundtruth/image-classification-multilabel", **metadata}}


def write(tmp_path: Path, *lines: str | dict[str, Any], name: str = "output.manifest") -> Path:
    path = tmp_path / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines))
    return path


def test_the_spec_example_becomes_the_spec_line_byte_for_byte(tmp_path):
    out = tmp_path / "converted.manifest"
    convert_sagemaker_multilabel(write(tmp_path, SPEC_INPUT), out)
    assert out.read_text() == SPEC_OUTPUT + "\n"
    (entry,) = service_entries(out)
    assert entry.image_labels == {"robin", "perched"}


def test_each_line_is_converted_in_order_and_blank_lines_are_skipped(tmp_path):
    source = write(tmp_path, gt_line("s3://b/1.jpg", [1], {1: "cat"}), "",
                   gt_line("s3://b/2.jpg", [2, 1], {1: "cat", 2: "dog"}), "   ")
    out = tmp_path / "out.manifest"
    summary = convert_sagemaker_multilabel(source, out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["source-ref"] for line in lines] == ["s3://b/1.jpg", "s3://b/2.jpg"]
    assert lines[1]["birds0-metadata"]["class-name"] == "dog"
    assert lines[1]["birds1-metadata"]["class-name"] == "cat"
    assert (lines[1]["birds0"], lines[1]["birds1"]) == (0, 1)  # the value is the position
    assert (summary.images, summary.blank_lines, dict(summary.labels)) == (
        2, 2, {"cat": 2, "dog": 1})
    assert summary.describe() == ["2 images (0 without labels), 2 labels",
                                  "skipped 2 blank lines"]


def test_metadata_is_copied_and_the_type_becomes_image_classification(tmp_path):
    out = tmp_path / "out.manifest"
    convert_sagemaker_multilabel(write(tmp_path, gt_line("s3://b/1.jpg", [3], {3: "x"})), out)
    assert json.loads(out.read_text())["birds0-metadata"] == {
        "confidence": 0.5, "job-name": "labeling-job/birds", "class-name": "x",
        "human-annotated": "no", "creation-date": "2023-01-01T00:00:00.123",
        "type": "groundtruth/image-classification"}


def test_the_job_attribute_is_the_last_key_without_source_ref_or_metadata(tmp_path):
    line = gt_line("s3://b/1.jpg", [0], {0: "first-job"}, job="first")
    line.update(gt_line("s3://b/1.jpg", [0], {0: "second-job"}, job="second"))
    out = tmp_path / "out.manifest"
    convert_sagemaker_multilabel(write(tmp_path, line), out)
    converted = json.loads(out.read_text())
    assert list(converted) == ["source-ref", "second0", "second0-metadata"]


def test_job_name_is_optional_and_left_out_when_absent(tmp_path):
    line = gt_line("s3://b/1.jpg", [0], {0: "cat"})
    del line["birds-metadata"]["job-name"]
    out = tmp_path / "out.manifest"
    convert_sagemaker_multilabel(write(tmp_path, line), out)
    assert "job-name" not in json.loads(out.read_text())["birds0-metadata"]
    service_entries(out)


def test_an_empty_class_list_is_an_unlabelled_image(tmp_path):
    out = tmp_path / "out.manifest"
    summary = convert_sagemaker_multilabel(write(tmp_path, gt_line("s3://b/1.jpg", [], {})),
                                           out)
    assert out.read_text() == '{"source-ref":"s3://b/1.jpg"}\n'
    assert summary.unlabelled_images == 1
    assert service_entries(out)[0].warnings == {"WARNING_UNANNOTATED_RECORD"}


def test_the_default_output_is_custom_labels_input_name_in_the_current_directory(
        tmp_path, monkeypatch):
    source = write(tmp_path, SPEC_INPUT, name="birds.manifest")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    convert_sagemaker_multilabel(source)
    assert (workdir / "custom_labels_birds.manifest").read_text() == SPEC_OUTPUT + "\n"


def _without(key: str) -> dict[str, Any]:
    line = gt_line("s3://b/1.jpg", [0], {0: "cat"})
    del line["birds-metadata"][key]
    return line


@pytest.mark.parametrize(("line", "message"), [
    ("{oops", "line 1 is not JSON"),
    ("[1, 2]", "line 1 is not a JSON object"),
    ({"birds": [0]}, "line 1: no 'source-ref'"),
    ({"source-ref": "https://b/1.jpg", "x": [0]}, "line 1 source-ref: .* not an s3:// URI"),
    ({"source-ref": "s3://b/1.jpg"}, "line 1: no label attribute"),
    ({"source-ref": "s3://b/1.jpg", "birds": [0]}, "line 1: no 'birds-metadata'"),
    ({**gt_line("s3://b/1.jpg", [0], {0: "cat"}), "birds": 0}, "not a list of class ids"),
    (gt_line("s3://b/1.jpg", [0, 7], {0: "cat"}), "class-map: no '7'"),
    (_without("confidence-map"), "birds-metadata: no 'confidence-map'"),
    (_without("creation-date"), "birds-metadata: no 'creation-date'"),
    (_without("human-annotated"), "birds-metadata: no 'human-annotated'"),
])
def test_lines_the_reference_script_would_crash_on_are_errors(tmp_path, line, message):
    out = tmp_path / "out.manifest"
    with pytest.raises(ConversionError, match=message):
        convert_sagemaker_multilabel(write(tmp_path, line), out)
    assert not out.exists()


def test_a_confidence_missing_for_one_class_names_the_map(tmp_path):
    line = gt_line("s3://b/1.jpg", [0, 1], {0: "cat", 1: "dog"})
    del line["birds-metadata"]["confidence-map"]["1"]
    with pytest.raises(ConversionError, match=r"output.manifest line 1 birds-metadata "
                                              "confidence-map: no '1'"):
        convert_sagemaker_multilabel(write(tmp_path, line), tmp_path / "o.manifest")


def test_an_empty_or_missing_input(tmp_path):
    with pytest.raises(ConversionError, match="has no lines"):
        convert_sagemaker_multilabel(write(tmp_path, ""), tmp_path / "o.manifest")
    with pytest.raises(ConversionError, match="cannot read"):
        convert_sagemaker_multilabel(tmp_path / "missing.manifest", tmp_path / "o.manifest")


def test_the_output_passes_the_services_parser(tmp_path):
    source = write(tmp_path, *(gt_line(f"s3://b/{n}.jpg", [n % 3, 3], {n % 3: f"c{n % 3}",
                                                                        3: "always"})
                               for n in range(6)))
    out = tmp_path / "out.manifest"
    convert_sagemaker_multilabel(source, out)
    entries = service_entries(out)
    assert all("always" in e.image_labels for e in entries) and len(entries) == 6
