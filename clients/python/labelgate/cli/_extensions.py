"""The commands of labelgate's own extensions (no `aws rekognition` counterpart):

    labelgate watch-project-version --project-version-arn ARN
    labelgate export-model --project-version-arn ARN --output model.zip
    labelgate create-project-version ... --wait       (watches the training it starts)
    labelgate start-model --project-version-arn ARN [--min-inference-units N]
                          [--max-inference-units M] [--no-wait]
    labelgate stop-model --project-version-arn ARN [--no-wait]

Training progress goes to stderr: a progress bar redrawn in place on a terminal, one plain
line per change otherwise (logs, CI). The final state (watch) or the path written (export)
goes to stdout. A training that ends TRAINING_FAILED is exit 255 with its StatusMessage,
like a waiter that fails.

`export-model` takes `--output FILE`, so the global `--output json|text` is accepted only
before the command name there, as for the `convert` commands.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from labelgate.client import Client
from labelgate.v1 import custom_labels_pb2 as pb

#: The `action` these commands set; main.py runs them with `run_extension`.
ACTION = "extension"
TRAINING_IN_PROGRESS = pb.PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS
TRAINING_FAILED = pb.PROJECT_VERSION_STATUS_TRAINING_FAILED
_BAR_WIDTH = 24


class TrainingFailedError(Exception):
    """The watched training ended TRAINING_FAILED (exit 255, like a failed waiter)."""

    def one_line(self) -> str:
        return str(self)


def _status(message: pb.WatchProjectVersionResponse) -> str:
    return pb.ProjectVersionStatus.Name(message.status).removeprefix("PROJECT_VERSION_STATUS_")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def describe(message: pb.WatchProjectVersionResponse) -> str:
    """The state in a few words: stage, epoch, loss, metric, ETA, elapsed."""
    parts: list[str] = []
    if message.status != TRAINING_IN_PROGRESS:
        parts.append(_status(message))
    elif message.HasField("stage"):
        parts.append(message.stage)
    if message.HasField("epoch"):
        total = f"/{message.total_epochs}" if message.HasField("total_epochs") else ""
        parts.append(f"epoch {message.epoch}{total}")
    if message.HasField("loss"):
        parts.append(f"loss {message.loss:.4f}")
    if message.HasField("metric_value"):
        parts.append(f"{message.metric_name or 'metric'} {message.metric_value:.4f}")
    if message.status == TRAINING_IN_PROGRESS and message.HasField("eta_seconds"):
        parts.append(f"eta {_duration(message.eta_seconds)}")
    if message.HasField("elapsed_seconds"):
        parts.append(f"elapsed {_duration(message.elapsed_seconds)}")
    return "  ".join(parts)


class ProgressView:
    """Shows WatchProjectVersion messages on `stream` (stderr): a bar on a terminal,
    plain lines elsewhere (only when something other than the clock changed)."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._last_plain: str | None = None
        self._drawn = False

    def _bar(self, message: pb.WatchProjectVersionResponse) -> str:
        if message.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED:
            fraction = 1.0
        elif message.HasField("epoch") and message.total_epochs > 0:
            fraction = min(1.0, message.epoch / message.total_epochs)
        else:
            fraction = 0.0
        filled = round(fraction * _BAR_WIDTH)
        return f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction * 100:3.0f}%"

    def update(self, message: pb.WatchProjectVersionResponse) -> None:
        text = describe(message)
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            line = f"{self._bar(message)}  {text}"[: max(10, width - 1)]
            self.stream.write("\r" + line.ljust(max(10, width - 1)))
            self.stream.flush()
            self._drawn = True
            return
        # Heartbeats change only the clock: a log gets a line per real change.
        key = text.split("  elapsed ")[0]
        if key != self._last_plain:
            self._last_plain = key
            stamp = time.strftime("%H:%M:%S")
            self.stream.write(f"{stamp} {text}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def follow(messages: Iterable[pb.WatchProjectVersionResponse], view: ProgressView
           ) -> pb.WatchProjectVersionResponse | None:
    """Show every message; return the last one."""
    last = None
    try:
        for message in messages:
            view.update(message)
            last = message
    finally:
        view.close()
    return last


