"""PutProjectPolicy, ListProjectPolicies and DeleteProjectPolicy (serving.md §5.5) on the local
backend."""

from __future__ import annotations

import copy
import json
import re

import pytest

from labelgate.errors import (
    InvalidPaginationTokenException,
    InvalidPolicyRevisionIdException,
    MalformedPolicyDocumentException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from labelgate.v1 import custom_labels_pb2 as pb

STATEMENT = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:role/Admin"},
    "Action": "rekognition:CopyProjectVersion",
    "Resource": "arn:aws:rekognition:us-east-1:111111111111:project/my_project/version/test_1/"
    "1627045542080",
}
DOCUMENT = {"Version": "2012-10-17", "Statement": [STATEMENT]}
POLICY = json.dumps(DOCUMENT)


def put(local, project_arn, name="copy", document=POLICY, revision=None) -> str:
    request = pb.PutProjectPolicyRequest(
        project_arn=project_arn, policy_name=name, policy_document=document
    )
    if revision is not None:
        request.policy_revision_id = revision
    return local.put_project_policy(request).policy_revision_id


def listing(local, project_arn, **fields) -> pb.ListProjectPoliciesResponse:
    return local.list_project_policies(
        pb.ListProjectPoliciesRequest(project_arn=project_arn, **fields)
    )


def remove(local, project_arn, name="copy", revision=None) -> None:
    request = pb.DeleteProjectPolicyRequest(project_arn=project_arn, policy_name=name)
    if revision is not None:
        request.policy_revision_id = revision
    local.delete_project_policy(request)


def with_statement(**changes) -> str:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# PutProjectPolicy


def test_put_project_policy_returns_a_hex_revision_id(local):
    revision = put(local, local.project())
    assert re.fullmatch(r"[0-9a-f]{32}", revision)


def test_list_project_policies_returns_the_stored_policy(local):
    project = local.project()
    revision = put(local, project)
    (policy,) = listing(local, project).project_policies
    assert policy.project_arn == project
    assert policy.policy_name == "copy"
    assert policy.policy_revision_id == revision
    assert json.loads(policy.policy_document) == DOCUMENT
    assert policy.creation_timestamp == policy.last_updated_timestamp
    assert policy.creation_timestamp.seconds > 0


def test_put_project_policy_stores_the_document_whitespace_normalised(local):
    project = local.project()
    put(local, project, document=json.dumps(DOCUMENT, indent=4))
    (policy,) = listing(local, project).project_policies
    # The form the AWS Python example sends: json.dumps of the parsed file.
    assert policy.policy_document == json.dumps(DOCUMENT)


@pytest.mark.parametrize("effect", ["Allow", "ALLOW", "allow", "Deny", "DENY"])
def test_put_project_policy_accepts_effect_in_any_case(local, effect):
    _assert_stored_as_sent(local, with_statement(Effect=effect))


@pytest.mark.parametrize(
    "changes",
    [
        {"Principal": "*"},
        {"Principal": {"AWS": ["123456789012", "arn:aws:iam::111111111111:root"]}},
        {"Action": ["rekognition:CopyProjectVersion"]},
        {"Action": "Rekognition:copyprojectversion"},
        {"Resource": "arn:aws:rekognition:us-east-1:111111111111:project/my_project/version/*"},
        {"Sid": "AllowCopy", "Condition": {"StringEquals": {"aws:PrincipalAccount": "1"}}},
    ],
    ids=[
        "any-principal",
        "principal-list",
        "action-list",
        "action-case",
        "resource-wildcard",
        "sid-condition",
    ],
)
def test_put_project_policy_accepts_iam_statement_forms(local, changes):
    _assert_stored_as_sent(local, with_statement(**changes))


def test_put_project_policy_accepts_a_single_statement_object(local):
    _assert_stored_as_sent(local, json.dumps({"Version": "2012-10-17", "Statement": STATEMENT}))


