"""Inference-unit usage: how long each model ran and with how many units (serving.md §1.8).

AWS reports this through the `InServiceInferenceUnits` CloudWatch metric (hours running =
hourly datapoints, IU-hours = the sum of their averages). Here the store keeps one row per
period a model ran with a fixed number of units (`inference_unit_usage`): serving opens a
row when a model goes RUNNING, closes it and opens the next when the autoscaler changes the
units, and closes it when the model stops. A running row's `last_seen_at` moves forward once
a minute, so after a crash the row is closed where the gateway was last seen alive rather
than billed up to the restart.

`summarize` turns rows into per-model totals and hourly datapoints over a time range; it is
pure, so the arithmetic is tested without a store. Start/stop events are also logged with the
model ARN (an audit trail like CloudTrail's, serving.md §1.8 [rec]).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.tables import InferenceUnitUsage

log = logging.getLogger("labelgate.audit")

HOUR = dt.timedelta(hours=1)
#: How often a running row's last_seen_at moves forward (bounds what a crash can over-bill).
HEARTBEAT_S = 60.0


@dataclass(frozen=True)
class UsagePeriod:
    """One row: a model ran with `units` units from `started_at` to `ended_at` (None: now)."""

    project_version_arn: str
    project_arn: str
    project_name: str
    version_name: str
    units: int
    started_at: dt.datetime
    ended_at: dt.datetime | None


@dataclass
class UsageHour:
    hour_start: dt.datetime
    running_seconds: float = 0.0
    unit_seconds: float = 0.0


@dataclass
class ModelUsage:
    """One model's usage over the report's range."""

    project_version_arn: str
    project_name: str
    version_name: str
    running_seconds: float = 0.0
    unit_seconds: float = 0.0
    running_now: bool = False
    hours: dict[dt.datetime, UsageHour] = field(default_factory=dict)

    @property
    def hours_running(self) -> float:
        return self.running_seconds / 3600.0

    @property
    def inference_unit_hours(self) -> float:
        return self.unit_seconds / 3600.0


def _floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def summarize(periods: Iterable[UsagePeriod], start: dt.datetime, end: dt.datetime,
              now: dt.datetime) -> list[ModelUsage]:
    """Per-model running time and unit time inside [start, end), split into clock hours."""
    models: dict[str, ModelUsage] = {}
    for period in periods:
        began = max(_utc(period.started_at), start)
        ended = min(_utc(period.ended_at) if period.ended_at is not None else now, end)
        usage = models.get(period.project_version_arn)
        if usage is None:
            usage = models[period.project_version_arn] = ModelUsage(
                period.project_version_arn, period.project_name, period.version_name
            )
        if period.ended_at is None:
            usage.running_now = True
        t = began
        while t < ended:
            hour_start = _floor_hour(t)
            upto = min(hour_start + HOUR, ended)
            seconds = (upto - t).total_seconds()
            hour = usage.hours.setdefault(hour_start, UsageHour(hour_start))
            hour.running_seconds += seconds
            hour.unit_seconds += seconds * period.units
            usage.running_seconds += seconds
            usage.unit_seconds += seconds * period.units
            t = upto
    return sorted(models.values(), key=lambda u: (u.project_name, u.version_name))


class UsageLedger:
    """The `inference_unit_usage` rows of running models, kept by the serving service."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, *, project_version_arn: str, project_arn: str, project_name: str,
                   version_name: str, units: int) -> int:
        now = dt.datetime.now(dt.UTC)

        def work(session: Session) -> int:
            row = InferenceUnitUsage(
                project_version_arn=project_version_arn, project_arn=project_arn,
                project_name=project_name, version_name=version_name, units=units,
                started_at=now, last_seen_at=now,
            )
            session.add(row)
            session.flush()
            return row.id

        row_id = await self._db.run(work)
        log.info("model running: %s with %d inference unit(s)", project_version_arn, units)
        return row_id

    async def close(self, row_id: int, *, reason: str = "stopped") -> None:
        now = dt.datetime.now(dt.UTC)

        def work(session: Session) -> str | None:
            row = session.get(InferenceUnitUsage, row_id)
            if row is None or row.ended_at is not None:
                return None
            row.ended_at = row.last_seen_at = now
            return row.project_version_arn

        arn = await self._db.run(work)
        if arn is not None:
            log.info("model %s: %s", reason, arn)

    async def heartbeat(self, row_ids: Iterable[int]) -> None:
        ids = list(row_ids)
        if not ids:
            return
        now = dt.datetime.now(dt.UTC)

        def work(session: Session) -> None:
            session.execute(
                update(InferenceUnitUsage)
                .where(InferenceUnitUsage.id.in_(ids), InferenceUnitUsage.ended_at.is_(None))
                .values(last_seen_at=now)
            )

        await self._db.run(work)

    async def close_dangling(self) -> int:
        """Rows a previous gateway left open end where it was last seen alive."""

        def work(session: Session) -> int:
            rows = session.scalars(
                select(InferenceUnitUsage).where(InferenceUnitUsage.ended_at.is_(None))
            ).all()
            for row in rows:
                row.ended_at = row.last_seen_at
            return len(rows)

        return await self._db.run(work)

    async def report(self, *, start: dt.datetime, end: dt.datetime,
                     project_arn: str | None = None) -> list[ModelUsage]:
        now = dt.datetime.now(dt.UTC)

        def work(session: Session) -> list[UsagePeriod]:
            stmt = select(InferenceUnitUsage).where(
                InferenceUnitUsage.started_at < end,
                (InferenceUnitUsage.ended_at.is_(None)) | (InferenceUnitUsage.ended_at > start),
            )
            if project_arn:
                stmt = stmt.where(InferenceUnitUsage.project_arn == project_arn)
            return [
                UsagePeriod(r.project_version_arn, r.project_arn, r.project_name,
                            r.version_name, r.units, r.started_at, r.ended_at)
                for r in session.scalars(stmt.order_by(InferenceUnitUsage.id))
            ]

        return summarize(await self._db.run(work), start, end, now)


__all__ = ["HEARTBEAT_S", "ModelUsage", "UsageHour", "UsageLedger", "UsagePeriod", "summarize"]
