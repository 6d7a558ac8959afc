"""Running parsed commands: an operation through `Client.call`, the dataset conveniences
(`--manifest`, `--wait`), `wait NAME` and `serve`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelgate.cli._convert import ACTION as CONVERT_ACTION
from labelgate.cli._convert import run_convert
from labelgate.cli._extensions import watch_training
from labelgate.cli._params import ParamError
from labelgate.client import PAGINATED, Client

_log = logging.getLogger("labelgate.cli")

#: UpdateDatasetEntries takes at most 5 MB of JSON Lines per call ("must be under 5 MB");
#: we stay under both readings of "MB".
MAX_CHANGES_BYTES = 5_000_000


def manifest_chunks(data: bytes, limit: int = MAX_CHANGES_BYTES) -> Iterator[bytes]:
    """Split JSON Lines into chunks of whole lines, each at most `limit` bytes.

    Blank lines are dropped. A single line longer than `limit` is a ParamError: it could
    never be sent, and AWS caps an entry at 100,000 characters anyway.
    """
    chunk: list[bytes] = []
    size = 0
    for number, line in enumerate(data.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if len(line) > limit:
            raise ParamError(f"Error parsing parameter '--manifest': line {number} is "
                             f"{len(line)} bytes, more than the {limit} bytes one "
                             "UpdateDatasetEntries call takes")
        extra = len(line) + (1 if chunk else 0)  # the "\n" that joins it to the chunk
        if chunk and size + extra > limit:
            yield b"\n".join(chunk)
            chunk, size, extra = [], 0, len(line)
        chunk.append(line)
        size += extra
    if chunk:
        yield b"\n".join(chunk)


def _s3_source(uri: str) -> dict[str, Any]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ParamError(f"Error parsing parameter '--manifest': {uri!r} is not "
                         "s3://bucket/key")
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}


def _waiting(ns: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(ns, "wait_delay", None) is not None:
        out["delay"] = ns.wait_delay
    if getattr(ns, "wait_max_attempts", None) is not None:
        out["max_attempts"] = ns.wait_max_attempts
    return out


def _create_dataset(client: Client, params: dict[str, Any],
                    ns: argparse.Namespace) -> dict[str, Any]:
    manifest: str | None = getattr(ns, "manifest", None)
    if manifest and "DatasetSource" in params:
        raise ParamError("Error parsing parameter '--manifest': cannot be used together "
                         "with --dataset-source")
    waiting = _waiting(ns)
    if manifest is None or manifest.startswith("s3://"):
        if manifest:
            params["DatasetSource"] = _s3_source(manifest)
        result = client.call("CreateDataset", params)
        if ns.wait:
            client.wait_dataset_created(result["DatasetArn"], **waiting)
        return result

    # A local manifest: AWS has no such source, so do what the console does for uploads:
    # an empty dataset filled through UpdateDatasetEntries. Chunk first, so a bad file fails
    # before anything is created.
    path = Path(manifest).expanduser()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ParamError(f"Error parsing parameter '--manifest': cannot read {manifest}: "
                         f"{e.strerror or e}") from None
    chunks = list(manifest_chunks(data, MAX_CHANGES_BYTES))
    result = client.call("CreateDataset", params)
    arn = result["DatasetArn"]
    client.wait_dataset_created(arn, **waiting)
    for number, chunk in enumerate(chunks, start=1):
        _log.debug("sending manifest chunk %d/%d (%d bytes)", number, len(chunks), len(chunk))
        client.call("UpdateDatasetEntries", {"DatasetArn": arn,
                                             "Changes": {"GroundTruth": chunk}})
        client.wait_dataset_updated(arn, **waiting)
    return result


def _call_all_pages(client: Client, operation: str, params: dict[str, Any],
                    ns: argparse.Namespace) -> dict[str, Any]:
    # As the AWS CLI: paginated commands print every page merged into one result, unless
    # --no-paginate is given or the caller drives paging with --next-token / --max-results.
    result_key = PAGINATED.get(operation)
    if result_key is None or ns.no_paginate or "NextToken" in params or "MaxResults" in params:
        return client.call(operation, params)
    merged: dict[str, Any] = {}
    for page in client.paginate(operation, params):
        items = merged.get(result_key, [])
        merged.update(page)
        merged[result_key] = items + page.get(result_key, [])
    merged.pop("NextToken", None)
    return merged


def run_operation(client: Client, ns: argparse.Namespace,
                  params: dict[str, Any]) -> dict[str, Any]:
    """Send the request (plus any convenience around it); return the AWS-shaped result."""
    if ns.action == CONVERT_ACTION:  # `convert ...` / `export-coco`: prints its own output
        run_convert(client, ns)
        return {}
    operation = ns.command.operation
    if operation == "CreateDataset":
        return _create_dataset(client, params, ns)
    result = _call_all_pages(client, operation, params, ns)
    if getattr(ns, "wait", False):
        if operation == "CreateProjectVersion":
            # labelgate extension: follow the training through WatchProjectVersion.
            watch_training(client, result["ProjectVersionArn"])
        elif operation == "UpdateDatasetEntries":
            client.wait_dataset_updated(params["DatasetArn"], **_waiting(ns))
        elif operation == "DistributeDatasetEntries":
            # Both datasets pass through UPDATE_IN_PROGRESS; success is both complete.
            for dataset in params["Datasets"]:
                client.wait_dataset_updated(dataset["Arn"], **_waiting(ns))
    return result


def run_wait(client: Client, ns: argparse.Namespace, params: dict[str, Any]) -> None:
    """`labelgate wait NAME`: returns on success, raises WaiterError otherwise."""
    options: dict[str, Any] = {}
    if ns.delay is not None:
        options["delay"] = ns.delay
    if ns.max_attempts is not None:
        options["max_attempts"] = ns.max_attempts
    name = ns.waiter_name
    if name == "DatasetCreated":
        client.wait_dataset_created(params["DatasetArn"], **options)
    elif name == "DatasetUpdated":
        client.wait_dataset_updated(params["DatasetArn"], **options)
    else:
        wait = {"ProjectVersionTrainingCompleted": client.wait_training_completed,
                "ProjectVersionRunning": client.wait_running,
                "ProjectVersionStopped": client.wait_stopped}[name]
        wait(params["ProjectArn"], params.get("VersionNames"), **options)


class ServerNotInstalledError(Exception):
    """`labelgate serve` where only the labelgate-client distribution is installed."""


def run_serve(ns: argparse.Namespace) -> None:
    # Imported here: every other command is a pure client and must not load server code
    # (or need the server's dependencies).
    try:
        from labelgate.server.app import run
        from labelgate.server.config import load_settings
    except ModuleNotFoundError as e:
        # Only the server package missing means a client-only install; a missing dependency
        # of an installed server (onnxruntime, ...) stays the real error it is.
        if e.name not in ("labelgate.server", "labelgate.server.app", "labelgate.server.config"):
            raise
        raise ServerNotInstalledError(
            "labelgate serve: the labelgate server is not installed (only labelgate-client "
            "is): pip install labelgate, or from a checkout: "
            "pip install ./clients/python '.[server,train]'") from None

    run(load_settings(ns.config, host=ns.host, port=ns.port, data_dir=ns.data_dir,
                      metrics_port=ns.metrics_port, aws_port=ns.aws_port))
