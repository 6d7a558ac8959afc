"""Tags on projects, models (project versions) and datasets, keyed by the resource's ARN.

TagResource, UntagResource and ListTagsForResource, plus `set_tags` / `drop_tags` for the
services that create and delete taggable resources inside their own transaction, so a
resource and its tags appear and disappear together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.core import arns
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.tables import Dataset, Project, ProjectVersion, Tag
from labelgate.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from labelgate.v1 import custom_labels_pb2 as pb

#: AWS's quota of tags on one resource, over all TagResource calls together.
MAX_TAGS_PER_RESOURCE = 200

_TABLES: dict[str, Any] = {"project": Project, "version": ProjectVersion, "dataset": Dataset}


def _require_resource(session: Session, arn: str, *, lock: bool) -> None:
    """Check the ARN names an existing resource (locking its row on PostgreSQL when `lock`),
    or raise the AWS error for it."""
    parsed = arns.parse(arn)
    if parsed is None:
        raise InvalidParameterException(
            f"{arn} is not the ARN of a Custom Labels project, model or dataset"
        )
    table = _TABLES[parsed.kind]
    stmt = select(table.id).where(table.arn == arn)
    # The row lock makes concurrent tag changes on one resource take turns, so the 200-tag
    # count and the key inserts cannot interleave.
    if session.scalar(stmt.with_for_update() if lock else stmt) is None:
        raise ResourceNotFoundException(f"The resource {arn} does not exist")


class TagService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set_tags(self, session: Session, arn: str, tags: Mapping[str, str]) -> None:
        """Add `tags` to `arn` (overwriting values of keys it has) in the caller's
        transaction; ServiceQuotaExceededException when it would hold more than 200."""
        if not tags:
            return
        existing = {t.key: t for t in session.scalars(select(Tag).where(Tag.resource_arn == arn))}
        if len(existing.keys() | tags.keys()) > MAX_TAGS_PER_RESOURCE:
            raise ServiceQuotaExceededException(
                f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags"
            )
        for key, value in tags.items():
            if key in existing:
                existing[key].value = value
            else:
                session.add(Tag(resource_arn=arn, key=key, value=value))

    def drop_tags(self, session: Session, arn: str) -> None:
        """Remove every tag of `arn`, in the caller's transaction (for deletes)."""
        session.execute(delete(Tag).where(Tag.resource_arn == arn))

    async def tag_resource(
        self, request: pb.TagResourceRequest, context: RequestContext
    ) -> pb.TagResourceResponse:
        arn = request.resource_arn

        def work(session: Session) -> None:
            _require_resource(session, arn, lock=True)
            self.set_tags(session, arn, request.tags)

        await self._db.run(work)
        return pb.TagResourceResponse()

    async def untag_resource(
        self, request: pb.UntagResourceRequest, context: RequestContext
    ) -> pb.UntagResourceResponse:
        arn = request.resource_arn
        keys = list(request.tag_keys)

        def work(session: Session) -> None:
            _require_resource(session, arn, lock=False)
            # Keys the resource does not have are ignored, as in AWS.
            if keys:
                session.execute(delete(Tag).where(Tag.resource_arn == arn, Tag.key.in_(keys)))

        await self._db.run(work)
        return pb.UntagResourceResponse()

    async def list_tags_for_resource(
        self, request: pb.ListTagsForResourceRequest, context: RequestContext
    ) -> pb.ListTagsForResourceResponse:
        arn = request.resource_arn

        def work(session: Session) -> dict[str, str]:
            _require_resource(session, arn, lock=False)
            rows = session.execute(
                select(Tag.key, Tag.value).where(Tag.resource_arn == arn).order_by(Tag.key)
            )
            return dict(rows.tuples().all())

        return pb.ListTagsForResourceResponse(tags=await self._db.run(work))
