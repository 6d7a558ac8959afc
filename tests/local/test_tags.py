"""TagResource, UntagResource and ListTagsForResource (serving.md §5.2) on projects, models and
datasets of the local backend."""

from __future__ import annotations

import pytest

from labelgate.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from labelgate.v1 import custom_labels_pb2 as pb

KINDS = ["project", "model", "dataset"]


def make_resource(local, kind: str) -> str:
    project = local.project("p")
    if kind == "project":
        return project
    if kind == "model":
        return local.add_version(project, "v1")
    return local.add_dataset(project, "TRAIN")


def missing_arn(local, kind: str) -> str:
    arns = local.backend.arns
    return {
        "project": arns.project("nope"),
        "model": arns.version("nope", "v1"),
        "dataset": arns.dataset("nope", "TEST"),
    }[kind]


def tags_of(local, arn: str) -> dict[str, str]:
    return dict(local.list_tags_for_resource(pb.ListTagsForResourceRequest(resource_arn=arn)).tags)


def tag(local, arn: str, **tags: str) -> None:
    local.tag_resource(pb.TagResourceRequest(resource_arn=arn, tags=tags))


def untag(local, arn: str, *keys: str) -> None:
    local.untag_resource(pb.UntagResourceRequest(resource_arn=arn, tag_keys=keys))


@pytest.mark.parametrize("kind", KINDS)
def test_tag_resource_then_list_tags_for_resource(local, kind):
    arn = make_resource(local, kind)
    tag(local, arn, Dept="Engineering", Role="Developer")
    tag(local, arn, Name="Ana Silva Carolina")
    assert tags_of(local, arn) == {
        "Dept": "Engineering",
        "Name": "Ana Silva Carolina",
        "Role": "Developer",
    }


def test_tag_resource_overwrites_the_value_of_an_existing_key(local):
    arn = make_resource(local, "project")
    tag(local, arn, stage="dev")
    tag(local, arn, stage="prod")
    assert tags_of(local, arn) == {"stage": "prod"}


def test_tag_keys_are_case_sensitive(local):
    arn = make_resource(local, "project")
    tag(local, arn, Key="a", key="b")
    assert tags_of(local, arn) == {"Key": "a", "key": "b"}


def test_tags_belong_to_one_resource(local):
    project = make_resource(local, "project")
    model = local.add_version(project, "v1")
    tag(local, model, k="model")
    assert tags_of(local, project) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_untag_resource_removes_the_keys(local, kind):
    arn = make_resource(local, kind)
    tag(local, arn, a="1", b="2", c="3")
    untag(local, arn, "a", "c")
    assert tags_of(local, arn) == {"b": "2"}


def test_untag_resource_ignores_keys_the_resource_does_not_have(local):
    arn = make_resource(local, "project")
    tag(local, arn, a="1")
    untag(local, arn, "zzz")
    assert tags_of(local, arn) == {"a": "1"}


def test_list_tags_for_resource_without_tags_is_empty(local):
    assert tags_of(local, make_resource(local, "project")) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_tag_resource_unknown_arn_is_resource_not_found(local, kind):
    with pytest.raises(ResourceNotFoundException):
        tag(local, missing_arn(local, kind), k="v")


@pytest.mark.parametrize("kind", KINDS)
def test_untag_resource_unknown_arn_is_resource_not_found(local, kind):
    with pytest.raises(ResourceNotFoundException):
        untag(local, missing_arn(local, kind), "k")


@pytest.mark.parametrize("kind", KINDS)
def test_list_tags_for_resource_unknown_arn_is_resource_not_found(local, kind):
    with pytest.raises(ResourceNotFoundException):
        tags_of(local, missing_arn(local, kind))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:labelgate:rekognition:local:000000000000:collection/faces",
        "arn:labelgate:rekognition:local:000000000000:streamprocessor/cam",
        "arn:labelgate:rekognition:local:000000000000:project/p",
        "not an arn at all",
    ],
)
def test_tag_operations_on_a_non_custom_labels_arn_are_invalid_parameter(local, arn):
    with pytest.raises(InvalidParameterException):
        tag(local, arn, k="v")
    with pytest.raises(InvalidParameterException):
        untag(local, arn, "k")
    with pytest.raises(InvalidParameterException):
        tags_of(local, arn)


def test_tag_resource_up_to_200_tags_is_allowed(local):
    arn = make_resource(local, "project")
    tag(local, arn, **{f"k{i}": "v" for i in range(150)})
    tag(local, arn, **{f"k{i}": "w" for i in range(100, 200)})  # 50 overwritten, 50 new
    assert len(tags_of(local, arn)) == 200


def test_tag_resource_beyond_200_tags_is_service_quota_exceeded(local):
    arn = make_resource(local, "project")
    tag(local, arn, **{f"k{i}": "v" for i in range(199)})
    with pytest.raises(ServiceQuotaExceededException):
        tag(local, arn, a="1", b="2")
    assert len(tags_of(local, arn)) == 199  # the refused call changed nothing


def test_tags_given_at_create_count_toward_the_200_tag_quota(local):
    arn = local.project("p", **{f"k{i}": "v" for i in range(200)})
    with pytest.raises(ServiceQuotaExceededException):
        tag(local, arn, one_more="v")


def test_concurrent_tag_resource_calls_respect_the_200_tag_quota(local, request):
    arn = make_resource(local, "project")
    batches = [{f"k{i}_{j}": "v" for j in range(40)} for i in range(8)]
    results = local.concurrently(
        "tag_resource", [pb.TagResourceRequest(resource_arn=arn, tags=b) for b in batches]
    )
    assert sum(isinstance(r, pb.TagResourceResponse) for r in results) == 5
    assert len(tags_of(local, arn)) == 200
