"""The timestamp format of the evaluation files: ISO 8601 without a zone, with
microseconds, e.g. `2019-11-21T07:30:23.910943` (training.md §6.2, §7). An aware datetime is
converted to UTC first; a naive one is taken as UTC already."""

from __future__ import annotations

from datetime import UTC, datetime


def aws_timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


__all__ = ["aws_timestamp"]
