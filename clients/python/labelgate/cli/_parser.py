"""The `labelgate` argument parser: global options, one subcommand per operation, `wait`,
`serve`. Parsing only; running the commands lives in `_commands.py`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from labelgate import __version__, shapes
from labelgate.cli._convert import ACTION as CONVERT_ACTION
from labelgate.cli._convert import add_convert_commands
from labelgate.cli._extensions import ACTION as EXTENSION_ACTION
from labelgate.cli._extensions import add_extension_commands
from labelgate.cli._model import Command, Member, commands
from labelgate.cli._params import ParamError, coerce, load_paramfile, parse_option
from labelgate.client import DEFAULT_TARGET
from labelgate.errors import ValidationException

# Exit codes of the AWS CLI v2, so scripts written for `aws` read ours the same way.
EXIT_OK = 0
EXIT_INTERRUPTED = 130
EXIT_PARAM = 252  # the command line could not be parsed or failed validation
EXIT_SERVICE = 254  # the service answered with an error
EXIT_FAILURE = 255  # anything else: connection, waiter, local failure

ENDPOINT_ENV = "LABELGATE_ENDPOINT"

#: Waiters as `labelgate wait NAME`, like `aws rekognition wait NAME`, with the members of
#: their Describe operation they take.
WAIT_COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dataset-created": ("DatasetCreated", "DescribeDataset", ("DatasetArn",)),
    "dataset-updated": ("DatasetUpdated", "DescribeDataset", ("DatasetArn",)),
    "project-version-training-completed": (
        "ProjectVersionTrainingCompleted", "DescribeProjectVersions",
        ("ProjectArn", "VersionNames")),
    "project-version-running": (
        "ProjectVersionRunning", "DescribeProjectVersions", ("ProjectArn", "VersionNames")),
    "project-version-stopped": (
        "ProjectVersionStopped", "DescribeProjectVersions", ("ProjectArn", "VersionNames")),
}

#: Commands that take `--wait` (poll until the dataset work they start has finished).
WAITABLE = {"CreateDataset", "UpdateDatasetEntries", "DistributeDatasetEntries"}

#: labelgate's extension members (no `aws rekognition` option) as options of their command:
#: operation -> (member, option, help).
EXTENSION_MEMBERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "CreateProjectVersion": ((
        "TrainingBudgetSeconds", "--training-budget-seconds",
        "labelgate extension: this version's training time budget in seconds (60 to 86400), "
        "in place of the gateway's training_time_budget_seconds; the AWS backend ignores it"),),
}


class UsageError(Exception):
    """A command line argparse rejects; printed on one line, exit 252."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError (one line) instead of printing usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # the AWS CLI takes no abbreviations
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: error: {message}")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Declared on the root with real defaults and on every subcommand with SUPPRESS, so
    # they may come before or after the command (`labelgate create-project --debug ...`).
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument("--endpoint", "--endpoint-url", dest="endpoint", metavar="HOST:PORT",
                       default=default(os.environ.get(ENDPOINT_ENV) or DEFAULT_TARGET),
                       help=f"gateway address (env {ENDPOINT_ENV}; default {DEFAULT_TARGET})")
    group.add_argument("--backend", default=default(None),
                       help="backend for creates (metadata x-labelgate-backend)")
    group.add_argument("--output", choices=["json", "text"], default=default("json"),
                       help="json (indented like the AWS CLI) or text (tab-separated)")
    group.add_argument("--query", default=default(None), metavar="JMESPATH",
                       help="a JMESPath expression applied to the response, as in the AWS CLI")
    group.add_argument("--cli-read-timeout", type=float, default=default(60.0),
                       metavar="SECONDS", help="deadline of each call; 0 waits forever")
    group.add_argument("--no-paginate", action="store_true", default=default(False),
                       help="print only the first page of a paginated command")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="log each call and print tracebacks")


