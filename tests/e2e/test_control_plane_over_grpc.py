"""Every implemented operation end to end: client -> gRPC on loopback -> gateway -> local backend.

One test per documented behaviour or error, named after it. The backend-level suites in
tests/local go deeper into each service; these prove the whole path, errors included.
"""

from __future__ import annotations

import json
import time

import grpc
import pytest

from labelgate import errors
from labelgate.client import Client
from labelgate.v1 import custom_labels_pb2 as pb
from tests.client.samples import tiny_png
from tests.e2e.blobs import put_blob

WAIT = {"delay": 0.05, "max_attempts": 400}
BUCKET = "e2e"


def _line(name: str, *labels: str, boxes: list[tuple[str, int]] | None = None) -> dict:
    line: dict = {"source-ref": f"s3://{BUCKET}/images/{name}.png"}
    for i, label in enumerate(labels):
        line[f"attr{i}"] = 1
        line[f"attr{i}-metadata"] = {
            "confidence": 1,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification",
        }
    if boxes:
        class_map = {str(i): label for i, (label, _) in enumerate(boxes)}
        line["boxes"] = {
            "image_size": [{"width": 200, "height": 200, "depth": 3}],
            "annotations": [
                {"class_id": i, "left": 10, "top": 10, "width": 20 + size, "height": 20}
                for i, (_, size) in enumerate(boxes)
            ],
        }
        line["boxes-metadata"] = {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": class_map,
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
        }
    return line


