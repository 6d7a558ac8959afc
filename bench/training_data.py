"""Staging the real datasets (LABELGATE_BENCH_DATA) into a gateway's local blob store.

Their manifests name images relative to the dataset folder; the gateway reads
`s3://bucket/key` objects, so each image is hard-linked (copied across file systems) into
`data_dir/s3/<bucket>/<dataset>/images/...` and each line's `source-ref` is rewritten to
match. A line transform (e.g. SageMaker multi-label -> Custom Labels) may run on the way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BUCKET = "bench-data"

LineTransform = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class StagedManifest:
    key: str  # object key in BUCKET
    lines: tuple[dict[str, Any], ...]  # as staged (s3:// source-refs)
    local_images: tuple[Path, ...]  # the original files, line by line

    @property
    def source(self) -> dict[str, Any]:
        """The DatasetSource of CreateDataset."""
        return {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": self.key}}}


def dataset_folder(name: str) -> Path:
    folder = Path(os.environ.get("LABELGATE_BENCH_DATA", SHARED_DATA)) / name
    if not folder.is_dir():
        raise SystemExit(f"benchmark data not found: {folder} (set LABELGATE_BENCH_DATA)")
    return folder


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def stage_manifest(data_dir: Path, dataset: str, manifests: Iterable[str], key: str,
                   transform: LineTransform | None = None) -> StagedManifest:
    """Concatenate `manifests` of the dataset into one staged manifest object `key`."""
    folder = dataset_folder(dataset)
    bucket_dir = data_dir / "s3" / BUCKET
    lines, images = [], []
    for name in manifests:
        for raw in (folder / name).read_text().splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            relative = line["source-ref"]
            _link(folder / relative, bucket_dir / dataset / relative)
            line["source-ref"] = f"s3://{BUCKET}/{dataset}/{relative}"
            if transform is not None:
                line = transform(line)
            lines.append(line)
            images.append(folder / relative)
    target = bucket_dir / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return StagedManifest(key=key, lines=tuple(lines), local_images=tuple(images))
