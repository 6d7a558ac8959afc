"""A training job's progress: recorded in the store, streamed by WatchProjectVersion.

The job records the latest `Progress` (contract.py) as JSON in
`project_versions.training_progress`, with `progress_updated_at`; the stage names the job's
own steps too (queued, validating, preparing) besides the worker's (training, evaluating,
exporting). WatchProjectVersion reads the row, so a watcher sees the same thing whichever
gateway (sharing one PostgreSQL) runs the job; within one gateway a `ProgressHub` wakes
watchers as soon as something was recorded instead of at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.statuses import TRAINING_IN_PROGRESS
from labelgate.backends.local.store.tables import ProjectVersion, utcnow
from labelgate.backends.local.training.contract import Progress
from labelgate.backends.local.training.worker_protocol import parse_progress
from labelgate.errors import InvalidParameterException, ResourceNotFoundException
from labelgate.shapes import enum_from_aws, set_timestamp
from labelgate.v1 import custom_labels_pb2 as pb

QUEUED, VALIDATING, PREPARING = "queued", "validating", "preparing"


def progress_to_json(progress: Progress) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(progress).items() if v not in (None, "")}


def record_progress(session: Session, version_id: int, progress: Progress) -> bool:
    """Store `progress` as the version's latest; False when its training has ended."""
    version = session.scalar(
        select(ProjectVersion)
        .where(ProjectVersion.id == version_id,
               ProjectVersion.status == TRAINING_IN_PROGRESS)
        .with_for_update()
    )
    if version is None:
        return False
    version.training_progress = progress_to_json(progress)
    version.progress_updated_at = utcnow()
    return True


class ProgressHub:
    """Wakes this gateway's watchers when a job records something."""

    def __init__(self) -> None:
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    async def wait(self, seconds: float) -> None:
        """Until the next notify, or `seconds`."""
        condition = self._condition()
        async with condition:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(condition.wait(), seconds)


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def describe_progress(version: ProjectVersion, now: dt.datetime | None = None
                      ) -> pb.WatchProjectVersionResponse:
    """The WatchProjectVersion message for the version as stored."""
    response = pb.WatchProjectVersionResponse(
        project_version_arn=version.arn,
        status=enum_from_aws(pb.ProjectVersionStatus.DESCRIPTOR, version.status),
        status_message=version.status_message or "",
    )
    progress = parse_progress(version.training_progress)
    if progress is not None:
        response.stage = progress.stage
        for name in ("epoch", "total_epochs", "loss", "metric_name", "metric_value",
                     "eta_seconds"):
            value = getattr(progress, name)
            if value is not None:
                setattr(response, name, value)
        if progress.message:
            response.message = progress.message
    if version.progress_updated_at is not None:
        set_timestamp(response.updated_timestamp, version.progress_updated_at)
    if version.created_at is not None:
        end = version.training_ended_at if version.status != TRAINING_IN_PROGRESS else None
        until = _aware(end) if end is not None else (now or utcnow())
        response.elapsed_seconds = max(0.0, (until - _aware(version.created_at)).total_seconds())
    return response


def _change_key(version: ProjectVersion) -> tuple[Any, ...]:
    return (version.status, version.status_message, version.progress_updated_at,
            version.training_progress)


async def watch(
    db: Database,
    hub: ProgressHub,
    arn: str,
    *,
    poll_s: float = 1.0,
    heartbeat_s: float = 15.0,
) -> AsyncIterator[pb.WatchProjectVersionResponse]:
    """The WatchProjectVersion stream: the state now, each change, a heartbeat every
    `heartbeat_s` (with a fresh elapsed time), and the final state once training ended."""
    if not arn:
        raise InvalidParameterException("ProjectVersionArn is required")

    def load(session: Session) -> tuple[tuple[Any, ...], pb.WatchProjectVersionResponse]:
        version = session.scalar(select(ProjectVersion).where(ProjectVersion.arn == arn))
        if version is None:
            raise ResourceNotFoundException(f"The model {arn} does not exist")
        return _change_key(version), describe_progress(version)

    last_key: tuple[Any, ...] | None = None
    last_sent = 0.0
    while True:
        key, response = await db.run(load)
        finished = response.status != pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS
        if key != last_key or finished or time.monotonic() - last_sent >= heartbeat_s:
            yield response
            last_key, last_sent = key, time.monotonic()
        if finished:
            return
        await hub.wait(poll_s)


__all__ = [
    "PREPARING",
    "QUEUED",
    "VALIDATING",
    "ProgressHub",
    "describe_progress",
    "progress_to_json",
    "record_progress",
    "watch",
]