def _assert_stored_as_sent(local, document: str) -> None:
    """Accepted: a revision id comes back, and the listing holds the document unchanged."""
    project = local.project()
    revision = put(local, project, document=document)
    (policy,) = listing(local, project).project_policies
    assert (policy.policy_name, policy.policy_revision_id) == ("copy", revision)
    assert json.loads(policy.policy_document) == json.loads(document)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        json.dumps({"Statement": [STATEMENT]}),
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "1999-01-01", "Statement": [STATEMENT]}),
        json.dumps({"Version": "2012-10-17", "Statement": ["Allow"]}),
        json.dumps({**DOCUMENT, "Extra": 1}),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-version",
        "no-statement",
        "empty-statement",
        "unknown-version",
        "statement-not-object",
        "unknown-member",
    ],
)
def test_put_project_policy_malformed_document_is_malformed_policy_document(local, document):
    with pytest.raises(MalformedPolicyDocumentException):
        put(local, local.project(), document=document)


@pytest.mark.parametrize("member", ["Effect", "Principal", "Action", "Resource"])
def test_put_project_policy_statement_without_required_member_is_malformed(local, member):
    with pytest.raises(MalformedPolicyDocumentException):
        put(local, local.project(), document=with_statement(**{member: None}))


@pytest.mark.parametrize(
    "changes",
    [
        {"Effect": "Maybe"},
        {"Action": "rekognition:DetectCustomLabels"},
        {"Action": ["rekognition:CopyProjectVersion", "rekognition:*"]},
        {"Action": []},
        {"Principal": {}},
        {"Principal": "someone"},
        {"Resource": 7},
    ],
    ids=[
        "bad-effect",
        "other-action",
        "wildcard-action",
        "no-actions",
        "empty-principal",
        "bad-principal",
        "bad-resource",
    ],
)
def test_put_project_policy_invalid_statement_is_malformed(local, changes):
    with pytest.raises(MalformedPolicyDocumentException):
        put(local, local.project(), document=with_statement(**changes))


@pytest.mark.parametrize("member", ["NotAction", "NotResource", "NotPrincipal"])
def test_put_project_policy_with_not_member_is_malformed(local, member):
    statement = copy.deepcopy(STATEMENT)
    statement[member] = "*"
    with pytest.raises(MalformedPolicyDocumentException):
        put(
            local,
            local.project(),
            document=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )


def test_put_project_policy_existing_name_without_revision_is_resource_already_exists(local):
    project = local.project()
    put(local, project)
    with pytest.raises(ResourceAlreadyExistsException):
        put(local, project)


def test_put_project_policy_with_current_revision_updates_it(local):
    project = local.project()
    first = put(local, project)
    second = put(local, project, document=with_statement(Effect="Deny"), revision=first)
    assert second != first
    (policy,) = listing(local, project).project_policies
    assert policy.policy_revision_id == second
    assert json.loads(policy.policy_document)["Statement"][0]["Effect"] == "Deny"
    assert policy.last_updated_timestamp.ToDatetime() >= policy.creation_timestamp.ToDatetime()


def test_put_project_policy_with_old_revision_is_invalid_policy_revision_id(local):
    project = local.project()
    first = put(local, project)
    put(local, project, revision=first)
    with pytest.raises(InvalidPolicyRevisionIdException):
        put(local, project, revision=first)


def test_put_project_policy_with_revision_for_unknown_name_is_invalid_policy_revision_id(local):
    with pytest.raises(InvalidPolicyRevisionIdException):
        put(local, local.project(), revision="0123456789abcdef0123456789abcdef")


def test_put_project_policy_sixth_policy_is_service_quota_exceeded(local):
    project = local.project()
    for i in range(5):
        put(local, project, name=f"p{i}")
    with pytest.raises(ServiceQuotaExceededException):
        put(local, project, name="p5")
    # Updating one of the five is still allowed.
    (first, *_) = listing(local, project).project_policies
    put(local, project, name=first.policy_name, revision=first.policy_revision_id)


def test_concurrent_puts_respect_the_policy_quota(local, request):
    project = local.project()
    results = local.concurrently(
        "put_project_policy",
        [
            pb.PutProjectPolicyRequest(
                project_arn=project, policy_name=f"p{i}", policy_document=POLICY
            )
            for i in range(10)
        ],
    )
    assert sum(isinstance(r, pb.PutProjectPolicyResponse) for r in results) == 5
    assert len(listing(local, project).project_policies) == 5


