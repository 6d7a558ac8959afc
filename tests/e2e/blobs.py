"""Objects in the test gateway's local blob store (what `s3://bucket/key` resolves to)."""

from __future__ import annotations

from pathlib import Path


def blob_path(gateway, bucket: str, key: str) -> Path:
    return Path(gateway.data_dir) / "s3" / bucket / key


def put_blob(gateway, bucket: str, key: str, data: bytes) -> Path:
    path = blob_path(gateway, bucket, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