def _manifest(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


IMAGE = tiny_png()
TRAIN_LINES = (
    [_line(f"cat{i}", "cat") for i in range(10)]
    + [_line(f"dog{i}", "dog") for i in range(10)]
    + [_line("unlabelled")]
)


def _put_blob(gateway, key: str, data: bytes) -> dict:
    put_blob(gateway, BUCKET, key, data)
    return {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}


def _project(client: Client, name: str) -> str:
    return client.create_project(project_name=name).project_arn


def _put_images(gateway, lines: list[dict]) -> None:
    """The images the lines name: datasets validate them (training.md §2.5 ERROR_INVALID_IMAGE)."""
    for line in lines:
        _put_blob(gateway, line["source-ref"].removeprefix(f"s3://{BUCKET}/"), IMAGE)


def _dataset(
    client: Client, gateway, project: str, kind: str = "TRAIN", lines: list[dict] | None = None
) -> str:
    source = None
    if lines is not None:
        _put_images(gateway, lines)
        source = _put_blob(gateway, f"{project.split('/')[1]}-{kind}.manifest", _manifest(lines))
    arn = client.create_dataset(
        project_arn=project, dataset_type=kind, dataset_source=source
    ).dataset_arn
    client.wait_dataset_created(arn, **WAIT)
    return arn


def _wait_deleted(client: Client, dataset_arn: str) -> None:
    for _ in range(WAIT["max_attempts"]):
        try:
            client.describe_dataset(dataset_arn=dataset_arn)
        except errors.ResourceNotFoundException:
            return
        time.sleep(WAIT["delay"])
    raise AssertionError(f"{dataset_arn} was not deleted")


# Projects -------------------------------------------------------------------------------


def test_create_project_returns_an_arn_with_the_aws_layout(client):
    arn = _project(client, "p-layout")
    prefix, name, stamp = arn.split("/")
    assert prefix == "arn:labelgate:rekognition:local:000000000000:project"
    assert name == "p-layout" and stamp.isdigit()


def test_create_project_with_a_duplicate_name_is_resource_in_use(client):
    _project(client, "p-dup")
    with pytest.raises(errors.ResourceInUseException):
        _project(client, "p-dup")


def test_create_project_with_a_bad_name_pattern_is_a_validation_error(client):
    with pytest.raises(errors.ValidationException, match="regular expression pattern"):
        client.create_project(project_name="has spaces/and slashes")


def test_describe_projects_filters_by_name_and_unknown_names_give_an_empty_list(client):
    arn = _project(client, "p-described")
    found = client.describe_projects(project_names=["p-described", "p-never-created"])
    assert [p.project_arn for p in found.project_descriptions] == [arn]
    description = found.project_descriptions[0]
    assert description.status == pb.PROJECT_STATUS_CREATED
    assert description.feature == pb.CUSTOMIZATION_FEATURE_CUSTOM_LABELS
    assert list(description.datasets) == []
    assert client.describe_projects(project_names=["p-never-created"]).project_descriptions == []


def test_describe_projects_pages_with_next_token(client):
    names = [f"p-page-{i}" for i in range(5)]
    for name in names:
        _project(client, name)
    seen, token = [], ""
    while True:
        page = client.describe_projects(project_names=names, max_results=2, next_token=token)
        assert len(page.project_descriptions) <= 2
        seen += [p.project_arn.split("/")[1] for p in page.project_descriptions]
        token = page.next_token
        if not page.HasField("next_token"):
            break
    assert seen == names


def test_a_forged_page_token_is_rejected(client):
    with pytest.raises(errors.InvalidPaginationTokenException):
        client.describe_projects(next_token="bm90LWEtdG9rZW4")


def test_a_page_token_reused_with_other_filters_is_rejected(client):
    for i in range(3):
        _project(client, f"p-scope-{i}")
    page = client.describe_projects(max_results=1)
    with pytest.raises(errors.InvalidPaginationTokenException):
        client.describe_projects(project_names=["p-scope-1"], next_token=page.next_token)


def test_max_results_over_the_limit_is_a_validation_error(client):
    with pytest.raises(errors.ValidationException, match="less than or equal to 100"):
        client.describe_projects(max_results=101)


def test_delete_project_is_refused_while_it_has_a_dataset_then_succeeds(client, gateway):
    project = _project(client, "p-delete")
    dataset = _dataset(client, gateway, project)
    with pytest.raises(errors.ResourceInUseException):
        client.delete_project(project_arn=project)
    client.delete_dataset(dataset_arn=dataset)
    _wait_deleted(client, dataset)  # DeleteDataset is asynchronous (DELETE_IN_PROGRESS)
    assert client.delete_project(project_arn=project).status == pb.PROJECT_STATUS_DELETING
    assert client.describe_projects(project_names=["p-delete"]).project_descriptions == []


def test_delete_unknown_project_is_resource_not_found(client):
    missing = "arn:labelgate:rekognition:local:000000000000:project/p-ghost/1700000000000"
    with pytest.raises(errors.ResourceNotFoundException):
        client.delete_project(project_arn=missing)


# Datasets -------------------------------------------------------------------------------


def test_dataset_from_a_manifest_reaches_create_complete_with_stats(client, gateway):
    project = _project(client, "d-manifest")
    arn = _dataset(client, gateway, project, lines=TRAIN_LINES)
    description = client.describe_dataset(dataset_arn=arn).dataset_description
    assert description.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert description.status_message_code == pb.DATASET_STATUS_MESSAGE_CODE_SUCCESS
    stats = description.dataset_stats
    assert (stats.total_entries, stats.labeled_entries, stats.total_labels) == (21, 20, 2)
    listed = client.describe_projects(project_names=["d-manifest"]).project_descriptions[0]
    assert [d.dataset_arn for d in listed.datasets] == [arn]
    assert listed.datasets[0].dataset_type == pb.DATASET_TYPE_TRAIN


def test_dataset_from_a_missing_manifest_object_is_invalid_s3_object(client):
    project = _project(client, "d-missing")
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "nope.manifest"}}}
    with pytest.raises(errors.InvalidS3ObjectException):
        client.create_dataset(project_arn=project, dataset_type="TRAIN", dataset_source=source)


def test_a_second_dataset_of_the_same_type_already_exists(client, gateway):
    project = _project(client, "d-twice")
    _dataset(client, gateway, project)
    with pytest.raises(errors.ResourceAlreadyExistsException):
        client.create_dataset(project_arn=project, dataset_type="TRAIN")


def test_dataset_for_an_unknown_project_is_resource_not_found(client):
    missing = "arn:labelgate:rekognition:local:000000000000:project/d-ghost/1700000000000"
    with pytest.raises(errors.ResourceNotFoundException):
        client.create_dataset(project_arn=missing, dataset_type="TRAIN")


def test_a_manifest_with_too_many_bad_lines_ends_create_failed(client, gateway):
    project = _project(client, "d-bad")
    source = _put_blob(gateway, "bad.manifest", b"not json\n" * 3 + _manifest(TRAIN_LINES[:2]))
    arn = client.create_dataset(
        project_arn=project, dataset_type="TRAIN", dataset_source=source
    ).dataset_arn
    with pytest.raises(errors.LabelgateError):
        client.wait_dataset_created(arn, **WAIT)
    description = client.describe_dataset(dataset_arn=arn).dataset_description
    assert description.status == pb.DATASET_STATUS_CREATE_FAILED
    assert description.status_message_code == pb.DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR
    assert "ERROR_TOO_MANY_RECORDS_IN_ERROR" in description.status_message


