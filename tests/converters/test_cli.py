"""`labelgate convert ...` and `labelgate export-coco`: files, stdout/stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from labelgate.cli._parser import EXIT_FAILURE, EXIT_PARAM, EXIT_SERVICE
from labelgate.converters import CocoOptions, convert_coco
from labelgate.v1 import custom_labels_pb2 as pb
from tests.client.fake_gateway import fail_with, fake_gateway
from tests.converters.samples import shelf
from tests.converters.service_parser import service_entries


def test_convert_coco_writes_the_manifest_and_prints_its_path(cli, tmp_path):
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(shelf()))
    out = tmp_path / "train.manifest"
    result = cli("convert", "coco", "--input", source, "--s3-prefix", "s3://b/images/",
                 "--output", out, "--job-name", "my-job")
    assert result.code == 0, result.err
    assert result.out == f"{out}\n"
    assert result.err == ("labelgate convert coco: 3 images (1 without boxes), 4 boxes, "
                          "2 labels\n")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["bounding-box-metadata"]["job-name"] == "my-job"
    assert len(service_entries(out)) == 3


def test_convert_coco_attribute_option(cli, tmp_path):
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(shelf()))
    result = cli("convert", "coco", "--input", source, "--s3-prefix", "s3://b/",
                 "--output", tmp_path / "m", "--attribute", "parts")
    assert result.code == 0, result.err
    assert "parts-metadata" in json.loads((tmp_path / "m").read_text().splitlines()[0])


def test_bad_input_is_one_line_and_exit_252(cli, tmp_path):
    source = tmp_path / "instances.json"
    document = shelf()
    document["annotations"][0]["image_id"] = 42
    source.write_text(json.dumps(document))
    result = cli("convert", "coco", "--input", source, "--s3-prefix", "s3://b/",
                 "--output", tmp_path / "m")
    assert result.code == EXIT_PARAM == 252
    assert result.err == ("labelgate convert coco: error: annotations[0] (id 10): image_id 42 "
                          "is not in images\n")
    assert result.out == ""
    assert not (tmp_path / "m").exists()


def test_a_missing_input_file_is_exit_252(cli, tmp_path):
    result = cli("convert", "coco", "--input", tmp_path / "none.json", "--output",
                 tmp_path / "m")
    assert result.code == EXIT_PARAM
    assert "cannot read" in result.err and result.err.count("\n") == 1


def test_an_unwritable_output_is_exit_255(cli, tmp_path):
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(shelf()))
    result = cli("convert", "coco", "--input", source, "--s3-prefix", "s3://b/",
                 "--output", tmp_path / "no" / "such" / "dir" / "m")
    assert result.code == EXIT_FAILURE
    assert result.err.startswith("OSError: cannot write ")


def test_missing_required_options_are_usage_errors(cli, tmp_path):
    assert cli("convert").code == EXIT_PARAM
    result = cli("convert", "coco", "--input", "x.json")
    assert result.code == EXIT_PARAM
    assert "--output" in result.err
    assert cli("convert", "yaml").code == EXIT_PARAM


def test_help_lists_the_converters(cli):
    result = cli("convert", "--help")
    assert result.code == 0
    for name in ("coco", "csv", "sagemaker-multilabel", "folders"):
        assert name in result.out


def test_global_options_still_work_around_the_command(cli, tmp_path):
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(shelf()))
    result = cli("--output", "text", "convert", "coco", "--input", source, "--s3-prefix",
                 "s3://b/", "--output", tmp_path / "m", "--debug")
    assert result.code == 0, result.err
    assert (tmp_path / "m").exists()


def test_convert_csv_default_output_and_the_reference_spelling_of_s3_path(cli, tmp_path):
    source = tmp_path / "rooms.csv"
    source.write_text("kitchen_01.jpg,kitchen\nbath_01.jpg,bath,wet\n")
    result = cli("convert", "csv", source, "--s3_path", "s3://b/rooms/")
    assert result.code == 0, result.err
    assert result.out == f"{tmp_path / 'rooms.manifest'}\n"
    assert result.err == ("labelgate convert csv: 2 images (0 without labels), 3 labels, "
                          "3 label assignments\n")
    assert [e.image_labels for e in service_entries(tmp_path / "rooms.manifest")] == [
        {"kitchen"}, {"bath", "wet"}]


def test_convert_csv_duplicates_stop_with_exit_252_and_the_helper_files(cli, tmp_path):
    source = tmp_path / "rooms.csv"
    source.write_text("a.jpg,x\na.jpg,y\n")
    result = cli("convert", "csv", source, "--s3-path", "s3://b/", "--output", tmp_path / "o")
    assert result.code == EXIT_PARAM
    assert result.err.startswith("labelgate convert csv: error: 1 duplicate image row in ")
    assert result.out == ""
    assert (tmp_path / "rooms-deduplicated.csv").read_text() == "a.jpg,x\n"
    assert (tmp_path / "rooms-duplicates.csv").read_text() == "a.jpg,y\n"
    assert not (tmp_path / "o").exists()


def test_convert_sagemaker_multilabel_default_output_in_the_current_directory(
        cli, tmp_path, monkeypatch):
    source = tmp_path / "output.manifest"
    source.write_text(json.dumps({
        "source-ref": "s3://b/1.jpg", "job": [0], "job-metadata": {
            "class-map": {"0": "cat"}, "confidence-map": {"0": 0.9}, "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00"}}) + "\n")
    monkeypatch.chdir(tmp_path)
    result = cli("convert", "sagemaker-multilabel", "--input", source)
    assert result.code == 0, result.err
    assert result.out == "custom_labels_output.manifest\n"
    assert service_entries(tmp_path / "custom_labels_output.manifest")[0].image_labels == {
        "cat"}


def test_convert_folders_from_a_local_directory(cli, tmp_path):
    for relative in ("cat/1.jpg", "dog/2.png", "3.jpeg"):
        (tmp_path / "tree" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / relative).write_bytes(b"")
    out = tmp_path / "tree.manifest"
    result = cli("convert", "folders", "--input", tmp_path / "tree", "--s3-prefix",
                 "s3://b/tree/", "--output", out)
    assert result.code == 0, result.err
    assert result.err == "labelgate convert folders: 3 images (1 without labels), 2 labels\n"
    assert [e.source_ref for e in service_entries(out)] == [
        "s3://b/tree/3.jpeg", "s3://b/tree/cat/1.jpg", "s3://b/tree/dog/2.png"]


def test_convert_folders_without_an_s3_prefix_for_a_directory(cli, tmp_path):
    result = cli("convert", "folders", "--input", tmp_path, "--output", tmp_path / "m")
    assert result.code == EXIT_PARAM
    assert "--s3-prefix" in result.err


# -- export-coco ------------------------------------------------------------------------------


def coco_manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "train.manifest"
    convert_coco(shelf(), manifest, CocoOptions(s3_prefix="s3://b/images/"))
    return manifest


def test_export_coco_from_a_manifest_file(cli, tmp_path):
    manifest = coco_manifest(tmp_path)
    out = tmp_path / "coco.json"
    result = cli("export-coco", "--manifest", manifest, "--output", out,
                 "--s3-prefix", "s3://b/images/")
    assert result.code == 0, result.err
    assert result.out == f"{out}\n"
    assert result.err == ("labelgate export-coco: 3 images, 4 boxes, 2 categories "
                          "(ids kept from class-maps)\n")
    coco = json.loads(out.read_text())
    assert [i["file_name"] for i in coco["images"]] == ["a.jpg", "sub/b.jpg", "c.jpg"]


def test_export_coco_from_a_live_dataset_follows_every_page(cli, tmp_path):
    entries = coco_manifest(tmp_path).read_text().splitlines()

    def list_entries(request, context):
        start = int(request.next_token or 0)
        following = str(start + 2) if start + 2 < len(entries) else None
        return pb.ListDatasetEntriesResponse(dataset_entries=entries[start:start + 2],
                                             next_token=following)

    out = tmp_path / "coco.json"
    with fake_gateway() as gateway:
        gateway.on("ListDatasetEntries", list_entries)
        result = cli("export-coco", "--dataset-arn", "arn:ds", "--output", out,
                     "--endpoint", gateway.address)
        requests = gateway.requests("ListDatasetEntries")
    assert result.code == 0, result.err
    assert [(r.dataset_arn, r.next_token) for r in requests] == [("arn:ds", ""), ("arn:ds", "2")]
    assert len(json.loads(out.read_text())["annotations"]) == 4


def test_export_coco_service_errors_are_exit_254(cli, tmp_path):
    with fake_gateway() as gateway:
        gateway.on("ListDatasetEntries", fail_with(grpc.StatusCode.NOT_FOUND, "no dataset",
                                                   "ResourceNotFoundException"))
        result = cli("--endpoint", gateway.address, "export-coco", "--dataset-arn", "arn:x",
                     "--output", tmp_path / "c.json")
    assert result.code == EXIT_SERVICE
    assert result.err.startswith("ResourceNotFoundException")
    assert not (tmp_path / "c.json").exists()


def test_export_coco_takes_exactly_one_source(cli, tmp_path):
    assert cli("export-coco", "--output", tmp_path / "c.json").code == EXIT_PARAM
    both = cli("export-coco", "--dataset-arn", "a", "--manifest", "m", "--output", "c.json")
    assert both.code == EXIT_PARAM and "not allowed with" in both.err


def test_export_coco_bad_manifest_is_exit_252(cli, tmp_path):
    manifest = tmp_path / "m"
    manifest.write_text("{oops\n")
    result = cli("export-coco", "--manifest", manifest, "--output", tmp_path / "c.json")
    assert result.code == EXIT_PARAM
    assert result.err.startswith(f"labelgate export-coco: error: {manifest} line 1 is not JSON")
    assert result.err.count("\n") == 1
