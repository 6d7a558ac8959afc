"""The typed boundary between the training job, the learner, evaluation and export.

The job (service.py, worker.py) turns validated manifests into `Example`s and a
`TrainingRequest`; the learner (ml/) trains, exports ONNX and predicts the test set with
that ONNX file through the shared inference code (labelgate.backends.local.inference), so
the predictions the evaluation scores are exactly what serving will return; evaluation
(evaluation/) turns `ImagePrediction`s into the AWS-format files and the report.

The images and predictions themselves (`Example`, `ImagePrediction`, the task kinds) are
defined in labelgate.backends.local.inference.records, which serving shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.backends.local.inference.records import Example, ImagePrediction, TaskKind

#: labelgate's own AutoML trainer (learners/), the learner used unless settings name another.
DEFAULT_LEARNER = "automl"


@dataclass(frozen=True)
class TrainingSettings:
    """What the caller may set; AutoML chooses everything else (and records it)."""

    seed: int = 0
    # Wall-clock budget for the learning itself; None lets AutoML size it from the data.
    time_budget_s: float | None = None
    backbone: str = "efficientnet_lite0"
    device: str = "auto"  # "auto" = cuda when available, else cpu
    threads: int | None = None  # torch intra-op threads; None = all cores of the worker
    # False: fixed default hyper-parameters, no AutoML choices (the benchmarks' baseline).
    automl: bool = True
    # The learner plugin that trains (entry-point group `labelgate.learners`).
    learner: str = DEFAULT_LEARNER


@dataclass(frozen=True)
class TrainingRequest:
    task: TaskKind
    labels: tuple[str, ...]  # the model's labels, sorted; indices into it are class ids
    train: tuple[Example, ...]
    test: tuple[Example, ...]
    workdir: Path  # the worker writes everything it produces under here
    settings: TrainingSettings = field(default_factory=TrainingSettings)


@dataclass(frozen=True)
class Progress:
    """One progress report of a running job (WatchProjectVersion streams these)."""

    stage: str  # preparing | training | evaluating | exporting
    epoch: int | None = None  # 1-based
    total_epochs: int | None = None  # the planned number (early stopping may end sooner)
    loss: float | None = None  # mean training loss of the epoch
    metric_name: str | None = None  # the validation metric early stopping watches
    metric_value: float | None = None
    eta_seconds: float | None = None
    message: str = ""


ProgressSink = Callable[[Progress], None]


@dataclass(frozen=True)
class TrainedModel:
    """What the learner hands back: the exported model and its test-set predictions."""

    onnx_path: Path
    card: dict[str, Any]  # model.json without thresholds (evaluation chooses them)
    test_predictions: tuple[ImagePrediction, ...]  # made with onnx_path, input order
    choices: dict[str, Any]  # AutoML's record: resolution, epochs, lr, augmentation, ...
    epochs_run: int
    training_seconds: float


#: What a learner plugin is: it trains, exports and test-predicts (learner_plugins.py).
Learner = Callable[[TrainingRequest, ProgressSink], TrainedModel]


__all__ = [
    "DEFAULT_LEARNER",
    "Learner",
    "Progress",
    "ProgressSink",
    "TrainedModel",
    "TrainingRequest",
    "TrainingSettings",
]