def watch_training(client: Client, arn: str, stream: TextIO | None = None
                   ) -> pb.WatchProjectVersionResponse:
    """Follow a training to its end with progress on `stream` (stderr); raise
    TrainingFailedError if it fails."""
    last = follow(client.watch_project_version(arn), ProgressView(stream or sys.stderr))
    if last is None or last.status == TRAINING_IN_PROGRESS:
        raise ConnectionError(f"the progress stream of {arn} ended before its training did")
    if last.status == TRAINING_FAILED:
        raise TrainingFailedError(f"Training of {arn} failed: {last.status_message}")
    return last


# -- the commands -------------------------------------------------------------------------------


def _watch(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    last = watch_training(client, ns.project_version_arn)
    return {"ProjectVersionArn": last.project_version_arn, "Status": _status(last),
            "StatusMessage": last.status_message}


class _ByteProgress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, received: int, total: int | None) -> None:
        if total:
            text = f"\r{received / 1e6:8.1f} / {total / 1e6:.1f} MB " \
                   f"({received * 100 // max(total, 1)}%)"
        else:
            text = f"\r{received / 1e6:8.1f} MB"
        self.stream.write(text)
        self.stream.flush()
        self.drawn = True


def _export(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    progress = _ByteProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        path = client.export_project_version(ns.project_version_arn, ns.output_path,
                                             on_progress=progress)
    finally:
        if progress is not None and progress.drawn:
            sys.stderr.write("\n")
    print(path)
    return {}


def _project_and_version(client: Client, arn: str) -> tuple[str, str]:
    """The project ARN and version name of a model ARN (`…:project/P/version/V/stamp`)."""
    parts = arn.split("/")
    if len(parts) < 5 or parts[2] != "version":
        raise ValueError(f"not a model (project version) ARN: {arn}")
    for project in client.describe_projects(project_names=[parts[1]]).project_descriptions:
        return project.project_arn, parts[3]
    raise ValueError(f"no project named {parts[1]}")


def _model_state(response: pb.DescribeProjectVersionsResponse | None, arn: str,
                 status: int) -> dict[str, Any]:
    if response is not None:
        for desc in response.project_version_descriptions:
            return {"ProjectVersionArn": arn,
                    "Status": pb.ProjectVersionStatus.Name(desc.status).removeprefix(
                        "PROJECT_VERSION_STATUS_"),
                    "StatusMessage": desc.status_message}
    return {"ProjectVersionArn": arn,
            "Status": pb.ProjectVersionStatus.Name(status).removeprefix(
                "PROJECT_VERSION_STATUS_")}


def _wait_options(ns: argparse.Namespace) -> dict[str, Any]:
    return {"delay": ns.delay, "max_attempts": ns.max_attempts}


def _start_model(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    arn = ns.project_version_arn
    status = client.start_project_version(
        project_version_arn=arn, min_inference_units=ns.min_inference_units,
        max_inference_units=ns.max_inference_units).status
    if not ns.wait:
        return _model_state(None, arn, status)
    project, version = _project_and_version(client, arn)
    return _model_state(client.wait_running(project, version, **_wait_options(ns)), arn, status)


def _stop_model(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    arn = ns.project_version_arn
    status = client.stop_project_version(project_version_arn=arn).status
    if not ns.wait:
        return _model_state(None, arn, status)
    project, version = _project_and_version(client, arn)
    return _model_state(client.wait_stopped(project, version, **_wait_options(ns)), arn, status)


def _parse_time(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time (`2026-11-01`, `2026-11-01T12:00:00+01:00`); naive means UTC."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _usage(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    models = client.get_inference_usage(
        project_arn=ns.project_arn, start_time=_parse_time(ns.start_time),
        end_time=_parse_time(ns.end_time), hourly=ns.hourly,
    )
    rows = []
    for usage in models:
        row: dict[str, Any] = {
            "ProjectName": usage.project_name, "VersionName": usage.version_name,
            "HoursRunning": round(usage.hours_running, 4),
            "InferenceUnitHours": round(usage.inference_unit_hours, 4),
            "Running": usage.running, "ProjectVersionArn": usage.project_version_arn,
        }
        if ns.hourly:
            row["Hours"] = [
                {"HourStart": h.hour_start.ToDatetime(tzinfo=dt.UTC).isoformat(),
                 "HoursRunning": round(h.hours_running, 4),
                 "InferenceUnitHours": round(h.inference_unit_hours, 4)}
                for h in usage.hours
            ]
        rows.append(row)
    return {"InferenceUsage": rows}


def _model_command(subparsers: Any, parent: argparse.ArgumentParser, name: str,
                   help_text: str) -> argparse.ArgumentParser:
    command = subparsers.add_parser(name, parents=[parent], help=help_text,
                                    description=help_text)
    command.add_argument("--project-version-arn", required=True, metavar="ARN",
                         help="the model version")
    command.add_argument("--no-wait", dest="wait", action="store_false",
                         help="return at once instead of waiting for the final status")
    command.add_argument("--delay", type=float, default=2.0, metavar="SECONDS",
                         help="seconds between status checks while waiting (default 2)")
    command.add_argument("--max-attempts", type=int, default=600, metavar="N",
                         help="status checks before giving up (default 600)")
    return command


def _gateway_options(parser: argparse.ArgumentParser) -> None:
    # The global options minus `--output` (here the file to write). SUPPRESSed so a value
    # given before the command name survives (see `_parser._global_options`).
    group = parser.add_argument_group("global options")
    group.add_argument("--endpoint", "--endpoint-url", dest="endpoint", metavar="HOST:PORT",
                       default=argparse.SUPPRESS, help="gateway address (env LABELGATE_ENDPOINT)")
    group.add_argument("--cli-read-timeout", type=float, default=argparse.SUPPRESS,
                       metavar="SECONDS", help="deadline of each call; 0 waits forever")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="print tracebacks")


def add_extension_commands(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Register `watch-project-version`, `export-model`, `start-model`, `stop-model` and
    `usage`;
    `parent` carries the global options."""
    watch = subparsers.add_parser(
        "watch-project-version", parents=[parent],
        help="labelgate extension: follow a model's training (progress bar on stderr).",
        description="Stream a model version's training progress until it ends. Prints the "
                    "final status; exit 255 if training failed.")
    watch.set_defaults(action=ACTION, extension=_watch)
    watch.add_argument("--project-version-arn", required=True, metavar="ARN",
                       help="the model version to follow")

    export = subparsers.add_parser(
        "export-model",
        help="labelgate extension: download a trained model (ONNX, model.json, evaluation).",
        description="Download a trained model's bundle: a zip of model.onnx, model.json, the "
                    "evaluation summary file and the evaluation report.")
    export.set_defaults(action=ACTION, extension=_export)
    _gateway_options(export)
    export.add_argument("--project-version-arn", required=True, metavar="ARN",
                        help="the trained model version")
    export.add_argument("--output", dest="output_path", required=True, metavar="PATH",
                        help="the zip file to write, or a directory to write it into")


    start = _model_command(
        subparsers, parent, "start-model",
        "labelgate: start a trained model and wait until it is RUNNING (exit 255 on FAILED).")
    start.set_defaults(action=ACTION, extension=_start_model)
    start.add_argument("--min-inference-units", type=int, default=1, metavar="N",
                       help="inference units to start with, the floor (default 1)")
    start.add_argument("--max-inference-units", type=int, default=None, metavar="M",
                       help="let the autoscaler go up to M units (default: no scaling)")

    stop = _model_command(
        subparsers, parent, "stop-model",
        "labelgate: stop a running model and wait until it is STOPPED.")
    stop.set_defaults(action=ACTION, extension=_stop_model)

    usage = subparsers.add_parser(
        "usage", parents=[parent],
        help="labelgate extension: hours running and inference-unit hours per model.",
        description="Report how long each model ran and with how many inference units "
                    "(inference-unit hours, what running a model is billed by) over a time "
                    "range: by default the last 30 days.")
    usage.set_defaults(action=ACTION, extension=_usage)
    usage.add_argument("--project-arn", metavar="ARN", help="only this project's models")
    usage.add_argument("--start-time", metavar="ISO8601",
                       help="start of the range (default: 30 days before the end)")
    usage.add_argument("--end-time", metavar="ISO8601", help="end of the range (default: now)")
    usage.add_argument("--hourly", action="store_true",
                       help="also list the usage per clock hour (UTC)")


def run_extension(client: Client, ns: argparse.Namespace) -> dict[str, Any]:
    return ns.extension(client, ns)


__all__ = [
    "ACTION",
    "ProgressView",
    "TrainingFailedError",
    "add_extension_commands",
    "describe",
    "follow",
    "run_extension",
    "watch_training",
]