def test_dataset_copied_from_another_dataset(client, gateway):
    source_project = _project(client, "d-copy-src")
    source = _dataset(client, gateway, source_project, lines=TRAIN_LINES)
    project = _project(client, "d-copy-dst")
    arn = client.create_dataset(
        project_arn=project, dataset_type="TEST", dataset_source={"DatasetArn": source}
    ).dataset_arn
    client.wait_dataset_created(arn, **WAIT)
    assert (
        client.describe_dataset(dataset_arn=arn).dataset_description.dataset_stats.total_entries
        == 21
    )


def test_list_dataset_entries_filters(client, gateway):
    project = _project(client, "d-filters")
    lines = [*TRAIN_LINES, _line("boxed", boxes=[("bird", 5), ("cat", 8)])]
    arn = _dataset(client, gateway, project, lines=lines)

    def refs(**filters) -> list[str]:
        entries = client.list_dataset_entries(dataset_arn=arn, **filters).dataset_entries
        return sorted(json.loads(e)["source-ref"].rsplit("/", 1)[1] for e in entries)

    assert len(refs()) == 22
    assert refs(contains_labels=["bird"]) == ["boxed.png"]
    assert len(refs(contains_labels=["cat"])) == 11
    assert refs(labeled=False) == ["unlabelled.png"]
    assert len(refs(labeled=True)) == 21
    assert refs(source_ref_contains="dog7") == ["dog7.png"]
    assert refs(has_errors=True) == []


def test_list_dataset_entries_pages_and_rejects_a_bad_token(client, gateway):
    project = _project(client, "d-pages")
    arn = _dataset(client, gateway, project, lines=TRAIN_LINES)
    seen, token = [], ""
    while True:
        page = client.list_dataset_entries(dataset_arn=arn, max_results=4, next_token=token)
        seen += list(page.dataset_entries)
        if not page.HasField("next_token"):
            break
        token = page.next_token
    assert len(seen) == len(set(seen)) == 21
    with pytest.raises(errors.InvalidPaginationTokenException):
        client.list_dataset_entries(dataset_arn=arn, next_token=token[:-2] + "xx")


def test_list_dataset_labels_counts_entries_and_boxes(client, gateway):
    project = _project(client, "d-labels")
    lines = [*TRAIN_LINES, _line("boxed", boxes=[("bird", 5), ("bird", 8)])]
    arn = _dataset(client, gateway, project, lines=lines)
    labels = client.list_dataset_labels(dataset_arn=arn).dataset_label_descriptions
    by_name = {d.label_name: d.label_stats for d in labels}
    assert sorted(by_name) == ["bird", "cat", "dog"]
    assert by_name["cat"].entry_count == 10
    assert by_name["bird"].entry_count == 1 and by_name["bird"].bounding_box_count >= 1


def test_update_dataset_entries_adds_and_replaces_by_source_ref(client, gateway):
    project = _project(client, "d-update")
    arn = _dataset(client, gateway, project, lines=TRAIN_LINES)
    _put_images(gateway, [_line("new1", "fish")])
    changes = _manifest([_line("cat0", "dog"), _line("new1", "fish")])
    client.update_dataset_entries(dataset_arn=arn, changes={"GroundTruth": changes})
    status = client.describe_dataset(dataset_arn=arn).dataset_description.status
    assert status in (pb.DATASET_STATUS_UPDATE_IN_PROGRESS, pb.DATASET_STATUS_UPDATE_COMPLETE)
    client.wait_dataset_updated(arn, **WAIT)
    stats = client.describe_dataset(dataset_arn=arn).dataset_description.dataset_stats
    assert (stats.total_entries, stats.total_labels) == (22, 3)
    (entry,) = client.list_dataset_entries(
        dataset_arn=arn, source_ref_contains="/cat0."
    ).dataset_entries
    assert json.loads(entry)["attr0-metadata"]["class-name"] == "dog"


def test_update_dataset_entries_on_an_unknown_dataset_is_resource_not_found(client):
    missing = "arn:labelgate:rekognition:local:000000000000:project/x/dataset/train/1700000000000"
    with pytest.raises(errors.ResourceNotFoundException):
        client.update_dataset_entries(
            dataset_arn=missing, changes={"GroundTruth": _manifest(TRAIN_LINES[:1])}
        )


