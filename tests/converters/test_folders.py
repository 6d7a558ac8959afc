"""Folder-per-label image tree -> classification manifest (datasets.md §3.1), from a local
directory and from an S3 location on a real S3-protocol server (moto_server)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from labelgate.cli._parser import EXIT_FAILURE
from labelgate.converters import ConversionError, SourceAccessError, convert_folders
from labelgate.converters.folders import folder_label
from tests.converters.service_parser import service_entries
from tests.fixtures_s3 import CREDENTIALS, REGION, moto_s3_server

NOW = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)

#: The spec's worked example (datasets.md §3.1) plus files that are not images or are hidden.
TREE = {
    "apple/a1.jpg": b"\xff\xd8\xff",
    "pear/p1.jpg": b"\xff\xd8\xff",
    "pear/green/g1.jpg": b"\xff\xd8\xff",
    "loose.jpg": b"\xff\xd8\xff",
    "cherry/deep/er/c1.PNG": b"\x89PNG",
    "cherry/c2.Jpeg": b"\xff\xd8\xff",
    "apple/notes.txt": b"not an image",
    "apple/anim.gif": b"GIF89a",
    "apple/._a1.jpg": b"macOS resource fork",
    ".thumbnails/t.jpg": b"\xff\xd8\xff",
    "pear/.DS_Store": b"",
}
#: (path, label) of the images in TREE, in path order.
EXPECTED = [
    ("apple/a1.jpg", "apple"),
    ("cherry/c2.Jpeg", "cherry"),
    ("cherry/deep/er/c1.PNG", "cherry"),
    ("loose.jpg", None),
    ("pear/green/g1.jpg", "pear"),  # the deeper folder name is ignored
    ("pear/p1.jpg", "pear"),
]


def make_tree(root: Path, files: dict[str, bytes] = TREE) -> Path:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_manifest(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def labels_of(line: dict[str, Any]) -> list[str]:
    return [v["class-name"] for k, v in line.items() if k.endswith("-metadata")]


@pytest.mark.parametrize(("path", "label"), [
    ("apple/a1.jpg", "apple"), ("pear/green/g1.jpg", "pear"), ("loose.jpg", None),
    ("a//b.jpg", "a"), ("/b.jpg", None),
])
def test_the_label_is_the_first_level_folder(path, label):
    assert folder_label(path) == label


# -- a local directory ------------------------------------------------------------------------


def test_a_local_tree_follows_the_spec_example(tmp_path):
    root = make_tree(tmp_path / "fruit")
    out = tmp_path / "fruit.manifest"
    summary = convert_folders(root, out, s3_prefix="s3://my-bucket/fruit/", now=NOW)
    lines = read_manifest(out)
    assert [(line["source-ref"], labels_of(line)) for line in lines] == [
        (f"s3://my-bucket/fruit/{path}", [label] if label else []) for path, label in EXPECTED]
    assert summary.describe() == [
        "6 images (1 without labels), 3 labels",
        "skipped 2 files that are not .png/.jpg/.jpeg and 3 hidden files"]
    assert summary.labels == {"apple": 1, "cherry": 2, "pear": 2}


def test_an_image_directly_in_the_location_gets_no_label(tmp_path):
    root = make_tree(tmp_path / "fruit")
    convert_folders(root, tmp_path / "m", s3_prefix="s3://b/fruit", now=NOW)
    loose = next(e for e in service_entries(tmp_path / "m")
                 if e.source_ref.endswith("/loose.jpg"))
    assert loose.image_labels == set() and loose.warnings == {"WARNING_UNANNOTATED_RECORD"}
    assert read_manifest(tmp_path / "m")[3] == {"source-ref": "s3://b/fruit/loose.jpg"}


def test_a_deeper_location_labels_by_its_own_child_folders(tmp_path):
    root = make_tree(tmp_path / "fruit")
    out = tmp_path / "pear.manifest"
    convert_folders(root / "pear", out, s3_prefix="s3://my-bucket/fruit/pear", now=NOW)
    assert [(line["source-ref"], labels_of(line)) for line in read_manifest(out)] == [
        ("s3://my-bucket/fruit/pear/green/g1.jpg", ["green"]),
        ("s3://my-bucket/fruit/pear/p1.jpg", []),
    ]


def test_each_label_is_written_the_way_the_csv_tool_writes_it(tmp_path):
    root = make_tree(tmp_path / "fruit", {"apple/a1.jpg": b""})
    convert_folders(root, tmp_path / "m", s3_prefix="s3://b/", now=NOW)
    assert read_manifest(tmp_path / "m") == [{
        "source-ref": "s3://b/apple/a1.jpg", "apple": 1, "apple-metadata": {
            "confidence": 1, "job-name": "labeling-job/apple", "class-name": "apple",
            "human-annotated": "yes", "creation-date": "2024-01-02T03:04:05.678901",
            "type": "groundtruth/image-classification"}}]


def test_the_output_passes_the_services_parser(tmp_path):
    root = make_tree(tmp_path / "fruit")
    convert_folders(root, tmp_path / "m", s3_prefix="s3://b/fruit/", now=NOW)
    entries = service_entries(tmp_path / "m")
    assert [sorted(e.image_labels) for e in entries] == [
        [label] if label else [] for _, label in EXPECTED]


def test_a_local_directory_needs_an_s3_prefix(tmp_path):
    root = make_tree(tmp_path / "fruit")
    with pytest.raises(ConversionError, match="needs the S3 prefix"):
        convert_folders(root, tmp_path / "m")
    with pytest.raises(ConversionError, match="S3 prefix: 'bucket/fruit' is not an s3://"):
        convert_folders(root, tmp_path / "m", s3_prefix="bucket/fruit")


def test_a_missing_directory_or_one_without_images(tmp_path):
    with pytest.raises(ConversionError, match="is not a directory"):
        convert_folders(tmp_path / "nope", tmp_path / "m", s3_prefix="s3://b/")
    make_tree(tmp_path / "empty", {"readme.txt": b"hi"})
    with pytest.raises(ConversionError, match=r"no \.png/\.jpg/\.jpeg images under"):
        convert_folders(tmp_path / "empty", tmp_path / "m", s3_prefix="s3://b/")
    assert not (tmp_path / "m").exists()


def test_a_folder_named_like_a_line_key_is_an_error(tmp_path):
    root = make_tree(tmp_path / "t", {"source-ref/a.jpg": b""})
    with pytest.raises(ConversionError, match=r"image source-ref/a\.jpg: 'source-ref' cannot"):
        convert_folders(root, tmp_path / "m", s3_prefix="s3://b/")


# -- an S3 location -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, Any]]:
    with moto_s3_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
        yield endpoint, client


@pytest.fixture
def bucket(s3) -> str:
    _, client = s3
    name = f"fruit-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    for relative, data in TREE.items():
        client.put_object(Bucket=name, Key=f"fruit/{relative}", Body=data)
    client.put_object(Bucket=name, Key="fruit/pear/", Body=b"")  # a console folder marker
    client.put_object(Bucket=name, Key="fruitcake/cake.jpg", Body=b"")  # not under fruit/
    client.put_object(Bucket=name, Key="top.jpg", Body=b"")
    return name


@pytest.mark.parametrize("location", ["fruit", "fruit/"])
def test_an_s3_location_gives_the_same_manifest_as_its_local_copy(tmp_path, s3, bucket,
                                                                   location):
    _, client = s3
    from_s3 = tmp_path / "s3.manifest"
    summary = convert_folders(f"s3://{bucket}/{location}", from_s3, s3_client=client, now=NOW)
    from_disk = tmp_path / "local.manifest"
    local = convert_folders(make_tree(tmp_path / "fruit"), from_disk,
                            s3_prefix=f"s3://{bucket}/fruit/", now=NOW)
    assert from_s3.read_text() == from_disk.read_text()
    assert summary == local
    assert [line["source-ref"] for line in read_manifest(from_s3)] == [
        f"s3://{bucket}/fruit/{path}" for path, _ in EXPECTED]  # not fruitcake/
    service_entries(from_s3)


def test_a_deeper_s3_location(tmp_path, s3, bucket):
    _, client = s3
    out = tmp_path / "m"
    convert_folders(f"s3://{bucket}/fruit/pear", out, s3_client=client, now=NOW)
    assert [(line["source-ref"], labels_of(line)) for line in read_manifest(out)] == [
        (f"s3://{bucket}/fruit/pear/green/g1.jpg", ["green"]),
        (f"s3://{bucket}/fruit/pear/p1.jpg", []),
    ]


def test_a_whole_bucket_is_a_location(tmp_path, s3, bucket):
    _, client = s3
    out = tmp_path / "m"
    convert_folders(f"s3://{bucket}", out, s3_client=client, now=NOW)
    lines = read_manifest(out)
    assert {labels_of(line)[0] if labels_of(line) else None for line in lines} == {
        "fruit", "fruitcake", None}
    assert lines[-1] == {"source-ref": f"s3://{bucket}/top.jpg"}


def test_the_endpoint_url_reaches_an_s3_compatible_store(tmp_path, s3, bucket, monkeypatch):
    endpoint, _ = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    summary = convert_folders(f"s3://{bucket}/fruit/", tmp_path / "m", endpoint_url=endpoint)
    assert summary.images == len(EXPECTED)


def test_an_s3_location_takes_no_s3_prefix(tmp_path, s3, bucket):
    with pytest.raises(ConversionError, match="only for a local directory"):
        convert_folders(f"s3://{bucket}/fruit/", tmp_path / "m", s3_prefix="s3://x/",
                        s3_client=s3[1])


def test_an_s3_location_that_cannot_be_listed(tmp_path, s3):
    with pytest.raises(SourceAccessError, match="cannot list s3://no-such-bucket-x/a: "
                                                "NoSuchBucket"):
        convert_folders("s3://no-such-bucket-x/a", tmp_path / "m", s3_client=s3[1])
    assert list(tmp_path.iterdir()) == []


def test_an_empty_s3_location(tmp_path, s3, bucket):
    with pytest.raises(ConversionError, match=r"no \.png/\.jpg/\.jpeg images under"):
        convert_folders(f"s3://{bucket}/nothing-here/", tmp_path / "m", s3_client=s3[1])


def test_cli_lists_an_s3_location_through_endpoint_url(cli, tmp_path, s3, bucket, monkeypatch):
    endpoint, _ = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    out = tmp_path / "fruit.manifest"
    result = cli("convert", "folders", "--input", f"s3://{bucket}/fruit/", "--endpoint-url",
                 endpoint, "--output", out)
    assert result.code == 0, result.err
    assert result.out == f"{out}\n"
    assert result.err.startswith("labelgate convert folders: 6 images (1 without labels), "
                                 "3 labels\n")
    assert len(service_entries(out)) == len(EXPECTED)

    missing = cli("convert", "folders", "--input", "s3://no-such-bucket-y/", "--endpoint-url",
                  endpoint, "--output", out)
    assert missing.code == EXIT_FAILURE == 255  # not the command line's fault
    assert missing.err.startswith("SourceAccessError: cannot list s3://no-such-bucket-y/: "
                                  "NoSuchBucket")
