"""Learners are plugins, found through the `labelgate.learners` entry-point group.

The local backend's setting `training_learner` names one (default `automl`: labelgate's
own AutoML trainer, registered by this distribution). The gateway checks at start that the
name is installed; the training worker loads it by that name. Only installed
distributions register learners: nothing is loaded from a path or a module named at run
time. A learner is a callable `(TrainingRequest, ProgressSink) -> TrainedModel`
(contract.py) that trains, exports ONNX and test-predicts through the shared inference code.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from labelgate.backends.local.training.contract import Learner

GROUP = "labelgate.learners"


class UnknownLearner(LookupError):
    """No installed distribution registers a learner of that name."""


def installed_learners() -> dict[str, EntryPoint]:
    """Learner name -> its entry point, for every installed distribution."""
    return {point.name: point for point in entry_points(group=GROUP)}


def check_installed(name: str) -> None:
    if name not in installed_learners():
        names = ", ".join(sorted(installed_learners())) or "none"
        raise UnknownLearner(f"no learner {name!r} is installed (entry-point group {GROUP}; "
                             f"installed: {names})")


def load_learner(name: str) -> Learner:
    check_installed(name)
    learner = installed_learners()[name].load()
    if not callable(learner):
        raise UnknownLearner(f"learner {name!r} is not callable")
    return learner


__all__ = ["GROUP", "UnknownLearner", "check_installed", "installed_learners", "load_learner"]
