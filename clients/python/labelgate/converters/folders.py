"""A folder-per-label image tree -> image-level classification manifest (datasets.md §3.1).

The rules of the console's "label images from folder names" import:

* only images at or below the given location are included;
* an image's label is the name of the **first-level child folder** of the location that
  holds it, however deep it sits (`fruit/pear/green/g1.jpg` under `fruit` is `pear`);
* an image directly in the location gets **no label**: it is written with only its
  source-ref (an unlabelled image, which the service keeps and which can be labelled later).

The tree is read from a local directory (source-ref = the given S3 prefix + the path
relative to the directory, so the tree can be uploaded as is, e.g. with
`aws s3 sync DIR PREFIX`) or from an S3 location (source-ref = each object's own URI; an
S3-compatible store is reached with `endpoint_url`). An S3 location is a folder: `s3://b/fruit`
means the keys under `fruit/`, never `fruitcake/...`.

Which files count as images: a name ending in `.png`, `.jpg` or `.jpeg` (any case), decided
by the name alone in both modes, so a local tree and its uploaded copy give the same
manifest and listing S3 needs no object reads. Whether the bytes really are PNG/JPEG is
checked by the service's validator on import (ERROR_INVALID_IMAGE). Anything under a name
that starts with `.` (a hidden file or folder: `.DS_Store`, macOS `._photo.jpg` resource
forks, `.git/`) is skipped, in both modes. Lines are in path order, which is S3's listing
order too.

Each label becomes one attribute named after it with value 1 and its `-metadata`, exactly as
the CSV tool writes image-level labels (datasets.md §5.3); creation-date is the conversion time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.converters.conversion_errors import ConversionError, SourceAccessError
from labelgate.converters.manifest_lines import (
    MICROSECONDS_FORMAT,
    ManifestWriter,
    as_utc_naive,
    check_source_ref,
    classification_attributes,
    counted,
    join_s3,
    parse_s3_uri,
    utc_now,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class FolderImage:
    path: str  # relative to the given location, "/"-separated
    source_ref: str

    @property
    def label(self) -> str | None:
        return folder_label(self.path)


@dataclass
class FolderSummary:
    images: int = 0
    unlabelled_images: int = 0  # directly in the location
    labels: Counter[str] = field(default_factory=Counter)  # images per label
    skipped_not_images: int = 0
    skipped_hidden: int = 0

    def describe(self) -> list[str]:
        lines = [f"{counted(self.images, 'image')} ({self.unlabelled_images} without labels), "
                 f"{counted(len(self.labels), 'label')}"]
        if self.skipped_not_images or self.skipped_hidden:
            lines.append(f"skipped {counted(self.skipped_not_images, 'file')} that are not "
                         f".png/.jpg/.jpeg and {counted(self.skipped_hidden, 'hidden file')}")
        return lines


def folder_label(relative_path: str) -> str | None:
    """The first-level folder of a relative path, or None for a file directly in the
    location. Empty names (`a//b.jpg`, possible in S3 keys) are not folders."""
    parts = [part for part in relative_path.split("/") if part]
    return parts[0] if len(parts) > 1 else None


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _is_hidden(relative_path: str) -> bool:
    return any(part.startswith(".") for part in relative_path.split("/"))


def _keep(relative_path: str, summary: FolderSummary) -> bool:
    if _is_hidden(relative_path):
        summary.skipped_hidden += 1
        return False
    if not is_image_name(relative_path):
        summary.skipped_not_images += 1
        return False
    return True


def local_folder_images(root: str | os.PathLike[str], s3_prefix: str,
                        summary: FolderSummary) -> Iterator[FolderImage]:
    """The images of a local tree, in path order, addressed under `s3_prefix`."""
    base = Path(root)
    if not base.is_dir():
        raise ConversionError(f"{os.fspath(root)} is not a directory")
    parse_s3_uri(s3_prefix, what="S3 prefix")
    paths: list[str] = []
    for directory, _, files in os.walk(base):
        for name in files:
            paths.append(Path(directory, name).relative_to(base).as_posix())
    for relative in sorted(paths):
        if _keep(relative, summary):
            yield FolderImage(relative, join_s3(s3_prefix, relative))


def _list_keys(s3_client: Any, bucket: str, prefix: str, location: str) -> Iterator[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"]
    except ClientError as e:
        error = e.response.get("Error", {})
        raise SourceAccessError(f"cannot list {location}: {error.get('Code', '?')}: "
                                f"{error.get('Message', e)}") from None
    except BotoCoreError as e:
        raise SourceAccessError(f"cannot list {location}: {e}") from None


def s3_folder_images(location: str, summary: FolderSummary, *, s3_client: Any = None,
                     endpoint_url: str | None = None) -> Iterator[FolderImage]:
    """The images under an S3 location, in key order, each addressed by its own URI.

    `s3_client`: a boto3 S3 client to list with; by default one is made from the usual
    AWS configuration (environment, profile), with `endpoint_url` when given.
    """
    bucket, prefix = parse_s3_uri(location, what="S3 location")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # the location is a folder, not a key prefix
    if s3_client is None:
        try:  # only this mode needs it (the client's [s3] extra); keeps the CLI quick to start
            import boto3
        except ModuleNotFoundError:
            raise SourceAccessError(
                f"{location}: listing S3 needs boto3 (pip install 'labelgate-client[s3]')"
            ) from None

        s3_client = boto3.client("s3", endpoint_url=endpoint_url)
    for key in _list_keys(s3_client, bucket, prefix, location):
        relative = key[len(prefix):]
        if key.endswith("/") or not relative:  # folder markers the console creates
            continue
        if _keep(relative, summary):
            yield FolderImage(relative, f"s3://{bucket}/{key}")


def folder_manifest_lines(images: Iterable[FolderImage], created: str,
                          summary: FolderSummary) -> Iterator[dict[str, Any]]:
    for image in images:
        what = f"image {image.path}"
        line: dict[str, Any] = {"source-ref": check_source_ref(image.source_ref, what=what)}
        label = image.label
        if label is not None:
            line.update(classification_attributes([label], created, what=what))
            summary.labels[label] += 1
        summary.images += 1
        summary.unlabelled_images += label is None
        yield line


def convert_folders(source: str | os.PathLike[str], output: str | os.PathLike[str], *,
                    s3_prefix: str | None = None, endpoint_url: str | None = None,
                    s3_client: Any = None, now: dt.datetime | None = None) -> FolderSummary:
    """Convert a local directory (with `s3_prefix`) or an `s3://` location into a
    classification manifest at `output`."""
    summary = FolderSummary()
    location = os.fspath(source)
    images: Iterator[FolderImage]
    if location.startswith("s3://"):
        if s3_prefix is not None:
            raise ConversionError("an S3 prefix is only for a local directory: images under "
                                  "an S3 location keep their own URIs")
        images = s3_folder_images(location, summary, s3_client=s3_client,
                                  endpoint_url=endpoint_url)
    else:
        if s3_prefix is None:
            raise ConversionError("a local directory needs the S3 prefix it will be uploaded "
                                  "to, to build each image's source-ref (--s3-prefix)")
        images = local_folder_images(location, s3_prefix, summary)
    created = as_utc_naive(now or utc_now()).strftime(MICROSECONDS_FORMAT)
    empty = f"no .png/.jpg/.jpeg images under {location}"
    with ManifestWriter(output, empty_message=empty) as writer:
        for line in folder_manifest_lines(images, created, summary):
            writer.write(line)
    return summary
