"""Project policies: PutProjectPolicy, ListProjectPolicies, DeleteProjectPolicy (serving.md §5.5).

A policy is an IAM-syntax document allowing `rekognition:CopyProjectVersion`. Only the
latest revision of each is kept; every put mints a new revision id, and an update or delete
that names any other revision is refused, which gives callers an atomic compare-and-set.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.control.pagination import PageTokens, keyset_page, page_size
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import find_project
from labelgate.backends.local.store.tables import ProjectPolicy, utcnow
from labelgate.errors import (
    InvalidPolicyRevisionIdException,
    MalformedPolicyDocumentException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from labelgate.shapes import set_timestamp
from labelgate.v1 import custom_labels_pb2 as pb

DEFAULT_MAX_POLICIES = 5
DEFAULT_PAGE_SIZE = 5
MAX_DOCUMENT_LENGTH = 2000

_ACTION = "rekognition:CopyProjectVersion"
_VERSIONS = ("2012-10-17", "2008-10-17")  # the IAM policy language versions
_TOP_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
_FORBIDDEN = ("NotAction", "NotResource", "NotPrincipal")


def _malformed(reason: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(f"The policy document is malformed: {reason}")


def _strings(value: Any, member: str) -> list[str]:
    """An IAM "string or list of strings" member, as a list; malformed otherwise."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _malformed(f"{member} must be a string or a non-empty list of strings")
    if not all(isinstance(v, str) and v for v in items):
        raise _malformed(f"{member} must contain only non-empty strings")
    return items


def _check_statement(statement: Any) -> None:
    if not isinstance(statement, dict):
        raise _malformed("each Statement must be an object")
    for key in _FORBIDDEN:
        if key in statement:
            raise _malformed(f"{key} is not supported in project policies")
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        raise _malformed(f"unsupported statement member(s) {', '.join(unknown)}")
    for key in ("Effect", "Principal", "Action", "Resource"):
        if key not in statement:
            raise _malformed(f"every Statement needs {key}")
    effect = statement["Effect"]
    # The AWS template writes ALLOW/DENY, the sample Allow: accept any case.
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise _malformed("Effect must be Allow or Deny")
    principal = statement["Principal"]
    if principal != "*":
        if not isinstance(principal, dict) or not principal:
            raise _malformed('Principal must be "*" or an object such as {"AWS": "<arn>"}')
        for kind, value in principal.items():
            _strings(value, f"Principal.{kind}")
    for action in _strings(statement["Action"], "Action"):
        # IAM action names are case-insensitive.
        if action.lower() != _ACTION.lower():
            raise _malformed(f"the only supported Action is {_ACTION}, not {action}")
    _strings(statement["Resource"], "Resource")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _malformed("Sid must be a string")
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        raise _malformed("Condition must be an object")


def normalize_policy(text: str) -> str:
    """Validate a project policy document and return it whitespace-normalised.

    The normal form is Python's `json.dumps` of the parsed document, exactly what the AWS
    Python example sends, so the same policy reads back the same whichever way it was
    written; a document that would then exceed the API's 2000-character limit is stored
    compact instead.
    """
    try:
        document = json.loads(text)
    except ValueError:
        raise _malformed("it is not valid JSON") from None
    if not isinstance(document, dict):
        raise _malformed("it must be a JSON object")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise _malformed(f"unsupported member(s) {', '.join(unknown)}")
    if document.get("Version") not in _VERSIONS:
        raise _malformed(f"Version must be one of {', '.join(_VERSIONS)}")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _malformed("Statement must be an object or a non-empty list of objects")
    for statement in statements:
        _check_statement(statement)
    normal = json.dumps(document, ensure_ascii=False)
    if len(normal) > MAX_DOCUMENT_LENGTH:
        normal = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return normal


def _find_policy(session: Session, project_id: int, name: str) -> ProjectPolicy | None:
    return session.scalar(
        select(ProjectPolicy).where(
            ProjectPolicy.project_id == project_id, ProjectPolicy.name == name
        )
    )