def test_distribute_dataset_entries_moves_20_percent_deterministically(client, gateway):
    results = []
    for name in ("d-dist-a", "d-dist-b"):
        project = _project(client, name)
        train = _dataset(client, gateway, project, lines=TRAIN_LINES)
        test = _dataset(client, gateway, project, kind="TEST")
        client.distribute_dataset_entries(datasets=[{"Arn": train}, {"Arn": test}])
        client.wait_dataset_updated(train, **WAIT)
        client.wait_dataset_updated(test, **WAIT)
        moved = client.list_dataset_entries(dataset_arn=test).dataset_entries
        results.append(sorted(json.loads(e)["source-ref"] for e in moved))
        total = client.describe_dataset(dataset_arn=train).dataset_description.dataset_stats
        assert total.total_entries + len(moved) == 21
    assert results[0] == results[1]
    assert 3 <= len(results[0]) <= 5


def test_distribute_into_a_non_empty_test_dataset_is_invalid(client, gateway):
    project = _project(client, "d-dist-full")
    train = _dataset(client, gateway, project, lines=TRAIN_LINES)
    test = _dataset(client, gateway, project, kind="TEST", lines=TRAIN_LINES[:4])
    with pytest.raises(errors.InvalidParameterException):
        client.distribute_dataset_entries(datasets=[{"Arn": train}, {"Arn": test}])


def test_delete_dataset_then_describe_is_resource_not_found(client, gateway):
    project = _project(client, "d-delete")
    arn = _dataset(client, gateway, project, lines=TRAIN_LINES)
    client.delete_dataset(dataset_arn=arn)
    try:  # asynchronous: DELETE_IN_PROGRESS until the entries are gone, then not found
        status = client.describe_dataset(dataset_arn=arn).dataset_description.status
        assert status == pb.DATASET_STATUS_DELETE_IN_PROGRESS
    except errors.ResourceNotFoundException:
        pass
    _wait_deleted(client, arn)


# Models ---------------------------------------------------------------------------------


def test_describe_project_versions_of_a_new_project_is_empty(client):
    project = _project(client, "m-none")
    assert (
        list(client.describe_project_versions(project_arn=project).project_version_descriptions)
        == []
    )
    assert (
        list(
            client.describe_project_versions(
                project_arn=project, version_names=["v1"]
            ).project_version_descriptions
        )
        == []
    )


def test_describe_project_versions_of_an_unknown_project_is_resource_not_found(client):
    missing = "arn:labelgate:rekognition:local:000000000000:project/m-ghost/1700000000000"
    with pytest.raises(errors.ResourceNotFoundException):
        client.describe_project_versions(project_arn=missing)


def test_delete_unknown_project_version_is_resource_not_found(client):
    _project(client, "m-delete")
    missing = (
        "arn:labelgate:rekognition:local:000000000000:project/m-delete/version/v1/1700000000000"
    )
    with pytest.raises(errors.ResourceNotFoundException):
        client.delete_project_version(project_version_arn=missing)


def test_create_project_version_without_a_training_dataset_is_invalid(client):
    project = _project(client, "m-no-data")
    with pytest.raises(errors.InvalidParameterException):
        client.create_project_version(
            project_arn=project, version_name="v1", output_config={"S3Bucket": "out"}
        )


def test_copy_answers_unimplemented_until_its_issue_lands(client):
    project = _project(client, "m-unimplemented")
    version = project.rsplit("/", 1)[0] + "/version/v1/1700000000000"
    with pytest.raises(errors.NotImplementedOperation, match="not implemented"):
        client.copy_project_version(
            source_project_arn=project,
            source_project_version_arn=version,
            destination_project_arn=project,
            version_name="v2",
            output_config={"S3Bucket": "out"},
        )


def test_serving_operations_on_an_unknown_model_are_not_found(client):
    # Serving itself is tested in tests/serving.
    project = _project(client, "m-unknown")
    version = project.rsplit("/", 1)[0] + "/version/v1/1700000000000"
    calls = [
        lambda: client.start_project_version(project_version_arn=version, min_inference_units=1),
        lambda: client.stop_project_version(project_version_arn=version),
        lambda: client.detect_custom_labels(
            project_version_arn=version, image={"Bytes": b"\x89PNG"}
        ),
    ]
    for call in calls:
        with pytest.raises(errors.ResourceNotFoundException):
            call()


# Tags -----------------------------------------------------------------------------------


def test_tags_on_projects_and_datasets(client, gateway):
    project = client.create_project(project_name="t-tags", tags={"team": "vision"}).project_arn
    assert dict(client.list_tags_for_resource(resource_arn=project).tags) == {"team": "vision"}
    client.tag_resource(resource_arn=project, tags={"stage": "dev", "team": "ml"})
    client.untag_resource(resource_arn=project, tag_keys=["stage"])
    assert dict(client.list_tags_for_resource(resource_arn=project).tags) == {"team": "ml"}
    dataset = _dataset(client, gateway, project)
    client.tag_resource(resource_arn=dataset, tags={"split": "train"})
    assert dict(client.list_tags_for_resource(resource_arn=dataset).tags) == {"split": "train"}


