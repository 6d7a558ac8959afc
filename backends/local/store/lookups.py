"""Lookups every project-scoped service shares (control plane, training, serving)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelgate.backends.local.store.tables import Project
from labelgate.errors import ResourceNotFoundException


def find_project(session: Session, arn: str, *, lock: bool = False) -> Project:
    """The project with this ARN, or ResourceNotFoundException.

    `lock` takes a row lock (PostgreSQL) so concurrent changes to the project's children
    (policies, datasets) serialise behind the caller's checks.
    """
    stmt = select(Project).where(Project.arn == arn)
    if lock:
        stmt = stmt.with_for_update()
    project = session.scalar(stmt)
    if project is None:
        raise ResourceNotFoundException(f"The project {arn} does not exist")
    return project


class TagStore(Protocol):
    """The part of TagService the dataset jobs need (control/tags.py)."""

    def set_tags(self, session: Session, arn: str, tags: Any) -> None: ...
    def drop_tags(self, session: Session, arn: str) -> None: ...
