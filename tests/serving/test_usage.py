"""Inference-unit usage (GetInferenceUsage, `labelgate usage`) and the DescribeProjectVersions
extension carrying a running model's units."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from labelgate import errors
from labelgate.backends.local.serving.usage import UsagePeriod, summarize
from labelgate.backends.local.store.tables import InferenceUnitUsage
from tests.cli_runner import cli  # noqa: F401  (fixture)
from tests.serving.conftest import COLOURS, Serving, png

T0 = dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.UTC)


def _period(units: int, start_min: float, end_min: float | None, arn: str = "m1"
            ) -> UsagePeriod:
    return UsagePeriod(
        arn, "p-arn", "p", arn, units, T0 + dt.timedelta(minutes=start_min),
        None if end_min is None else T0 + dt.timedelta(minutes=end_min),
    )


def test_summarize_splits_periods_into_clock_hours_and_weights_by_units() -> None:
    # 10:30-11:00 with 1 unit, 11:00-11:45 with 2 units, then 11:45-12:15 with 1 unit.
    periods = [_period(1, 0, 30), _period(2, 30, 75), _period(1, 75, 105)]
    (usage,) = summarize(periods, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1),
                         now=T0 + dt.timedelta(days=1))
    assert usage.hours_running == pytest.approx(105 / 60)
    assert usage.inference_unit_hours == pytest.approx((30 + 2 * 45 + 30) / 60)
    hours = {h.hour_start.hour: (h.running_seconds / 60, h.unit_seconds / 60)
             for h in usage.hours.values()}
    assert hours == {10: (30, 30), 11: (60, 2 * 45 + 15), 12: (15, 15)}
    assert not usage.running_now


def test_summarize_clips_to_the_range_and_counts_open_periods_up_to_now() -> None:
    periods = [_period(3, 0, None), _period(1, 0, 10, arn="m2")]
    start, now = T0 + dt.timedelta(minutes=20), T0 + dt.timedelta(minutes=50)
    first, = [u for u in summarize(periods, start, T0 + dt.timedelta(days=1), now)
              if u.project_version_arn == "m1"]
    assert first.running_now
    assert first.hours_running == pytest.approx(30 / 60)
    assert first.inference_unit_hours == pytest.approx(3 * 30 / 60)
    # m2 ran before the range: listed (it overlaps nothing) with zero usage.
    second, = [u for u in summarize(periods, start, now, now) if u.project_version_arn == "m2"]
    assert second.hours_running == 0


def _report(serving: Serving, **fields):
    return {u.version_name: u for u in serving.client.get_inference_usage(**fields)}


def test_a_running_model_reports_its_units_in_describe_and_its_usage(serving: Serving) -> None:
    project = serving.project("usage")
    arn = serving.classifier(project)
    assert not serving.describe(arn).HasField("inference_units_status")
    serving.start(arn, 1, 2)
    status = serving.describe(arn).inference_units_status
    assert status.in_service_inference_units == 1
    assert status.desired_inference_units == 1
    assert status.inference_unit_capacity > 0
    assert status.runtime == "embedded"
    assert [c.name for c in serving.detect(arn, png(COLOURS["green"])).custom_labels] == ["green"]

    running = _report(serving, project_arn=project)["v1"]
    assert running.running and running.project_version_arn == arn
    assert running.hours_running > 0
    assert running.inference_unit_hours == pytest.approx(running.hours_running)
    serving.stop(arn)
    assert not serving.describe(arn).HasField("inference_units_status")

    stopped = _report(serving, project_arn=project, hourly=True)["v1"]
    assert not stopped.running
    assert stopped.hours_running >= running.hours_running
    assert sum(h.hours_running for h in stopped.hours) == pytest.approx(stopped.hours_running)
    # Outside the range: nothing.
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert _report(serving, start_time=past, end_time=past + dt.timedelta(days=1)) == {}


def test_usage_rows_follow_the_units_and_a_crash_ends_them_where_last_seen(make_serving,
                                                                            tmp_path) -> None:
    first = make_serving(data_dir=tmp_path / "crash")
    arn = first.classifier(first.project("crash"))
    first.start(arn, 1)

    # As a crash would leave it: the row still open, last seen a while ago.
    seen = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)

    def age(session) -> None:
        (row,) = session.query(InferenceUnitUsage).all()
        row.started_at = seen - dt.timedelta(hours=1)
        row.last_seen_at = seen

    first.backend.db.run_sync(age)
    first.backend.serving._models[arn].usage_row = None  # the crash: this gateway forgets it
    first.close()

    second = make_serving(data_dir=tmp_path / "crash")
    second.until(lambda: second.describe(arn).inference_units_status.in_service_inference_units,
                 "RUNNING after restart")
    rows = second.backend.db.run_sync(
        lambda s: [(r.units, r.ended_at is None) for r in
                   s.query(InferenceUnitUsage).order_by(InferenceUnitUsage.id)]
    )
    assert rows == [(1, False), (1, True)]
    usage = _report(second)["v1"]
    # The crashed period counts 1 h (to where it was last seen), not the 2 h since.
    assert 1.0 <= usage.hours_running < 1.1
    second.stop(arn)


def test_usage_of_an_unknown_project_is_not_found(serving: Serving) -> None:
    unknown = serving.project("known").replace("/known/", "/unknown/")
    with pytest.raises(errors.ResourceNotFoundException):
        serving.client.get_inference_usage(project_arn=unknown)
    with pytest.raises(errors.InvalidParameterException):
        serving.client.get_inference_usage(
            start_time=dt.datetime(2026, 2, 1), end_time=dt.datetime(2026, 1, 1)
        )


def test_usage_cli_prints_hours_per_model(serving: Serving, cli) -> None:  # noqa: F811
    arn = serving.classifier(serving.project("cli-usage"))
    serving.start(arn)
    serving.stop(arn)
    result = cli("usage", "--endpoint", serving.gateway.address, "--hourly", "--output", "json")
    assert result.code == 0, result.err
    (row,) = json.loads(result.out)["InferenceUsage"]
    assert row["ProjectName"] == "cli-usage" and row["VersionName"] == "v1"
    # Started and stopped at once: a few seconds at most, on one inference unit, all of it
    # in the hours listed.
    assert row["Running"] is False and 0 <= row["HoursRunning"] < 0.01
    assert row["InferenceUnitHours"] == pytest.approx(row["HoursRunning"], abs=2e-4)
    assert 1 <= len(row["Hours"]) <= 2  # the run may straddle an hour boundary
    assert sum(h["HoursRunning"] for h in row["Hours"]) == pytest.approx(row["HoursRunning"],
                                                                        abs=2e-4)
    bad = cli("usage", "--endpoint", serving.gateway.address, "--start-time", "yesterday")
    assert bad.code != 0 and "ISO 8601" in bad.err