def test_more_than_200_tags_on_a_resource_exceeds_the_quota(client):
    project = client.create_project(
        project_name="t-quota", tags={f"k{i}": "v" for i in range(150)}
    ).project_arn
    with pytest.raises(errors.ServiceQuotaExceededException):
        client.tag_resource(resource_arn=project, tags={f"x{i}": "v" for i in range(60)})


def test_tags_of_an_unknown_resource_are_resource_not_found(client):
    missing = "arn:labelgate:rekognition:local:000000000000:project/t-ghost/1700000000000"
    with pytest.raises(errors.ResourceNotFoundException):
        client.list_tags_for_resource(resource_arn=missing)


def test_an_aws_tag_key_prefix_is_a_validation_error(client):
    project = _project(client, "t-aws-prefix")
    with pytest.raises(errors.ValidationException):
        client.tag_resource(resource_arn=project, tags={"aws:reserved": "x"})


# Project policies -----------------------------------------------------------------------

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "rekognition:CopyProjectVersion",
                "Resource": "arn:labelgate:rekognition:local:000000000000:project/pol/version/*",
            }
        ],
    }
)


def test_project_policy_put_list_update_delete_with_revision_ids(client):
    project = _project(client, "pol")
    first = client.put_project_policy(
        project_arn=project, policy_name="share", policy_document=POLICY
    ).policy_revision_id
    listed = client.list_project_policies(project_arn=project).project_policies
    assert [(p.policy_name, p.policy_revision_id) for p in listed] == [("share", first)]
    second = client.put_project_policy(
        project_arn=project, policy_name="share", policy_document=POLICY, policy_revision_id=first
    ).policy_revision_id
    assert second != first
    with pytest.raises(errors.InvalidPolicyRevisionIdException):
        client.delete_project_policy(
            project_arn=project, policy_name="share", policy_revision_id=first
        )
    client.delete_project_policy(
        project_arn=project, policy_name="share", policy_revision_id=second
    )
    assert list(client.list_project_policies(project_arn=project).project_policies) == []


def test_putting_an_existing_policy_without_its_revision_already_exists(client):
    project = _project(client, "pol-exists")
    client.put_project_policy(project_arn=project, policy_name="p", policy_document=POLICY)
    with pytest.raises(errors.ResourceAlreadyExistsException):
        client.put_project_policy(project_arn=project, policy_name="p", policy_document=POLICY)


def test_a_malformed_policy_document_is_rejected(client):
    project = _project(client, "pol-bad")
    for document in (
        "{not json",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
                ],
            }
        ),
    ):
        with pytest.raises(errors.MalformedPolicyDocumentException):
            client.put_project_policy(
                project_arn=project, policy_name="p", policy_document=document
            )


def test_a_sixth_policy_exceeds_the_quota_of_five(client):
    project = _project(client, "pol-quota")
    for i in range(5):
        client.put_project_policy(project_arn=project, policy_name=f"p{i}", policy_document=POLICY)
    with pytest.raises(errors.ServiceQuotaExceededException):
        client.put_project_policy(project_arn=project, policy_name="p5", policy_document=POLICY)
    first = client.list_project_policies(project_arn=project, max_results=2)
    rest = client.list_project_policies(project_arn=project, next_token=first.next_token)
    assert len(first.project_policies) + len(rest.project_policies) == 5


# Transport ------------------------------------------------------------------------------


def test_errors_travel_as_grpc_status_with_error_info_and_a_request_id(gateway):
    from grpc_status import rpc_status

    from labelgate.v1 import custom_labels_pb2_grpc

    with grpc.insecure_channel(gateway.address) as channel:
        stub = custom_labels_pb2_grpc.CustomLabelsStub(channel)
        stub.CreateProject(pb.CreateProjectRequest(project_name="x-raw"))
        with pytest.raises(grpc.RpcError) as caught:
            stub.CreateProject(
                pb.CreateProjectRequest(project_name="x-raw"),
                metadata=[("x-request-id", "req-e2e-1")],
            )
    call = caught.value
    assert call.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(call)
    from google.rpc import error_details_pb2

    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "ResourceInUseException"
    assert info.metadata["request_id"] == "req-e2e-1"
