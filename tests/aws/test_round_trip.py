"""The `aws` backend against a real endpoint: a second labelgate's AWS-compatible front.

Every one of the 23 operations goes gRPC client -> gateway (aws backend) -> boto3 -> HTTP
(JSON 1.1) -> gateway (AWS front) -> local backend, and back; errors raised by the far side
come back as the same labelgate exception classes.
"""

from __future__ import annotations

import json

import pytest

from labelgate import errors, shapes
from labelgate.client import Client
from labelgate.v1 import custom_labels_pb2 as pb
from tests.aws.conftest import BUCKET, COLOURS, Front, png

pytestmark = pytest.mark.slow

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                   "Action": "rekognition:CopyProjectVersion", "Resource": "*"}],
})


def test_every_operation_round_trips_through_boto3_and_the_front(front: Front, proxy) -> None:
    with Client(proxy.address) as lg:
        _walk(lg, front)
    # The proxy's own metrics: which operations its aws backend handled.
    handled = {
        sample.labels["method"]
        for family in proxy.gateway.metrics.registry.collect()
        if family.name == "labelgate_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("backend") == "aws"
    }
    assert handled == set(shapes.OPERATIONS), sorted(set(shapes.OPERATIONS) - handled)


def _walk(lg: Client, front: Front) -> None:
    project = lg.create_project(project_name="round-trip", tags={"team": "vision"}).project_arn
    assert project.startswith("arn:labelgate:")
    other = lg.create_project(project_name="round-trip-2").project_arn
    with pytest.raises(errors.ResourceInUseException):
        lg.create_project(project_name="round-trip")
    page = lg.describe_projects(max_results=1)
    assert len(page.project_descriptions) == 1 and page.next_token
    rest = lg.describe_projects(max_results=1, next_token=page.next_token)
    assert {page.project_descriptions[0].project_arn,
            rest.project_descriptions[0].project_arn} == {project, other}

    # Datasets.
    manifest = front.stage_images()
    train = lg.create_dataset(
        project_arn=project, dataset_type="TRAIN",
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET,
                                                             "Name": manifest}}},
    ).dataset_arn
    lg.wait_dataset_created(train, delay=0.05, max_attempts=400)
    described = lg.describe_dataset(dataset_arn=train).dataset_description
    assert described.dataset_stats.labeled_entries == 8
    assert described.creation_timestamp.seconds > 0
    entries = lg.list_dataset_entries(dataset_arn=train, max_results=3)
    assert len(entries.dataset_entries) == 3 and entries.next_token
    labels = lg.list_dataset_labels(dataset_arn=train).dataset_label_descriptions
    assert {x.label_name for x in labels} == set(COLOURS)
    front.put("images/extra.png", png((200, 40, 40)))
    extra = {"source-ref": f"s3://{BUCKET}/images/extra.png", "colour": 1,
             "colour-metadata": {"confidence": 1, "class-name": "red",
                                 "human-annotated": "yes", "creation-date": "2026-11-26T12:00:00",
                                 "job-name": "labels", "type": "groundtruth/image-classification"}}
    lg.update_dataset_entries(dataset_arn=train,
                              changes={"GroundTruth": json.dumps(extra).encode()})
    lg.wait_dataset_updated(train, delay=0.05, max_attempts=400)
    test = lg.create_dataset(project_arn=project, dataset_type="TEST").dataset_arn
    lg.wait_dataset_created(test, delay=0.05, max_attempts=400)
    lg.distribute_dataset_entries(datasets=[{"Arn": train}, {"Arn": test}])
    lg.wait_dataset_updated(test, delay=0.05, max_attempts=400)
    assert lg.describe_dataset(dataset_arn=test).dataset_description.dataset_stats \
        .total_entries > 0

    # A model: train, start, detect, stop (the client's waiters, through boto3).
    version = lg.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": BUCKET, "S3KeyPrefix": "runs"},
    ).project_version_arn
    done = lg.wait_training_completed(project, "v1", delay=0.1, max_attempts=600)
    (desc,) = done.project_version_descriptions
    assert desc.evaluation_result.f1_score > 0
    assert desc.evaluation_result.summary.s3_object.bucket == BUCKET
    with pytest.raises(errors.ResourceNotReadyException):
        lg.detect_custom_labels(project_version_arn=version, image={"Bytes": png((0, 0, 0))})
    status = lg.start_project_version(project_version_arn=version, min_inference_units=1).status
    assert status == pb.PROJECT_VERSION_STATUS_STARTING
    lg.wait_running(project, "v1", delay=0.05, max_attempts=600)
    found = lg.detect_custom_labels(project_version_arn=version,
                                    image={"Bytes": png(COLOURS["blue"])}, min_confidence=0)
    assert found.custom_labels[0].name == "blue"
    with pytest.raises(errors.InvalidImageFormatException):
        lg.detect_custom_labels(project_version_arn=version, image={"Bytes": b"not an image"})
    lg.stop_project_version(project_version_arn=version)
    lg.wait_stopped(project, "v1", delay=0.05, max_attempts=600)
    with pytest.raises(errors.NotImplementedOperation):
        lg.copy_project_version(source_project_arn=project, source_project_version_arn=version,
                                destination_project_arn=other, version_name="copy",
                                output_config={"S3Bucket": BUCKET})

    # Policies and tags.
    revision = lg.put_project_policy(project_arn=project, policy_name="share",
                                     policy_document=POLICY).policy_revision_id
    assert [p.policy_name for p in lg.list_project_policies(project_arn=project)
            .project_policies] == ["share"]
    with pytest.raises(errors.InvalidPolicyRevisionIdException):
        lg.delete_project_policy(project_arn=project, policy_name="share",
                                 policy_revision_id="0" * 32)
    lg.delete_project_policy(project_arn=project, policy_name="share",
                             policy_revision_id=revision)
    lg.tag_resource(resource_arn=version, tags={"stage": "prod"})
    assert dict(lg.list_tags_for_resource(resource_arn=version).tags) == {"stage": "prod"}
    lg.untag_resource(resource_arn=version, tag_keys=["stage"])
    assert dict(lg.list_tags_for_resource(resource_arn=project).tags) == {"team": "vision"}

    # Deletes, and what is gone is not found.
    assert lg.delete_project_version(project_version_arn=version).status in (
        pb.PROJECT_VERSION_STATUS_DELETING, pb.PROJECT_VERSION_STATUS_UNSPECIFIED)
    lg.delete_dataset(dataset_arn=test)
    lg.delete_project(project_arn=other)
    with pytest.raises(errors.ResourceNotFoundException):
        lg.describe_dataset(dataset_arn=train.rsplit("/", 1)[0] + "/1")


def test_unreachable_endpoint_is_an_internal_error_not_a_hang(tmp_path) -> None:
    from labelgate.server.config import Settings
    from labelgate.server.testing import running_gateway

    settings = Settings(data_dir=tmp_path, default_backend="aws", backends={"aws": {
        "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1", "max_attempts": 1,
        "connect_timeout": 1, "aws_access_key_id": "a", "aws_secret_access_key": "b"}},
        shutdown_grace_seconds=0.5)
    with running_gateway(settings) as gateway, Client(gateway.address) as lg:
        with pytest.raises(errors.InternalServerError, match="Calling Rekognition failed"):
            lg.create_project(project_name="nowhere")
