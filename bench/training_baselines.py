"""The baselines of the training benchmarks, and the scoring shared with the product's run.

* classification / multi-label: frozen EfficientNet-Lite0 pooled features at 224 px
  (shorter side resized to 224, centre crop, mean = std = 0.5) + scikit-learn
  LogisticRegression (one-vs-rest for multi-label), C chosen from {0.1, 0.3, 1, 3} on 15 %
  of the training images; then refit on all of them.
* detection: the product's own detector with fixed default hyper-parameters (no AutoML),
  on the same budget.

Every baseline's predictions go through the product's evaluation code, so the training.md
numbers compare like for like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.training_data import StagedManifest
from labelgate.backends.local.inference.records import Box, Example, ImagePrediction
from labelgate.backends.local.training.contract import TrainingRequest, TrainingSettings


@dataclass(frozen=True)
class BaselineResult:
    name: str
    wall_s: float
    summary: dict[str, Any]
    scores: dict[str, float]


# --- ground truth from staged Custom Labels lines -------------------------------------------


def _labels_of(line: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Box, ...]]:
    labels: list[str] = []
    boxes: list[Box] = []
    for key, meta in line.items():
        if not key.endswith("-metadata") or not isinstance(meta, dict):
            continue
        value = line.get(key.removesuffix("-metadata"))
        if "class-name" in meta:
            labels.append(meta["class-name"])
        elif isinstance(value, dict) and "annotations" in value:
            names = meta.get("class-map", {})
            for a in value["annotations"]:
                name = names[str(a["class_id"])]
                boxes.append(Box(name, a["left"], a["top"], a["width"], a["height"]))
                labels.append(name)
    return tuple(sorted(set(labels))), tuple(boxes)


def examples_for(task: str, staged: StagedManifest) -> list[Example]:
    examples = []
    for line, path in zip(staged.lines, staged.local_images, strict=True):
        labels, boxes = _labels_of(line)
        with Image.open(path) as image:
            width, height = image.size
        examples.append(Example(source_ref=line["source-ref"], image_path=path, width=width,
                                height=height, labels=labels, boxes=boxes))
    return examples


def model_labels(examples: list[Example]) -> tuple[str, ...]:
    return tuple(sorted({label for e in examples for label in e.labels}))


# --- scoring ------------------------------------------------------------------------------------


def _evaluation(task: str, examples: list[Example], predictions: list[ImagePrediction],
                labels: tuple[str, ...] | None = None) -> Any:
    from labelgate.backends.local.training.evaluation import evaluate

    return evaluate(task, labels or model_labels(examples), examples, predictions)


def score_predictions(task: str, examples: list[Example],
                      predictions: list[ImagePrediction]) -> dict[str, float]:
    """Spec 02 F1 (per-label thresholds, macro mean); for detection mAP@0.5 (COCO-style AP
    at IoU 0.5, mean over labels); for single-label classification plain top-1 accuracy
    and macro-F1 (sklearn): the figures the prototype reported."""
    evaluation = _evaluation(task, examples, predictions)
    scores = {"F1Score": evaluation.f1_score}
    if evaluation.map50 is not None:
        scores["mAP@0.5"] = evaluation.map50
    if task == "classification":
        from sklearn.metrics import accuracy_score, f1_score

        truth = [e.labels[0] for e in examples]
        top1 = [max(p.scores, key=p.scores.get) for p in predictions]
        scores["top1_accuracy"] = accuracy_score(truth, top1)
        scores["top1_macro_f1"] = f1_score(truth, top1, average="macro")
    return scores


def _summary(task: str, train: list[Example], test: list[Example],
             predictions: list[ImagePrediction]) -> dict[str, Any]:
    evaluation = _evaluation(task, test, predictions, model_labels(train))
    return evaluation.summary_document(version_arn="baseline", n_training_images=len(train),
                                       ended_at=datetime.now())


# --- frozen features + logistic regression ------------------------------------------------------


def _features(paths: list[Path], batch: int = 32) -> np.ndarray:
    import torch

    from labelgate.backends.local.training.learners.lite0 import load_pretrained_lite0

    model = load_pretrained_lite0().eval().to(memory_format=torch.channels_last)
    out = []
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            arrays = []
            for path in paths[i:i + batch]:
                with Image.open(path) as image:
                    image = image.convert("RGB")
                    w, h = image.size
                    scale = 224 / min(w, h)
                    image = image.resize((max(224, round(w * scale)), max(224, round(h * scale))),
                                         Image.BILINEAR)
                    w, h = image.size
                    left, top = (w - 224) // 2, (h - 224) // 2
                    image = image.crop((left, top, left + 224, top + 224))
                    arrays.append(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
            x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(
                memory_format=torch.channels_last)
            out.append(model.forward_features(x).flatten(1).numpy())
    return np.concatenate(out)


def _probe(task: str, train: list[Example], test: list[Example]) -> list[ImagePrediction]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    labels = model_labels(train)
    x_train = _features([e.image_path for e in train])
    x_test = _features([e.image_path for e in test])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train))
    cut = max(1, int(len(train) * 0.15))
    held, fit = order[:cut], order[cut:]

    if task == "classification":
        y = np.array([labels.index(e.labels[0]) for e in train])

        def make(c: float) -> Any:
            return LogisticRegression(C=c, max_iter=2000)
    else:
        y = MultiLabelBinarizer(classes=list(range(len(labels)))).fit_transform(
            [[labels.index(label) for label in e.labels] for e in train])

        def make(c: float) -> Any:
            return OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000))

    best_c, best = 1.0, -1.0
    for c in (0.1, 0.3, 1.0, 3.0):
        accuracy = make(c).fit(x_train[fit], y[fit]).score(x_train[held], y[held])
        if accuracy > best:
            best_c, best = c, accuracy
    model = make(best_c).fit(x_train, y)
    probabilities = model.predict_proba(x_test)
    return [ImagePrediction(source_ref=e.source_ref,
                            scores={label: float(p[i]) for i, label in enumerate(labels)})
            for e, p in zip(test, probabilities, strict=True)]


# --- detection: the same detector, fixed hyper-parameters -------------------------------------


def _fixed_detector(train: list[Example], test: list[Example], budget_s: float,
                    workdir: Path) -> list[ImagePrediction]:
    from labelgate.backends.local.training.learners.detection import train_detector

    request = TrainingRequest(task="detection", labels=model_labels(train), train=tuple(train),
                              test=tuple(test), workdir=workdir,
                              settings=TrainingSettings(seed=0, time_budget_s=budget_s,
                                                        automl=False))
    return list(train_detector(request, lambda progress: None).test_predictions)


def run_baseline(task: str, train_staged: StagedManifest, test_staged: StagedManifest,
                 budget_s: float, root: Path) -> BaselineResult:
    train = examples_for(task, train_staged)
    test = examples_for(task, test_staged)
    start = time.perf_counter()
    if task == "detection":
        name = "same detector, fixed default hyper-parameters"
        workdir = root / "baseline"
        workdir.mkdir(exist_ok=True)
        predictions = _fixed_detector(train, test, budget_s, workdir)
    else:
        name = "frozen Lite0 features + logistic regression"
        predictions = _probe(task, train, test)
    wall = time.perf_counter() - start
    return BaselineResult(name=name, wall_s=wall,
                          summary=_summary(task, train, test, predictions),
                          scores=score_predictions(task, test, predictions))
