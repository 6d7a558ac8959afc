"""CreateProject, DescribeProjects and DeleteProject (serving.md §3, §9) on the local backend."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from labelgate.errors import (
    InvalidPaginationTokenException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from labelgate.v1 import custom_labels_pb2 as pb

PROJECT_ARN = re.compile(
    r"^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project/[a-zA-Z0-9_.\-]{1,255}/[0-9]+$"
)
CONTENT_MODERATION = pb.CUSTOMIZATION_FEATURE_CONTENT_MODERATION


def describe(local, **fields) -> pb.DescribeProjectsResponse:
    return local.describe_projects(pb.DescribeProjectsRequest(**fields))


def names(response: pb.DescribeProjectsResponse) -> list[str]:
    return [d.project_arn.split("/")[1] for d in response.project_descriptions]


# CreateProject


def test_create_project_returns_arn_in_aws_layout(local):
    arn = local.project("my-project_1.0")
    assert PROJECT_ARN.match(arn)
    assert arn.split("/")[1] == "my-project_1.0"  # the examples cut the name at '/'
    assert local.backend.owns_arn(arn)


def test_create_project_duplicate_name_is_resource_in_use(local):
    local.project("dup")
    with pytest.raises(ResourceInUseException):
        local.project("dup")


def test_create_project_feature_defaults_to_custom_labels(local):
    local.project("p")
    (desc,) = describe(local).project_descriptions
    assert desc.feature == pb.CUSTOMIZATION_FEATURE_CUSTOM_LABELS


def test_create_project_stores_auto_update(local):
    local.create_project(
        pb.CreateProjectRequest(
            project_name="adapter",
            feature=CONTENT_MODERATION,
            auto_update=pb.PROJECT_AUTO_UPDATE_ENABLED,
        )
    )
    (desc,) = describe(local, features=[CONTENT_MODERATION]).project_descriptions
    assert desc.auto_update == pb.PROJECT_AUTO_UPDATE_ENABLED


def test_create_project_without_auto_update_describes_none(local):
    local.project("p")
    (desc,) = describe(local).project_descriptions
    assert not desc.HasField("auto_update")


def test_create_project_stores_tags(local):
    arn = local.project("tagged", team="vision", stage="dev")
    tags = local.list_tags_for_resource(pb.ListTagsForResourceRequest(resource_arn=arn)).tags
    assert dict(tags) == {"team": "vision", "stage": "dev"}


def test_concurrent_creates_of_one_name_give_one_project(local):
    results = local.concurrently(
        "create_project", [pb.CreateProjectRequest(project_name="race") for _ in range(8)]
    )
    assert sum(isinstance(r, pb.CreateProjectResponse) for r in results) == 1
    assert all(isinstance(r, (pb.CreateProjectResponse, ResourceInUseException)) for r in results)


# DescribeProjects


def test_describe_projects_lists_every_project_in_creation_order(local):
    for name in ("b", "a", "c"):
        local.project(name)
    response = describe(local)
    assert names(response) == ["b", "a", "c"]
    assert not response.HasField("next_token")


def test_describe_projects_describes_status_and_creation_time(local):
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    arn = local.project("p")
    (desc,) = describe(local).project_descriptions
    assert desc.project_arn == arn
    assert desc.status == pb.PROJECT_STATUS_CREATED
    created = desc.creation_timestamp.ToDatetime(tzinfo=dt.UTC)
    assert before <= created <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    # As in AWS, the ARN's trailing number is the creation time in epoch millis.
    assert int(arn.rsplit("/", 1)[1]) == desc.creation_timestamp.ToMilliseconds()


def test_describe_projects_filters_by_project_names(local):
    for name in ("a", "b", "c"):
        local.project(name)
    assert names(describe(local, project_names=["c", "a"])) == ["a", "c"]


def test_describe_projects_unknown_name_gives_empty_list(local):
    local.project("a")
    response = describe(local, project_names=["missing"])
    assert list(response.project_descriptions) == []


def test_describe_projects_feature_filter_defaults_to_custom_labels(local):
    local.project("labels")
    local.create_project(
        pb.CreateProjectRequest(project_name="moderation", feature=CONTENT_MODERATION)
    )
    assert names(describe(local)) == ["labels"]
    assert names(describe(local, features=[CONTENT_MODERATION])) == ["moderation"]
    both = [CONTENT_MODERATION, pb.CUSTOMIZATION_FEATURE_CUSTOM_LABELS]
    assert names(describe(local, features=both)) == ["labels", "moderation"]


def test_describe_projects_without_datasets_has_empty_datasets_list(local):
    local.project("p")
    (desc,) = describe(local).project_descriptions
    assert list(desc.datasets) == []


def test_describe_projects_dataset_metadata_has_all_six_fields(local):
    arn = local.project("p")
    train = local.add_dataset(arn, "TRAIN")
    test = local.add_dataset(
        arn,
        "TEST",
        status="CREATE_FAILED",
        status_message="bad manifest",
        status_message_code="CLIENT_ERROR",
    )
    (desc,) = describe(local).project_descriptions
    first, second = desc.datasets
    assert (first.dataset_arn, first.dataset_type) == (train, pb.DATASET_TYPE_TRAIN)
    assert first.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert first.status_message_code == pb.DATASET_STATUS_MESSAGE_CODE_SUCCESS
    for field in (
        "creation_timestamp",
        "dataset_type",
        "dataset_arn",
        "status",
        "status_message",
        "status_message_code",
    ):
        assert first.HasField(field), field
    assert (second.dataset_arn, second.dataset_type) == (test, pb.DATASET_TYPE_TEST)
    assert second.status == pb.DATASET_STATUS_CREATE_FAILED
    assert second.status_message == "bad manifest"
    assert second.status_message_code == pb.DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR


def test_describe_projects_paginates_with_max_results(local):
    for i in range(5):
        local.project(f"p{i}")
    seen, token, pages = [], None, 0
    while True:
        response = describe(local, max_results=2, **({"next_token": token} if token else {}))
        seen += names(response)
        pages += 1
        if not response.HasField("next_token"):
            break
        token = response.next_token
    assert seen == [f"p{i}" for i in range(5)]
    assert pages == 3


def test_describe_projects_max_results_defaults_to_100(local):
    def create(session):
        from labelgate.backends.local.store.tables import Project

        for i in range(101):
            name = f"p{i:03}"
            session.add(Project(arn=local.backend.arns.project(name), name=name))

    local.store(create)
    first = describe(local)
    assert len(first.project_descriptions) == 100
    rest = describe(local, next_token=first.next_token)
    assert names(rest) == ["p100"]


def test_describe_projects_empty_next_token_means_first_page(local):
    local.project("a")
    assert names(describe(local, next_token="")) == ["a"]


def test_describe_projects_next_token_with_other_filters_is_invalid(local):
    for name in ("a", "b", "c"):
        local.project(name)
    token = describe(local, max_results=1).next_token
    with pytest.raises(InvalidPaginationTokenException):
        describe(local, next_token=token, project_names=["a", "b"])


def test_describe_projects_forged_next_token_is_invalid(local):
    with pytest.raises(InvalidPaginationTokenException):
        describe(local, next_token="eyJwIjogMH0")


def test_describe_projects_next_token_survives_restart(make_local):
    first = make_local()
    for name in ("a", "b"):
        first.project(name)
    token = describe(first, max_results=1).next_token
    # The signing secret is stored, so a restarted (or second) gateway accepts the token.
    second = make_local()
    assert names(describe(second, next_token=token)) == ["b"]


def test_describe_projects_stays_consistent_when_projects_change_between_pages(local):
    for name in ("a", "b", "c"):
        local.project(name)
    first = describe(local, max_results=1)
    local.delete_project(
        pb.DeleteProjectRequest(project_arn=first.project_descriptions[0].project_arn)
    )
    local.project("d")
    rest = describe(local, next_token=first.next_token)
    assert names(rest) == ["b", "c", "d"]


# DeleteProject


def test_delete_project_returns_deleting_and_project_disappears(local):
    arn = local.project("gone")
    response = local.delete_project(pb.DeleteProjectRequest(project_arn=arn))
    assert response.status == pb.PROJECT_STATUS_DELETING
    # The AWS example polls DescribeProjects(ProjectNames=[name]) until it is empty.
    assert list(describe(local, project_names=["gone"]).project_descriptions) == []


def test_delete_project_unknown_is_resource_not_found(local):
    arn = local.project("p")
    local.delete_project(pb.DeleteProjectRequest(project_arn=arn))
    with pytest.raises(ResourceNotFoundException):
        local.delete_project(pb.DeleteProjectRequest(project_arn=arn))


def test_delete_project_with_dataset_is_resource_in_use(local):
    arn = local.project("p")
    local.add_dataset(arn)
    with pytest.raises(ResourceInUseException):
        local.delete_project(pb.DeleteProjectRequest(project_arn=arn))
    assert names(describe(local)) == ["p"]


def test_delete_project_with_model_is_resource_in_use(local):
    arn = local.project("p")
    local.add_version(arn, "v1")
    with pytest.raises(ResourceInUseException):
        local.delete_project(pb.DeleteProjectRequest(project_arn=arn))
    assert names(describe(local)) == ["p"]


def test_delete_project_deletes_its_policies_and_tags(local):
    arn = local.project("p", team="vision")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "rekognition:CopyProjectVersion",
                    "Resource": "*",
                }
            ],
        }
    )
    local.put_project_policy(
        pb.PutProjectPolicyRequest(project_arn=arn, policy_name="copy", policy_document=policy)
    )
    local.delete_project(pb.DeleteProjectRequest(project_arn=arn))

    def leftovers(session):
        from sqlalchemy import func, select

        from labelgate.backends.local.store.tables import ProjectPolicy, Tag

        return (
            session.scalar(select(func.count()).select_from(ProjectPolicy)),
            session.scalar(select(func.count()).select_from(Tag)),
        )

    assert local.store(leftovers) == (0, 0)


def test_deleted_project_name_can_be_used_again(local):
    old = local.project("again", team="a")
    local.delete_project(pb.DeleteProjectRequest(project_arn=old))
    new = local.project("again")
    assert new != old
    tags = local.list_tags_for_resource(pb.ListTagsForResourceRequest(resource_arn=new)).tags
    assert dict(tags) == {}
