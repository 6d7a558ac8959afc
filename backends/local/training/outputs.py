"""Where a model version's training outputs go: the key layout under `OutputConfig`
(training.md §4.3 [DESIGN]) and the blob-store writes.

    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/validation/manifest_summary.json
    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/validation/training_manifest_with_validation.json
    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/validation/testing_manifest_with_validation.json

and, once a model is trained (§6.1, §7; the report is ours):

    s3://{S3Bucket}/{S3KeyPrefix}/EvaluationResultSummary-{ProjectName}-{VersionName}.json
    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/evaluation/training_snapshot.manifest
    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/evaluation/testing_snapshot.manifest
    s3://{S3Bucket}/{S3KeyPrefix}/{VersionName}/evaluation/report/index.html (and its PNGs)

An empty prefix puts `{VersionName}/...` at the top of the bucket; a trailing `/` on the
prefix is not doubled.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labelgate.backends.local.blobs.stores import BlobStore
from labelgate.errors import InvalidS3ObjectException

SUMMARY_NAME = "manifest_summary.json"
TRAINING_VALIDATION_NAME = "training_manifest_with_validation.json"
TESTING_VALIDATION_NAME = "testing_manifest_with_validation.json"
#: Written and deleted again to prove the location is writable before any real output.
WRITE_PROBE_NAME = ".labelgate-write-check"


class OutputNotWritable(Exception):
    """The OutputConfig location refused a write (ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET)."""


@dataclass(frozen=True)
class BlobLocation:
    bucket: str
    key: str

    def s3_object(self) -> dict[str, str]:
        """The AWS `S3Object` shape."""
        return {"Bucket": self.bucket, "Name": self.key}

    def ground_truth_manifest(self) -> dict[str, Any]:
        """The AWS `GroundTruthManifest` shape (ManifestSummary is one)."""
        return {"S3Object": self.s3_object()}

    def asset(self) -> dict[str, Any]:
        """The AWS `Asset` shape, as TrainingData/ValidationData list them."""
        return {"GroundTruthManifest": self.ground_truth_manifest()}


@dataclass(frozen=True)
class OutputLocation:
    """The OutputConfig of one model version."""

    bucket: str
    prefix: str
    version_name: str

    @classmethod
    def from_output_config(cls, output_config: dict[str, Any], version_name: str
                           ) -> OutputLocation:
        return cls(
            bucket=str(output_config.get("S3Bucket") or ""),
            prefix=str(output_config.get("S3KeyPrefix") or ""),
            version_name=version_name,
        )

    def key(self, *parts: str) -> str:
        base = self.prefix.rstrip("/")
        return "/".join(([base] if base else []) + [self.version_name, *parts])

    def validation(self, name: str) -> BlobLocation:
        return BlobLocation(self.bucket, self.key("validation", name))

    @property
    def summary(self) -> BlobLocation:
        return self.validation(SUMMARY_NAME)

    @property
    def training_validation(self) -> BlobLocation:
        return self.validation(TRAINING_VALIDATION_NAME)

    @property
    def testing_validation(self) -> BlobLocation:
        return self.validation(TESTING_VALIDATION_NAME)

    def evaluation(self, *parts: str) -> BlobLocation:
        """`{prefix}/{version}/evaluation/...`: the snapshots (§7) and the report."""
        return BlobLocation(self.bucket, self.key("evaluation", *parts))

    def top_level(self, name: str) -> BlobLocation:
        """`{prefix}/{name}`, beside the version folders: where the evaluation summary file
        goes (§6.1)."""
        base = self.prefix.rstrip("/")
        return BlobLocation(self.bucket, f"{base}/{name}" if base else name)

    def check_writable(self, blobs: BlobStore) -> None:
        """Write and delete a probe object where the outputs will go; OutputNotWritable if
        the store refuses (no such bucket, a key clash, no permission)."""
        probe = self.validation(WRITE_PROBE_NAME)
        try:
            blobs.put(probe.bucket, probe.key, b"")
            blobs.delete(probe.bucket, probe.key)
        except (InvalidS3ObjectException, OSError) as exc:
            raise OutputNotWritable(str(exc)) from exc


def upload_file(blobs: BlobStore, location: BlobLocation, path: Path) -> None:
    """Stream a local file into the blob store (never read into memory whole)."""
    try:
        with path.open("rb") as stream:
            blobs.put(location.bucket, location.key, stream)
    except (InvalidS3ObjectException, OSError) as exc:
        raise OutputNotWritable(str(exc)) from exc


def upload_json(blobs: BlobStore, location: BlobLocation, document: Any) -> None:
    data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    try:
        blobs.put(location.bucket, location.key, data)
    except (InvalidS3ObjectException, OSError) as exc:
        raise OutputNotWritable(str(exc)) from exc


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private temporary folder for one job's spooled files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="labelgate-training-") as name:
        yield Path(name)


class JsonLinesWriter:
    """Appends one JSON Line per call to a local file (a spool uploaded when complete)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")

    def write(self, line: str) -> None:
        self._file.write(line.rstrip("\r\n"))
        self._file.write("\n")
        self.lines += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