def _add_member(parser: argparse.ArgumentParser, group: Any, member: Member) -> None:
    shape = member.shape
    kind = shape.type_name
    if kind == "boolean":
        # `--labeled` / `--no-labeled`, as the AWS CLI spells booleans.
        group.add_argument(member.option, dest=member.name, action="store_const", const=True,
                           default=None, help=member.help)
        group.add_argument("--no-" + member.option[2:], dest=member.name,
                           action="store_const", const=False, default=None,
                           help=argparse.SUPPRESS)
        return
    kwargs: dict[str, Any] = {"dest": member.name, "default": None, "help": member.help}
    if kind in ("list", "map"):
        kwargs["nargs"] = "+"
    if kind == "string" and shape.enum:
        kwargs["metavar"] = "{" + ",".join(shape.enum) + "}"
    elif kind in ("integer", "long"):
        kwargs["metavar"] = "INTEGER"
    elif kind in ("float", "double"):
        kwargs["metavar"] = "FLOAT"
    elif kind in ("structure", "map"):
        kwargs["metavar"] = "JSON|SHORTHAND"
    else:
        kwargs["metavar"] = "VALUE"
    group.add_argument(member.option, **kwargs)


def _add_wait_options(group: Any, what: str) -> None:
    group.add_argument("--wait-delay", type=float, default=None, metavar="SECONDS",
                       help=f"seconds between polls while waiting for {what}")
    group.add_argument("--wait-max-attempts", type=int, default=None, metavar="N",
                       help="polls before giving up")


