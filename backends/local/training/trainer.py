"""The trainer seam: turning validated training data into a model.

`train(target, inputs)` is called once validation passed (validation.py), with the version
still TRAINING_IN_PROGRESS and its validation outputs recorded. It returns a
`TrainingCompleted` when a model exists; the training service then marks the version
TRAINING_COMPLETED. Anything it raises fails the version: `TrainerNotAvailable` with
`TRAINER_NOT_AVAILABLE_MESSAGE`, any other exception with the service-issue message.

No trainer exists yet (it is the next issue's work), so `train` raises
TrainerNotAvailable: a version that passes validation ends TRAINING_FAILED with a message
that says so, and never pretends to have a model. The trainer replaces this function, or is
passed to `TrainingService(trainer=...)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from labelgate.backends.local.training.outputs import OutputLocation
from labelgate.backends.local.training.validation import ValidatedInputs

TRAINER_NOT_AVAILABLE_MESSAGE = (
    "The training data passed validation, but this server has no trainer yet: "
    "no model was trained."
)


class TrainerNotAvailable(Exception):
    """This server cannot train models (yet)."""


@dataclass(frozen=True)
class TrainingTarget:
    """The model version being trained."""

    version_id: int
    version_arn: str
    project_name: str
    version_name: str
    output: OutputLocation  # where the evaluation files go (spec 02 §4.3, §6.1)
    kms_key_id: str | None


@dataclass(frozen=True)
class TrainingCompleted:
    """What a successful trainer reports."""

    billable_training_seconds: int


Trainer = Callable[[TrainingTarget, ValidatedInputs], Awaitable[TrainingCompleted]]


async def train(target: TrainingTarget, inputs: ValidatedInputs) -> TrainingCompleted:
    raise TrainerNotAvailable(TRAINER_NOT_AVAILABLE_MESSAGE)
