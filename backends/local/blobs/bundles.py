"""A trained model's bundle in the blob store.

The files of a trained version live in the installation's own bucket (config
`models_bucket`, default `labelgate-models`), never under the user's OutputConfig, which
the user may change or empty:

    {models_bucket}/{project}/{version}/{creation ms}/model.onnx
                                                     /model.json
                                                     /EvaluationResultSummary-{P}-{V}.json
                                                     /report/index.html, *.png

The creation time in the key keeps a re-created version of the same name from ever meeting
an older one's files. `project_versions.model_bundle` records the location and the file
list ({"bucket", "prefix", "files", "summary"}); serving loads model.onnx + model.json from
it, ExportProjectVersion zips the lot.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labelgate.backends.local.blobs.stores import BlobStore

log = logging.getLogger(__name__)

DEFAULT_MODELS_BUCKET = "labelgate-models"
BUNDLE_FORMAT_VERSION = 1
#: gRPC messages stay far below the default 4 MiB limit.
EXPORT_CHUNK_BYTES = 1 << 20
_SPOOL_IN_MEMORY = 8 << 20


@dataclass(frozen=True)
class ModelBundle:
    bucket: str
    prefix: str  # ends with "/"
    files: tuple[str, ...]  # relative to prefix: model.onnx, model.json, the summary, report/...
    summary: str = ""  # which of `files` is the evaluation summary file

    @classmethod
    def for_version(cls, bucket: str, project: str, version: str, creation_ms: str
                    ) -> ModelBundle:
        return cls(bucket, f"{project}/{version}/{creation_ms}/", ())

    def key(self, name: str) -> str:
        return self.prefix + name

    def with_files(self, files: Iterable[str], summary: str = "") -> ModelBundle:
        return ModelBundle(self.bucket, self.prefix, tuple(files), summary or self.summary)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": BUNDLE_FORMAT_VERSION, "bucket": self.bucket,
                "prefix": self.prefix, "files": list(self.files), "summary": self.summary}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelBundle:
        return cls(str(data["bucket"]), str(data["prefix"]),
                   tuple(str(f) for f in data.get("files", ())), str(data.get("summary", "")))


def upload_bundle(blobs: BlobStore, bundle: ModelBundle, sources: dict[str, Path]
                  ) -> ModelBundle:
    """Store `sources` (name in the bundle -> local file) under the bundle's prefix."""
    blobs.ensure_bucket(bundle.bucket)
    for name, path in sources.items():
        with path.open("rb") as stream:
            blobs.put(bundle.bucket, bundle.key(name), stream)
    return bundle.with_files(sources)


def delete_bundle(blobs: BlobStore, bundle: ModelBundle) -> None:
    """Best effort: a file that cannot be removed is logged, never an error for the caller."""
    for name in bundle.files:
        try:
            blobs.delete(bundle.bucket, bundle.key(name))
        except Exception:
            log.warning("could not delete s3://%s/%s", bundle.bucket, bundle.key(name),
                        exc_info=True)


def zip_bundle(blobs: BlobStore, bundle: ModelBundle) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    # model.onnx barely compresses; the JSON and HTML do.
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in bundle.files:
            with blobs.open(bundle.bucket, bundle.key(name)) as source, \
                    archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(EXPORT_CHUNK_BYTES):
                    target.write(chunk)
    spool.seek(0)
    return spool


__all__ = [
    "DEFAULT_MODELS_BUCKET",
    "ModelBundle",
    "delete_bundle",
    "upload_bundle",
    "zip_bundle",
]