def _add_operation(subparsers: Any, command: Command, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(command.name, help=command.help, description=command.help,
                                   parents=[parent])
    parser.set_defaults(action="operation", command=command)
    required = parser.add_argument_group("required arguments")
    optional = parser.add_argument_group("arguments")
    for member in command.members:
        _add_member(parser, required if member.required else optional, member)
    optional.add_argument("--cli-input-json", metavar="JSON",
                          help="the whole request as JSON (or file://path); options override")
    if any(m.name == "Image" for m in command.members):
        optional.add_argument("--image-bytes", metavar="fileb://PATH",
                              help="the image file's bytes (instead of --image), e.g. "
                                   "fileb://photo.jpg")
    if command.operation == "CreateDataset":
        optional.add_argument("--manifest", metavar="PATH|s3://BUCKET/KEY",
                              help="Ground Truth manifest: an S3 URI becomes --dataset-source; "
                                   "a local file is sent with update-dataset-entries in chunks "
                                   "(implies --wait)")
    if command.operation in WAITABLE:
        optional.add_argument("--wait", action="store_true",
                              help="return once the dataset work has finished")
        _add_wait_options(optional, "the dataset")
    for name, option, help_text in EXTENSION_MEMBERS.get(command.operation, ()):
        optional.add_argument(option, dest=name, type=int, default=None, metavar="SECONDS",
                              help=help_text)
    if command.operation == "CreateProjectVersion":
        optional.add_argument("--wait", action="store_true",
                              help="follow the training until it ends, with a progress bar "
                                   "on stderr (labelgate extension)")


def _add_wait(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    wait = subparsers.add_parser("wait", help="Wait until a dataset or model reaches a state.",
                                 description="Poll until a state is reached, like "
                                             "`aws rekognition wait`.", parents=[parent])
    waits = wait.add_subparsers(dest="waiter", metavar="WAITER", required=True)
    by_operation = {c.operation: c for c in commands()}
    for name, (waiter, operation, members) in WAIT_COMMANDS.items():
        command = by_operation[operation]
        parser = waits.add_parser(name, help=f"Wait for {waiter} (polls {operation}).",
                                  parents=[parent])
        parser.set_defaults(action="wait", command=command, waiter_name=waiter)
        required = parser.add_argument_group("required arguments")
        optional = parser.add_argument_group("arguments")
        for member_name in members:
            member = command.member(member_name)
            _add_member(parser, required if member.required else optional, member)
        optional.add_argument("--delay", type=float, default=None, metavar="SECONDS",
                              help="seconds between polls (default: the waiter's)")
        optional.add_argument("--max-attempts", type=int, default=None, metavar="N",
                              help="polls before giving up (default: the waiter's)")


def _add_serve(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    serve = subparsers.add_parser("serve", help="Run the labelgate gateway.",
                                  description="Run the gateway until SIGTERM or Ctrl-C. "
                                              "Options override the config file and "
                                              "LABELGATE_* variables.", parents=[parent])
    serve.set_defaults(action="serve")
    serve.add_argument("--config", metavar="PATH", help="TOML or YAML settings file")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="gRPC port")
    serve.add_argument("--data-dir", metavar="PATH", help="where the local backend keeps data")
    serve.add_argument("--aws-port", type=int,
                       help="AWS-compatible HTTP port for boto3 (default 0 = off)")
    serve.add_argument("--metrics-port", type=int,
                       help="Prometheus /metrics port (0 turns it off)")


def build_parser() -> Parser:
    parser = Parser(prog="labelgate",
                    description="Rekognition Custom Labels, self-hosted: every "
                                "`aws rekognition` Custom Labels command, plus `serve`.")
    parser.add_argument("--version", action="version", version=f"labelgate {__version__}")
    _global_options(parser, suppress=False)
    parent = Parser(add_help=False)
    _global_options(parent, suppress=True)
    subparsers = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True,
                                       parser_class=Parser)
    for command in commands():
        _add_operation(subparsers, command, parent)
    _add_wait(subparsers, parent)
    _add_serve(subparsers, parent)
    add_convert_commands(subparsers)  # `convert ...`, `export-coco`: see _convert.py
    add_extension_commands(subparsers, parent)  # `watch-project-version`, `export-model`
    return parser


def _input_json(command: Command, text: str) -> dict[str, Any]:
    value = load_paramfile("--cli-input-json", text)
    try:
        data = json.loads(value)
    except json.JSONDecodeError as e:
        raise ParamError(f"Error parsing parameter '--cli-input-json': Invalid JSON: {e.msg}"
                         ) from None
    ours = {m.name for m in command.members}
    unknown = sorted(set(data) - ours) if isinstance(data, dict) else []
    if unknown:
        raise ParamError(f"Error parsing parameter '--cli-input-json': Unknown parameter "
                         f"\"{unknown[0]}\", must be one of: {', '.join(sorted(ours))}")
    return coerce(command.model.input_shape, data, "--cli-input-json")


def request_params(ns: argparse.Namespace, *, prog: str = "labelgate") -> dict[str, Any]:
    """The AWS-shaped request a parsed operation (or wait) command stands for.

    Raises ParamError for unreadable values and UsageError for missing required options,
    checked after `--cli-input-json` is merged, as the AWS CLI does.
    """
    if ns.action in (CONVERT_ACTION, EXTENSION_ACTION):  # no AWS-shaped request of their own
        return {}
    command: Command = ns.command
    params: dict[str, Any] = {}
    if getattr(ns, "cli_input_json", None):
        params.update(_input_json(command, ns.cli_input_json))
    present = [m for m in command.members if hasattr(ns, m.name)]
    for member in present:
        raw = getattr(ns, member.name)
        if raw is not None:
            params[member.name] = parse_option(member.shape, raw, member.option)
    image_bytes = getattr(ns, "image_bytes", None)
    if image_bytes is not None:
        if getattr(ns, "Image", None) is not None:
            raise ParamError("Error parsing parameter '--image-bytes': cannot be used "
                             "together with --image")
        params["Image"] = {"Bytes": load_paramfile("--image-bytes", image_bytes)}
    if ns.action == "operation":
        for name, _, _ in EXTENSION_MEMBERS.get(command.operation, ()):
            if getattr(ns, name, None) is not None:
                params[name] = getattr(ns, name)
    missing = [m.option for m in present if m.required and m.name not in params]
    if missing:
        name = " ".join(filter(None, (prog, ns.command_name, getattr(ns, "waiter", None))))
        raise UsageError(f"{name}: error: the following arguments are "
                         f"required: {', '.join(missing)}")
    if ns.action == "operation":
        try:  # the checks that would otherwise fail only when the request is built
            shapes.from_aws(dict(params), shapes.operation_types(command.operation)[0])
        except ValidationException as e:
            raise ParamError(f"Parameter validation failed: {e.message}") from None
    return params
