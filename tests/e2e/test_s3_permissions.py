"""Spec 02 §2.3-§2.4 permission and owner errors, end to end against a real S3-protocol
server: client -> gRPC -> gateway -> local backend on `blob_store = "s3"` -> boto3 ->
moto_server on loopback. No mocks in the request path.

Codes produced here:

* `ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET` (`The S3 bucket permissions are
  incorrect.`): a dataset import and a training run on a manifest the gateway may not read.
* `ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET`: training on images the gateway may not
  read (manifest_summary.json), and a dataset import of such images.
* `ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET` (`Unable to write to output S3 bucket.`): an
  OutputConfig bucket the gateway may not write to.
* `ERROR_INVALID_IMAGES_S3_BUCKET_OWNER`: images in a bucket of another account.

Two servers, each this module's own process (moto's settings are process-wide, so the
other S3 tests never see them):

* `iam` is plain moto_server. After the setup, IAM enforcement is switched on
  (fixtures_s3.enforce_iam: moto's INITIAL_NO_AUTH_ACTION_COUNT). From then on every request
  is signature-checked and authorised by moto against the caller's IAM policies. The
  gateway signs as IAM user `labelgate`, whose policy allows `s3:*` but denies
  `s3:GetObject` on buckets named `locked-*` and `s3:PutObject` on buckets named
  `readonly-*`; moto then answers 403 (`AccessDenied` on GET/PUT, a bare 403 on HEAD). The
  other refusal is a bucket policy that denies `s3:GetObject` to everyone (moto applies
  bucket policies whether IAM enforcement is on or not; it checks a HEAD against
  `s3:HeadObject`, so only the GET is refused: the read after the HEAD must be handled too).
* `owners` runs moto through the labelled test shim tests/moto_bucket_owners.py. Plain moto
  5.2.5 answers GetBucketAcl with one hard-coded owner for every bucket of every account
  (`test_plain_moto_names_one_owner_for_every_account` pins that), so no request to it can
  show two owners. The shim replaces only that handler, deriving `Owner.ID` from the
  account that created the bucket. The second account's bucket is created through moto's
  own `x-moto-account-id` request header.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.fixtures_s3 import REGION, enforce_iam, moto_s3_server

pytestmark = pytest.mark.slow

OTHER_ACCOUNT = "222222222222"
DEADLINE_S = 60.0
MANIFEST_PERMISSIONS = "The S3 bucket permissions are incorrect."
IMAGES_PERMISSIONS = "The permissions for the images S3 bucket are invalid."
IMAGES_OWNER = "Invalid owner id for images S3 bucket."
CANNOT_WRITE_OUTPUT = "Unable to write to output S3 bucket."

GATEWAY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::locked-*/*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::readonly-*/*"},
    ],
}
ADMIN_POLICY = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _client(service: str, url: str, key: str = "testing", secret: str = "testing",
            *, account: str | None = None) -> Any:
    client = boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    if account is not None:  # moto's header for "this request is made by that account"
        def as_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.*.*", as_account)
    return client


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 80), (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


def _cls(ref: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": ref,
        "kind": 1,
        "kind-metadata": {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification", "job-name": "labeling-job/kind",
        },
    }


def _source(bucket: str, key: str) -> dict[str, Any]:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}


@dataclass
class World:
    """One moto server, the S3 client the tests set data up with, and a gateway on it."""

    url: str
    s3: Any  # may do anything
    client: Client

    def bucket(self, name: str, *, s3: Any = None) -> str:
        (s3 or self.s3).create_bucket(Bucket=name)
        return name

    def images(self, bucket: str, prefix: str, labels: list[str], *, s3: Any = None
               ) -> list[dict[str, Any]]:
        lines = []
        for i, label in enumerate(labels):
            key = f"{prefix}/{i:03}.png"
            (s3 or self.s3).put_object(Bucket=bucket, Key=key, Body=PNG)
            lines.append(_cls(f"s3://{bucket}/{key}", label))
        return lines

    def manifest(self, bucket: str, key: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"Assets": [_source(bucket, key)]}

    def dataset(self, name: str, bucket: str, key: str) -> pb.DatasetDescription:
        """CreateDataset from s3://bucket/key; the description once the import ended."""
        project = self.client.create_project(project_name=name).project_arn
        arn = self.client.create_dataset(project_arn=project, dataset_type="TRAIN",
                                         dataset_source=_source(bucket, key)).dataset_arn
        deadline = time.monotonic() + DEADLINE_S
        while True:
            desc = self.client.describe_dataset(dataset_arn=arn).dataset_description
            if desc.status != pb.DATASET_STATUS_CREATE_IN_PROGRESS:
                return desc
            assert time.monotonic() < deadline, "the dataset import did not end"
            time.sleep(0.05)

    def train(self, name: str, *, output: str, training: dict[str, Any],
              testing: dict[str, Any]) -> pb.ProjectVersionDescription:
        """CreateProjectVersion on external manifests; the description once it ended."""
        project = self.client.create_project(project_name=name).project_arn
        self.client.create_project_version(
            project_arn=project, version_name="v1",
            output_config={"S3Bucket": output, "S3KeyPrefix": "runs"},
            training_data=training, testing_data=testing,
        )
        return self.wait_version(project)

    def wait_version(self, project: str) -> pb.ProjectVersionDescription:
        """Version v1's description once it left TRAINING_IN_PROGRESS."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            (desc,) = self.client.describe_project_versions(
                project_arn=project, version_names=["v1"]).project_version_descriptions
            if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS:
                return desc
            assert time.monotonic() < deadline, "validation did not end"
            time.sleep(0.05)

    def read_json(self, s3_object: pb.S3Object) -> Any:
        body = self.s3.get_object(Bucket=s3_object.bucket, Key=s3_object.name)["Body"]
        return json.loads(body.read())

    def read_lines(self, result: pb.TrainingDataResult | pb.TestingDataResult) -> list[Any]:
        s3 = result.validation.assets[0].ground_truth_manifest.s3_object
        body = self.s3.get_object(Bucket=s3.bucket, Key=s3.name)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines()]

    def keys(self, bucket: str) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _gateway_settings(data_dir: Path, url: str, key: str, secret: str) -> Settings:
    local = {"blob_store": "s3", "s3_endpoint_url": url, "s3_region": REGION,
             "s3_access_key_id": key, "s3_secret_access_key": secret}
    return Settings(data_dir=data_dir, backends={"local": local}, shutdown_grace_seconds=1)


def _access_key(iam: Any, user: str, policy: dict[str, Any]) -> tuple[str, str]:
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName=f"{user}-s3",
                        PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def iam(tmp_path_factory) -> Iterator[World]:
    with moto_s3_server() as url:
        setup = _client("iam", url)
        admin = _access_key(setup, "admin", ADMIN_POLICY)
        gateway_key = _access_key(setup, "labelgate", GATEWAY_POLICY)
        enforce_iam(url)
        s3 = _client("s3", url, *admin)
        with pytest.raises(ClientError) as refused:  # enforcement is really on
            _client("s3", url).list_buckets()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        settings = _gateway_settings(tmp_path_factory.mktemp("iam-gw"), url, *gateway_key)
        with running_gateway(settings) as gateway, Client(gateway.address) as client:
            yield World(url, s3, client)


@pytest.fixture(scope="module")
def owners(tmp_path_factory) -> Iterator[World]:
    with moto_s3_server(per_account_bucket_owners=True) as url:
        settings = _gateway_settings(tmp_path_factory.mktemp("owners-gw"), url,
                                     "testing", "testing")
        with running_gateway(settings) as gateway, Client(gateway.address) as client:
            yield World(url, _client("s3", url), client)


def _deny_get_to_everyone(world: World, bucket: str) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    world.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _code(desc: pb.DatasetDescription) -> int:
    return desc.status_message_code


# --- ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET ---------------------------------------------


def test_dataset_manifest_the_gateway_may_not_read_is_error_invalid_permissions_manifest(iam):
    """ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET on CreateDataset: moto refuses the
    gateway's HEAD and GET (IAM policy). The call itself succeeds; the dataset ends
    CREATE_FAILED / CLIENT_ERROR with the code and message (datasets.md §7.1)."""
    images = iam.bucket("open-dataset-imgs")
    lines = iam.images(images, "a", ["cat", "dog", "cat", "dog"])
    for bucket in (iam.bucket("locked-dataset-manifests"), iam.bucket("open-dataset-manifests")):
        iam.manifest(bucket, "train.manifest", lines)

    desc = iam.dataset("perm-ds-locked", "locked-dataset-manifests", "train.manifest")
    assert desc.status == pb.DATASET_STATUS_CREATE_FAILED
    assert _code(desc) == pb.DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR
    assert desc.status_message.startswith(
        f"ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET: {MANIFEST_PERMISSIONS}")
    assert desc.dataset_stats.total_entries == 0

    control = iam.dataset("perm-ds-open", "open-dataset-manifests", "train.manifest")
    assert control.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert control.dataset_stats.total_entries == 4


def test_training_manifest_a_bucket_policy_denies_is_error_invalid_permissions_manifest(iam):
    """ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET in training: a bucket policy denies
    s3:GetObject (moto lets the HEAD through, refuses the GET). A manifest file error:
    TRAINING_FAILED with the bare message, no summary, no validation files (training.md §2.1)."""
    images = iam.bucket("open-train-imgs")
    manifests = iam.bucket("policy-train-manifests")
    training = iam.manifest(manifests, "train.manifest",
                            iam.images(images, "t", ["cat", "dog"] * 3))
    testing = iam.manifest(manifests, "test.manifest", iam.images(images, "s", ["cat", "dog"]))
    _deny_get_to_everyone(iam, manifests)
    output = iam.bucket("open-out-manifest")

    desc = iam.train("perm-train-manifest", output=output, training=training, testing=testing)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == MANIFEST_PERMISSIONS
    assert not desc.HasField("manifest_summary")
    assert not desc.training_data_result.HasField("validation")
    assert iam.keys(output) == []


# --- ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET -----------------------------------------------


def test_training_images_the_gateway_may_not_read_is_error_invalid_permissions_images(iam):
    """ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET: the training images are in a bucket the
    gateway's IAM policy may not read. A content error: TRAINING_FAILED with its message,
    the code first in statistics.training.errors, each refused line ERROR_INVALID_IMAGE."""
    locked = iam.bucket("locked-train-imgs")
    open_images = iam.bucket("open-test-imgs")
    manifests = iam.bucket("open-manifests-images")
    training = iam.manifest(manifests, "train.manifest",
                            iam.images(locked, "t", ["cat", "dog"] * 3))
    testing = iam.manifest(manifests, "test.manifest",
                           iam.images(open_images, "s", ["cat", "dog"]))
    output = iam.bucket("open-out-images")

    desc = iam.train("perm-train-images", output=output, training=training, testing=testing)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == IMAGES_PERMISSIONS
    summary = iam.read_json(desc.manifest_summary.s3_object)
    train, test = summary["statistics"]["training"], summary["statistics"]["testing"]
    assert train["errors"][0] == {"code": "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",
                                  "message": IMAGES_PERMISSIONS}
    assert (train["invalid_json_lines"], train["error_json_line_indices"]) == (6, [1, 2, 3, 4,
                                                                                 5, 6])
    assert test["errors"] == [] and test["invalid_json_lines"] == 0  # its images are fine
    for line in iam.read_lines(desc.training_data_result):
        assert [e["code"] for e in line["errors"]] == ["ERROR_INVALID_IMAGE"]


def test_dataset_images_a_bucket_policy_denies_is_error_invalid_permissions_images(iam):
    """ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET on CreateDataset: more than 20 % of the
    images are refused (bucket policy; HEAD allowed, GET refused), which fails the import
    with the permission code rather than the generic too-many-records one."""
    images = iam.bucket("policy-dataset-imgs")
    lines = iam.images(images, "a", ["cat", "dog", "cat", "dog", "cat"])
    _deny_get_to_everyone(iam, images)
    iam.manifest(iam.bucket("open-dataset-img-manifests"), "train.manifest", lines)

    desc = iam.dataset("perm-ds-images", "open-dataset-img-manifests", "train.manifest")
    assert desc.status == pb.DATASET_STATUS_CREATE_FAILED
    assert _code(desc) == pb.DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR
    assert desc.status_message.startswith(
        f"ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET: {IMAGES_PERMISSIONS}")


# --- ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET ------------------------------------------------------


def test_output_bucket_the_gateway_may_not_write_is_error_cannot_write_output(iam):
    """ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET: the gateway's IAM policy denies s3:PutObject on
    the OutputConfig bucket. A file-level error: the bare message, no summary."""
    images = iam.bucket("open-out-test-imgs")
    manifests = iam.bucket("open-out-test-manifests")
    training = iam.manifest(manifests, "train.manifest",
                            iam.images(images, "t", ["cat", "dog"] * 3))
    testing = iam.manifest(manifests, "test.manifest", iam.images(images, "s", ["cat", "dog"]))
    output = iam.bucket("readonly-out")

    desc = iam.train("perm-output", output=output, training=training, testing=testing)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == CANNOT_WRITE_OUTPUT
    assert not desc.HasField("manifest_summary")
    assert iam.keys(output) == []


# --- ERROR_INVALID_IMAGES_S3_BUCKET_OWNER -----------------------------------------------------


def test_plain_moto_names_one_owner_for_every_account(iam):
    """Why the owner tests need tests/moto_bucket_owners.py: unmodified moto gives buckets of
    two accounts the same GetBucketAcl owner. If this starts failing, moto reports real
    owners and the shim can go."""
    mine = iam.bucket("acl-probe-mine")
    enforce_iam(iam.url, False)  # the other account has no IAM identity to sign with
    try:
        other = _client("s3", iam.url, account=OTHER_ACCOUNT)
        other.create_bucket(Bucket="acl-probe-other")
        owner_ids = {iam.s3.get_bucket_acl(Bucket=mine)["Owner"]["ID"],
                     other.get_bucket_acl(Bucket="acl-probe-other")["Owner"]["ID"]}
        listed = {b["Name"] for b in iam.s3.list_buckets()["Buckets"]}
    finally:
        enforce_iam(iam.url)
    assert "acl-probe-other" not in listed  # the buckets really are in two accounts
    assert len(owner_ids) == 1


def test_images_bucket_of_another_owner_is_error_invalid_images_bucket_owner(owners):
    """ERROR_INVALID_IMAGES_S3_BUCKET_OWNER: the training images are in a bucket of another
    account (GetBucketAcl Owner.ID differs from the manifest bucket's). The images can be
    read; the owner check alone fails the training manifest. The test images share the
    manifest bucket's owner: no error on that side."""
    other = _client("s3", owners.url, account=OTHER_ACCOUNT)
    foreign = owners.bucket("foreign-imgs", s3=other)
    mine = owners.bucket("own-imgs")
    manifests = owners.bucket("own-manifests")
    assert (owners.s3.get_bucket_acl(Bucket=foreign)["Owner"]["ID"]
            != owners.s3.get_bucket_acl(Bucket=manifests)["Owner"]["ID"])
    training = owners.manifest(manifests, "train.manifest",
                               owners.images(foreign, "t", ["cat", "dog"] * 3, s3=other))
    testing = owners.manifest(manifests, "test.manifest",
                              owners.images(mine, "s", ["cat", "dog"]))
    output = owners.bucket("own-out")

    desc = owners.train("owner-train", output=output, training=training, testing=testing)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == IMAGES_OWNER
    summary = owners.read_json(desc.manifest_summary.s3_object)
    train, test = summary["statistics"]["training"], summary["statistics"]["testing"]
    assert train["errors"] == [{"code": "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER",
                                "message": IMAGES_OWNER}]
    assert train["valid_json_lines"] == 6  # the images themselves were fine
    assert test["errors"] == [] and summary["errors"] == []


def test_project_datasets_with_images_of_another_owner_are_error_invalid_images_owner(owners):
    """ERROR_INVALID_IMAGES_S3_BUCKET_OWNER when training from project datasets: a dataset
    keeps no manifest bucket, so the OutputConfig bucket's owner is the one to match."""
    other = _client("s3", owners.url, account=OTHER_ACCOUNT)
    foreign = owners.bucket("foreign-ds-imgs", s3=other)
    mine = owners.bucket("own-ds-imgs")
    manifests = owners.bucket("own-ds-manifests")
    owners.manifest(manifests, "train.manifest",
                    owners.images(foreign, "t", ["cat", "dog"] * 3, s3=other))
    owners.manifest(manifests, "test.manifest", owners.images(mine, "s", ["cat", "dog"]))
    project = owners.client.create_project(project_name="owner-datasets").project_arn
    for kind, key in (("TRAIN", "train.manifest"), ("TEST", "test.manifest")):
        arn = owners.client.create_dataset(project_arn=project, dataset_type=kind,
                                           dataset_source=_source(manifests, key)).dataset_arn
        owners.client.wait_dataset_created(arn, delay=0.05, max_attempts=1200)
    owners.client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": owners.bucket("own-ds-out"), "S3KeyPrefix": "runs"})
    desc = owners.wait_version(project)
    assert desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
    assert desc.status_message == IMAGES_OWNER
    summary = owners.read_json(desc.manifest_summary.s3_object)
    assert [e["code"] for e in summary["statistics"]["training"]["errors"]] == [
        "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER"]
    assert summary["statistics"]["testing"]["errors"] == []
