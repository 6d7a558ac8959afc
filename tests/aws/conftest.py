"""Gateways for the AWS-protocol tests.

`front`: a gateway running the local backend with its AWS-compatible HTTP front on a free
port (the test learner trains in seconds). `boto3_client(front)` is an unmodified boto3
Rekognition client pointed at it. `proxy`: a second gateway whose only backend is `aws`,
pointed at `front`'s HTTP port, so a gRPC call to it goes labelgate -> boto3 -> HTTP ->
labelgate -> local backend.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from labelgate.server.config import Settings
from labelgate.server.testing import RunningGateway, running_gateway

BUCKET = "aws-bucket"
COLOURS = {"red": (220, 30, 30), "blue": (30, 40, 220)}
KEY_ID, SECRET = "AKIDLABELGATETEST", "labelgate-test-secret"


def png(colour: tuple[int, int, int], size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Front:
    gateway: RunningGateway
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.gateway.aws_port}"

    def put(self, key: str, data: bytes) -> None:
        path = self.data_dir / "s3" / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def stage_images(self, per_label: int = 4) -> str:
        """Images of two colours and a classification manifest; returns its key."""
        lines = []
        for label, colour in COLOURS.items():
            for i in range(per_label):
                key = f"images/{label}_{i}.png"
                self.put(key, png(tuple(max(0, c - 6 * i) for c in colour)))
                lines.append({
                    "source-ref": f"s3://{BUCKET}/{key}", "colour": 1,
                    "colour-metadata": {
                        "confidence": 1, "class-name": label, "human-annotated": "yes",
                        "creation-date": "2026-11-26T12:00:00", "job-name": "labels",
                        "type": "groundtruth/image-classification",
                    },
                })
        self.put("train.manifest", "".join(json.dumps(x) + "\n" for x in lines).encode())
        return "train.manifest"


def boto3_client(url: str, *, key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    return boto3.client(
        "rekognition", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _settings(data_dir: Path, **fields: Any) -> Settings:
    return Settings(data_dir=data_dir, shutdown_grace_seconds=1.0, **fields)


@pytest.fixture
def front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Front]:
    data_dir = tmp_path / "front"
    settings = _settings(data_dir, aws_port=-1, backends={"local": {
        "training_threads": 1, "serving_calibration_seconds": 0.01,
        "training_learner": "fake"}})
    with running_gateway(settings) as gateway:
        yield Front(gateway, data_dir)


@pytest.fixture
def signed_front(tmp_path: Path) -> Iterator[Front]:
    data_dir = tmp_path / "signed"
    with running_gateway(_settings(data_dir, aws_port=-1,
                                   aws_access_keys={KEY_ID: SECRET})) as gateway:
        yield Front(gateway, data_dir)


@pytest.fixture
def proxy(front: Front, tmp_path: Path) -> Iterator[RunningGateway]:
    settings = _settings(tmp_path / "proxy", default_backend="aws", backends={"aws": {
        "endpoint_url": front.url, "region": "us-east-1", "arn_prefixes": ["arn:labelgate:"],
        "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, "max_attempts": 1,
    }})
    with running_gateway(settings) as gateway:
        yield gateway