def test_project_policy_quota_is_per_project(local):
    a, b = local.project("a"), local.project("b")
    for i in range(5):
        put(local, a, name=f"p{i}")
    with pytest.raises(ServiceQuotaExceededException):
        put(local, a, name="p5")
    revision = put(local, b, name="p0")  # a's full quota does not count against b
    assert [(p.policy_name, p.policy_revision_id)
            for p in listing(local, b).project_policies] == [("p0", revision)]
    assert sorted(p.policy_name for p in listing(local, a).project_policies) == [
        f"p{i}" for i in range(5)]


def test_max_project_policies_is_configurable(make_local):
    local = make_local({"max_project_policies": "2"})  # as an environment override sends it
    project = local.project()
    put(local, project, name="one")
    put(local, project, name="two")
    with pytest.raises(ServiceQuotaExceededException):
        put(local, project, name="three")


def test_put_project_policy_unknown_project_is_resource_not_found(local):
    with pytest.raises(ResourceNotFoundException):
        put(local, local.backend.arns.project("missing"))


# ListProjectPolicies


def test_list_project_policies_without_policies_is_empty(local):
    response = listing(local, local.project())
    assert list(response.project_policies) == []
    assert not response.HasField("next_token")


def test_list_project_policies_pages_five_by_default(make_local):
    local = make_local({"max_project_policies": 7})
    project = local.project()
    for i in range(7):
        put(local, project, name=f"p{i}")
    first = listing(local, project, next_token="")  # the Python example's first call
    assert [p.policy_name for p in first.project_policies] == [f"p{i}" for i in range(5)]
    rest = listing(local, project, next_token=first.next_token)
    assert [p.policy_name for p in rest.project_policies] == ["p5", "p6"]
    assert not rest.HasField("next_token")


def test_list_project_policies_honours_max_results(local):
    project = local.project()
    for i in range(3):
        put(local, project, name=f"p{i}")
    first = listing(local, project, max_results=2)
    assert len(first.project_policies) == 2
    assert len(listing(local, project, next_token=first.next_token).project_policies) == 1


def test_list_project_policies_token_of_another_project_is_invalid(local):
    a, b = local.project("a"), local.project("b")
    for i in range(2):
        put(local, a, name=f"p{i}")
    token = listing(local, a, max_results=1).next_token
    with pytest.raises(InvalidPaginationTokenException):
        listing(local, b, next_token=token)


def test_list_project_policies_forged_token_is_invalid(local):
    with pytest.raises(InvalidPaginationTokenException):
        listing(local, local.project(), next_token="Zm9yZ2Vk")


def test_list_project_policies_unknown_project_is_resource_not_found(local):
    with pytest.raises(ResourceNotFoundException):
        listing(local, local.backend.arns.project("missing"))


# DeleteProjectPolicy


def test_delete_project_policy_removes_it(local):
    project = local.project()
    put(local, project)
    remove(local, project)
    assert list(listing(local, project).project_policies) == []
    put(local, project)  # the name is free again, without a revision id


def test_delete_project_policy_with_current_revision_removes_it(local):
    project = local.project()
    remove(local, project, revision=put(local, project))
    assert list(listing(local, project).project_policies) == []


def test_delete_project_policy_with_old_revision_is_invalid_policy_revision_id(local):
    project = local.project()
    first = put(local, project)
    put(local, project, revision=first)
    with pytest.raises(InvalidPolicyRevisionIdException):
        remove(local, project, revision=first)
    assert len(listing(local, project).project_policies) == 1


def test_delete_project_policy_unknown_name_is_resource_not_found(local):
    with pytest.raises(ResourceNotFoundException):
        remove(local, local.project(), name="missing")


def test_delete_project_policy_unknown_project_is_resource_not_found(local):
    with pytest.raises(ResourceNotFoundException):
        remove(local, local.backend.arns.project("missing"))
