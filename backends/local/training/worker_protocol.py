"""What a training worker tells the gateway: one JSON object per stdout line.

    {"progress": {"stage": "training", "epoch": 3, "total_epochs": 12, "loss": 0.41, ...}}
    {"result": {"f1_score": 0.93, "files": {...}, ...}}      the last line of a success
    {"error": {"type": "ValueError", "message": "..."}}      the last line of a failure

Anything else on stdout is ignored (libraries may print), and the worker points file
descriptor 1 at its log anyway, so only these lines reach the pipe. Paths in a result are
relative to the job's workdir; `WorkerResult.path()` refuses any that leave it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.backends.local.training.contract import Progress

PROGRESS, RESULT, ERROR = "progress", "result", "error"


@dataclass(frozen=True)
class WorkerResult:
    """A finished job's outputs, as files under the workdir."""

    f1_score: float
    model_files: tuple[str, ...]  # model.onnx, model.json
    summary: str  # the evaluation summary file (EvaluationResultSummary-{P}-{V}.json)
    training_snapshot: str
    testing_snapshot: str
    report_files: tuple[str, ...] = ()  # under report_dir
    report_dir: str = ""
    training_seconds: float = 0.0
    epochs_run: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def path(self, workdir: Path, relative: str) -> Path:
        """`relative` under `workdir`; ValueError for a path that leaves it."""
        root = Path(workdir).resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"worker result path {relative!r} is outside the workdir")
        return path


@dataclass(frozen=True)
class WorkerError:
    type: str
    message: str


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars become numbers, NaN and infinities None (a diverged loss
    must not kill the worker that reports it)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def progress_line(progress: Progress) -> str:
    data = {k: v for k, v in _plain(dataclasses.asdict(progress)).items() if v is not None}
    return json.dumps({PROGRESS: data}, allow_nan=False)


def result_line(result: WorkerResult) -> str:
    return json.dumps({RESULT: _plain(dataclasses.asdict(result))}, allow_nan=False)


def error_line(error: WorkerError) -> str:
    return json.dumps({ERROR: dataclasses.asdict(error)})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def parse_progress(data: Any) -> Progress | None:
    """A Progress from its JSON object; None when it is not one. Unknown keys are ignored
    and badly typed values dropped, so a newer worker never breaks an older gateway."""
    if not isinstance(data, dict) or not isinstance(data.get("stage"), str):
        return None
    metric_name = data.get("metric_name")
    message = data.get("message")
    return Progress(
        stage=data["stage"],
        epoch=_int(data.get("epoch")),
        total_epochs=_int(data.get("total_epochs")),
        loss=_number(data.get("loss")),
        metric_name=metric_name if isinstance(metric_name, str) else None,
        metric_value=_number(data.get("metric_value")),
        eta_seconds=_number(data.get("eta_seconds")),
        message=message if isinstance(message, str) else "",
    )


def _result(data: Any) -> WorkerResult | None:
    if not isinstance(data, dict):
        return None
    try:
        return WorkerResult(
            f1_score=float(data["f1_score"]),
            model_files=tuple(str(f) for f in data["model_files"]),
            summary=str(data["summary"]),
            training_snapshot=str(data["training_snapshot"]),
            testing_snapshot=str(data["testing_snapshot"]),
            report_files=tuple(str(f) for f in data.get("report_files", ())),
            report_dir=str(data.get("report_dir", "")),
            training_seconds=float(data.get("training_seconds", 0.0)),
            epochs_run=int(data.get("epochs_run", 0)),
            details=dict(data.get("details") or {}),
        )
    except (KeyError, TypeError, ValueError):
        return None


def parse_line(line: str | bytes) -> Progress | WorkerResult | WorkerError | None:
    """One stdout line of a worker; None for anything that is not a protocol line."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or len(data) != 1:
        return None
    ((kind, body),) = data.items()
    if kind == PROGRESS:
        return parse_progress(body)
    if kind == RESULT:
        return _result(body)
    if kind == ERROR and isinstance(body, dict):
        return WorkerError(str(body.get("type", "")), str(body.get("message", "")))
    return None


__all__ = [
    "WorkerError",
    "WorkerResult",
    "error_line",
    "parse_line",
    "parse_progress",
    "progress_line",
    "result_line",
]
