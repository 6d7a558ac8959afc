"""The local backend on an S3-protocol blob store: a real moto_server on loopback.

The manifest lives in S3, `CreateDataset` names it by `GroundTruthManifest.S3Object`, and
the gateway reads it through boto3 exactly as it would from any S3-compatible server.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from labelgate import errors
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from tests.e2e.test_control_plane_over_grpc import BUCKET, IMAGE, TRAIN_LINES, WAIT, _manifest
from tests.fixtures_s3 import moto_s3_server

CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.mark.slow
def test_dataset_from_a_manifest_in_an_s3_compatible_store(s3_endpoint, tmp_path):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="datasets")
    s3.put_object(Bucket="datasets", Key="cats/train.manifest", Body=_manifest(TRAIN_LINES))
    s3.create_bucket(Bucket=BUCKET)  # the images: datasets validate them
    for line in TRAIN_LINES:
        s3.put_object(Bucket=BUCKET, Key=line["source-ref"].removeprefix(f"s3://{BUCKET}/"),
                      Body=IMAGE)
    local = {"blob_store": "s3", "s3_endpoint_url": s3_endpoint, "s3_region": "us-east-1",
             **CREDENTIALS}
    settings = Settings(data_dir=tmp_path, backends={"local": local}, shutdown_grace_seconds=1)
    with running_gateway(settings) as gateway, Client(gateway.address) as client:
        project = client.create_project(project_name="s3-backed").project_arn
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": "datasets",
                                                       "Name": "cats/train.manifest"}}}
        arn = client.create_dataset(project_arn=project, dataset_type="TRAIN",
                                    dataset_source=source).dataset_arn
        client.wait_dataset_created(arn, **WAIT)
        stats = client.describe_dataset(dataset_arn=arn).dataset_description.dataset_stats
        assert (stats.total_entries, stats.total_labels) == (21, 2)
        missing = {"GroundTruthManifest": {"S3Object": {"Bucket": "datasets", "Name": "nope"}}}
        other = client.create_project(project_name="s3-missing").project_arn
        with pytest.raises(errors.InvalidS3ObjectException):
            client.create_dataset(project_arn=other, dataset_type="TRAIN", dataset_source=missing)
    assert not (tmp_path / "s3").exists(), "an S3-backed gateway writes no local blobs"