def _same_revision(given: str, current: str) -> bool:
    return given.lower() == current.lower()  # hex: the case carries no meaning


class PolicyService:
    def __init__(
        self, db: Database, pages: PageTokens, *, max_policies: int = DEFAULT_MAX_POLICIES
    ) -> None:
        self._db = db
        self._pages = pages
        self._max_policies = max_policies

    async def put_project_policy(
        self, request: pb.PutProjectPolicyRequest, context: RequestContext
    ) -> pb.PutProjectPolicyResponse:
        document = normalize_policy(request.policy_document)
        name = request.policy_name
        given = request.policy_revision_id or None
        revision = uuid.uuid4().hex

        def work(session: Session) -> None:
            # The project row lock serialises puts, so the quota count below cannot race.
            project = find_project(session, request.project_arn, lock=True)
            policy = _find_policy(session, project.id, name)
            now = utcnow()
            if policy is None:
                if given is not None:
                    raise InvalidPolicyRevisionIdException(
                        f"The policy {name} does not exist, so it has no revision {given}"
                    )
                count = session.scalar(
                    select(func.count()).where(ProjectPolicy.project_id == project.id)
                )
                if (count or 0) >= self._max_policies:
                    raise ServiceQuotaExceededException(
                        f"A project can have at most {self._max_policies} project policies"
                    )
                session.add(
                    ProjectPolicy(
                        project_id=project.id,
                        name=name,
                        revision_id=revision,
                        document=document,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return
            if given is None:
                raise ResourceAlreadyExistsException(
                    f"The policy {name} already exists; pass its PolicyRevisionId to update it"
                )
            if not _same_revision(given, policy.revision_id):
                raise InvalidPolicyRevisionIdException(
                    f"{given} is not the current revision of the policy {name}"
                )
            policy.revision_id = revision
            policy.document = document
            policy.updated_at = now

        await self._db.run(work)
        return pb.PutProjectPolicyResponse(policy_revision_id=revision)

    async def list_project_policies(
        self, request: pb.ListProjectPoliciesRequest, context: RequestContext
    ) -> pb.ListProjectPoliciesResponse:
        arn = request.project_arn
        scope = {"project": arn}
        after = self._pages.decode("ListProjectPolicies", scope, request.next_token)
        limit = page_size(request.max_results, DEFAULT_PAGE_SIZE)

        def work(session: Session) -> pb.ListProjectPoliciesResponse:
            project = find_project(session, arn)
            stmt = select(ProjectPolicy).where(ProjectPolicy.project_id == project.id)
            policies, last = keyset_page(session, stmt, ProjectPolicy.id, after, limit)
            response = pb.ListProjectPoliciesResponse()
            for p in policies:
                item = response.project_policies.add(
                    project_arn=arn,
                    policy_name=p.name,
                    policy_revision_id=p.revision_id,
                    policy_document=p.document,
                )
                set_timestamp(item.creation_timestamp, p.created_at)
                set_timestamp(item.last_updated_timestamp, p.updated_at)
            if last is not None:
                response.next_token = self._pages.encode("ListProjectPolicies", scope, last)
            return response

        return await self._db.run(work)

    async def delete_project_policy(
        self, request: pb.DeleteProjectPolicyRequest, context: RequestContext
    ) -> pb.DeleteProjectPolicyResponse:
        name = request.policy_name
        given = request.policy_revision_id or None

        def work(session: Session) -> None:
            project = find_project(session, request.project_arn, lock=True)
            policy = _find_policy(session, project.id, name)
            if policy is None:
                raise ResourceNotFoundException(f"The policy {name} does not exist")
            if given is not None and not _same_revision(given, policy.revision_id):
                raise InvalidPolicyRevisionIdException(
                    f"{given} is not the current revision of the policy {name}"
                )
            session.execute(delete(ProjectPolicy).where(ProjectPolicy.id == policy.id))

        await self._db.run(work)
        return pb.DeleteProjectPolicyResponse()
