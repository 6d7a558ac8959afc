"""job.json: what the gateway hands a training worker, as JSON.

The gateway writes one per job into the job's workdir and starts the worker on it
(worker.py). It holds the `TrainingRequest` (contract.py) plus what the worker needs to name
its outputs: the model version's ARN and names, and when its training began.

    {"format": "labelgate-training-job", "format_version": 1,
     "version_arn": "...", "project_name": "...", "version_name": "...",
     "created_at": "2026-12-05T10:00:00.123456+00:00",
     "request": {"task": "classification", "labels": [...], "workdir": "...",
                 "settings": {"seed": 0, ...},
                 "train": [{"source_ref": "s3://b/k.png", "image_path": "...", "width": 640,
                            "height": 480, "labels": ["a"],
                            "boxes": [{"label": "a", "left": 1, "top": 2, "width": 3,
                                       "height": 4}]}, ...],
                 "test": [...]}}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelgate.backends.local.inference.records import Box, Example
from labelgate.backends.local.training.contract import TrainingRequest, TrainingSettings

FORMAT = "labelgate-training-job"
FORMAT_VERSION = 1


class JobFileError(ValueError):
    """job.json cannot be read as a training job of this format."""


@dataclass(frozen=True)
class TrainingJob:
    request: TrainingRequest
    version_arn: str
    project_name: str
    version_name: str
    created_at: dt.datetime  # the version's CreationTimestamp (training start)


def _example_to_json(example: Example) -> dict[str, Any]:
    return {
        "source_ref": example.source_ref,
        "image_path": str(example.image_path),
        "width": example.width,
        "height": example.height,
        "labels": list(example.labels),
        "boxes": [dataclasses.asdict(box) for box in example.boxes],
    }


def _example_from_json(data: dict[str, Any]) -> Example:
    return Example(
        source_ref=str(data["source_ref"]),
        image_path=Path(data["image_path"]),
        width=int(data["width"]),
        height=int(data["height"]),
        labels=tuple(str(label) for label in data["labels"]),
        boxes=tuple(
            Box(str(b["label"]), float(b["left"]), float(b["top"]), float(b["width"]),
                float(b["height"]))
            for b in data.get("boxes", ())
        ),
    )


def request_to_json(request: TrainingRequest) -> dict[str, Any]:
    return {
        "task": request.task,
        "labels": list(request.labels),
        "workdir": str(request.workdir),
        "settings": dataclasses.asdict(request.settings),
        "train": [_example_to_json(e) for e in request.train],
        "test": [_example_to_json(e) for e in request.test],
    }


def request_from_json(data: dict[str, Any]) -> TrainingRequest:
    known = {f.name for f in dataclasses.fields(TrainingSettings)}
    # Settings a newer gateway added are left out rather than failing an older worker.
    settings = TrainingSettings(**{k: v for k, v in data.get("settings", {}).items()
                                   if k in known})
    return TrainingRequest(
        task=data["task"],
        labels=tuple(data["labels"]),
        train=tuple(_example_from_json(e) for e in data["train"]),
        test=tuple(_example_from_json(e) for e in data["test"]),
        workdir=Path(data["workdir"]),
        settings=settings,
    )


def job_to_json(job: TrainingJob) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version_arn": job.version_arn,
        "project_name": job.project_name,
        "version_name": job.version_name,
        "created_at": job.created_at.isoformat(),
        "request": request_to_json(job.request),
    }


def job_from_json(data: dict[str, Any]) -> TrainingJob:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise JobFileError(f"not a {FORMAT} document")
    if data.get("format_version") != FORMAT_VERSION:
        raise JobFileError(f"unsupported {FORMAT} format_version {data.get('format_version')!r}")
    try:
        return TrainingJob(
            request=request_from_json(data["request"]),
            version_arn=str(data["version_arn"]),
            project_name=str(data["project_name"]),
            version_name=str(data["version_name"]),
            created_at=dt.datetime.fromisoformat(data["created_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JobFileError(f"malformed {FORMAT} document: {exc!r}") from exc


def write_job(job: TrainingJob, path: Path) -> None:
    """Write atomically: a worker never reads half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(job_to_json(job), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_job(path: Path) -> TrainingJob:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JobFileError(f"cannot read {path}: {exc}") from exc
    return job_from_json(data)


__all__ = [
    "JobFileError",
    "TrainingJob",
    "job_from_json",
    "job_to_json",
    "read_job",
    "request_from_json",
    "request_to_json",
    "write_job",
]
