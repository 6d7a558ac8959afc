"""The object-detection learner: `train_detector(request, progress) -> TrainedModel`.

Flow: AutoML plans from the training boxes (detection_automl) → a validation split carved
from the training images → Faster R-CNN on the pretrained Lite0 (detection_model) trained
on random crops with SGD, warmup and cosine, within the wall-clock budget, keeping the
checkpoint with the best validation score → class-blind NMS chosen on validation → ONNX
export + card (detection_export) → the test set predicted from the ONNX file through the
serving code (inference/detector.py), so evaluation scores what serving returns.

Determinism: given the seed (and the thread count) the run is reproducible as long as the
time budget does not cut it short; the schedule's progress is the larger of the iteration
fraction and the wall-clock fraction, so a binding budget still ends with the LR at zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torchvision.ops import nms

from labelgate.backends.local.inference.detector import DetectorPredictor
from labelgate.backends.local.training.contract import (
    Progress,
    ProgressSink,
    TrainedModel,
    TrainingRequest,
)
from labelgate.backends.local.training.learners.detection_automl import (
    DetectorOptions,
    DetectorPlan,
    plan_detector,
)
from labelgate.backends.local.training.learners.detection_data import (
    ImageRecord,
    canvas_input,
    load_record,
    sample_crop,
    split_validation,
)
from labelgate.backends.local.training.learners.detection_export import (
    detector_card,
    export_detector,
)
from labelgate.backends.local.training.learners.detection_metrics import (
    ImageDetections,
    ValScores,
    score_detections,
)
from labelgate.backends.local.training.learners.detection_model import DetectorNet, build_detector
from labelgate.backends.local.training.learners.lite0 import NORMALIZATION_MEAN, NORMALIZATION_STD
from labelgate.backends.local.training.learners.schedules import resolve_device, warmup_cosine

SUPPORTED_BACKBONES = ("efficientnet_lite0",)
MODEL_DIR = "model"  # under the request's workdir: model.onnx (+ model.json)
VAL_BATCH = 4
VAL_OVERHEAD = 0.1  # validation may take at most about this share of the training time
PROGRESS_EVERY_S = 30.0  # long epochs also report mid-way
TIME_TAKEOVER = 0.1  # see _fit.fraction
SELECT_FROM = 0.5  # checkpoints compete from this schedule progress on
MAX_BAD_STEPS = 20  # non-finite losses tolerated before giving up

RawDetections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes xyxy, scores, labels


def _batch(
    records: Sequence[ImageRecord],
    plan: DetectorPlan,
    rng: np.random.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    crops = [
        sample_crop(r, plan.crop, plan.augment, rng, NORMALIZATION_MEAN, NORMALIZATION_STD)
        for r in records
    ]
    images = torch.from_numpy(np.stack([c.image for c in crops])).to(device)
    images = images.contiguous(memory_format=torch.channels_last)
    targets = [
        {
            "boxes": torch.from_numpy(c.boxes).to(device),
            "labels": torch.from_numpy(c.labels + 1).to(device),  # 0 is the background
        }
        for c in crops
    ]
    return images, targets


@torch.no_grad()
def predict_records(
    model: DetectorNet,
    records: Sequence[ImageRecord],
    canvas: tuple[int, int],
    device: torch.device,
) -> list[RawDetections]:
    """Eager detections (canvas pixels) of whole images, batched like nothing else does."""
    was_training = model.training
    model.eval()
    out: list[RawDetections] = []
    for start in range(0, len(records), VAL_BATCH):
        chunk = records[start : start + VAL_BATCH]
        x = np.stack(
            [canvas_input(r, canvas, NORMALIZATION_MEAN, NORMALIZATION_STD) for r in chunk]
        )
        images = torch.from_numpy(x).to(device).contiguous(memory_format=torch.channels_last)
        for boxes, scores, labels in model.detect(images):
            out.append((boxes.cpu().numpy(), scores.cpu().numpy(), labels.cpu().numpy()))
    model.train(was_training)
    return out


def class_blind_nms(dets: RawDetections, iou: float | None) -> RawDetections:
    """The ONNX graph's last step, replayed on saved detections to compare settings."""
    boxes, scores, labels = dets
    if iou is None or len(boxes) == 0:
        return dets
    keep = nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
    return boxes[keep], scores[keep], labels[keep]


def score_on(
    dets: Sequence[RawDetections],
    records: Sequence[ImageRecord],
    iou: float | None,
    num_classes: int,
) -> ValScores:
    images = []
    for d, r in zip(dets, records, strict=True):
        boxes, scores, labels = class_blind_nms(d, iou)
        images.append(ImageDetections(boxes, scores, labels, r.boxes, r.labels))
    return score_detections(images, num_classes)


@dataclass
class _Best:
    score: float = -1.0
    epoch: int = 0
    nms_iou: float | None = None
    val: ValScores | None = None
    state: dict[str, torch.Tensor] | None = None


def _evaluate(
    model: DetectorNet, val: Sequence[ImageRecord], plan: DetectorPlan, device: torch.device
) -> tuple[ValScores, float | None, dict[str, float]]:
    """Best val scores over the class-blind NMS candidates (and the winning candidate)."""
    dets = predict_records(model, val, plan.canvas, device)
    results: dict[str, float] = {}
    best: tuple[ValScores, float | None] | None = None
    for iou in plan.nms_candidates:
        s = score_on(dets, val, iou, plan.net.num_classes)
        results["off" if iou is None else f"iou_{iou}"] = round(s.combined, 4)
        # Ties keep the earlier (simpler) candidate: "off" comes first.
        if best is None or s.combined > best[0].combined + 1e-9:
            best = (s, iou)
    assert best is not None
    return best[0], best[1], results


@dataclass
class DetectorFit:
    """A trained network and what is needed to export it (the learner's middle state)."""

    model: DetectorNet  # best checkpoint, class-blind NMS set as chosen, eval mode
    plan: DetectorPlan
    device: torch.device
    sample: torch.Tensor  # one normalized canvas, the export's tracing input
    choices: dict[str, Any]
    epochs_run: int
    training_seconds: float


def fit_detector(
    request: TrainingRequest,
    progress: ProgressSink,
    options: DetectorOptions | None = None,
) -> DetectorFit:
    """Plan, split, load and train; the best checkpoint is left in the returned model."""
    settings = request.settings
    options = options or DetectorOptions()
    if not settings.automl:
        options = replace(options, automl=False)
    if settings.backbone not in SUPPORTED_BACKBONES:
        raise ValueError(
            f"detection supports the backbones {', '.join(SUPPORTED_BACKBONES)}, "
            f"not {settings.backbone!r}"
        )
    if not request.labels:
        raise ValueError("a detector needs at least one label")
    if not request.train:
        raise ValueError("a detector needs training images")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    progress(Progress(stage="preparing", message="planning and loading images"))

    plan = plan_detector(request.train, request.labels, settings.time_budget_s, options)
    rng = np.random.default_rng(settings.seed)
    train_idx, val_idx = split_validation(request.train, plan.val_count, rng)
    label_index = {label: i for i, label in enumerate(request.labels)}
    records = [load_record(ex, label_index, plan.canvas) for ex in request.train]
    train_records = [records[i] for i in train_idx]
    val_records = [records[i] for i in val_idx]

    torch.manual_seed(settings.seed)
    model = build_detector(plan.net, pretrained=options.pretrained)
    model = model.to(device, memory_format=torch.channels_last)
    result = _fit(model, train_records, val_records, plan, device, rng, progress)
    model.config = replace(model.config, class_agnostic_nms_iou=result["nms_iou"])
    model.eval()
    sample_record = (val_records or train_records)[0]
    sample = torch.from_numpy(
        canvas_input(sample_record, plan.canvas, NORMALIZATION_MEAN, NORMALIZATION_STD)[None]
    )
    choices = {
        **plan.record(),
        **result["record"],
        "automl": options.automl,
        "training_images": len(train_records),
        "seed": settings.seed,
        "device": device.type,
    }
    return DetectorFit(model, plan, device, sample, choices, result["epochs"], result["seconds"])


def export_and_predict(
    fit: DetectorFit, request: TrainingRequest, progress: ProgressSink
) -> TrainedModel:
    """Export ONNX + card into workdir/model and predict the test set from that file."""
    progress(Progress(stage="exporting", message="exporting ONNX"))
    model_dir = request.workdir / MODEL_DIR
    card = detector_card(
        request.labels,
        fit.plan.canvas,
        NORMALIZATION_MEAN,
        NORMALIZATION_STD,
        fit.choices,
        backbone=request.settings.backbone,
    )
    onnx_path = export_detector(fit.model, model_dir / card.onnx_file, fit.sample)
    card.save(model_dir)  # the worker rewrites it with thresholds and metrics

    progress(Progress(stage="evaluating", message=f"predicting {len(request.test)} test images"))
    threads = request.settings.threads or torch.get_num_threads()
    predictor = DetectorPredictor(model_dir, card, threads=threads)
    predictions = predictor.predict_many(request.test)
    return TrainedModel(
        onnx_path=onnx_path,
        card=card.to_dict(),
        test_predictions=tuple(predictions),
        choices=fit.choices,
        epochs_run=fit.epochs_run,
        training_seconds=fit.training_seconds,
    )


def train_detector(
    request: TrainingRequest,
    progress: ProgressSink,
    options: DetectorOptions | None = None,
) -> TrainedModel:
    """Train, export and predict the test set. `options` is for tests and the baseline
    (`DetectorOptions(automl=False)`: fixed default hyper-parameters)."""
    return export_and_predict(fit_detector(request, progress, options), request, progress)


def validation_interval(n_train: int, n_val: int, plan: DetectorPlan) -> int:
    """Epochs between validations, so validation costs about VAL_OVERHEAD of training.

    Estimated from sizes, not measured, so that the checkpoints compared (and hence the
    model) do not depend on timing: a forward pass over a whole canvas costs about a third
    of a training step (forward + backward) over a crop of the same area.
    """
    if n_val == 0:
        return 1
    val_cost = n_val * plan.canvas[0] * plan.canvas[1]
    epoch_cost = 3.0 * max(n_train, 1) * plan.crop[0] * plan.crop[1]
    return max(1, math.ceil(val_cost / epoch_cost / VAL_OVERHEAD))


def _fit(
    model: DetectorNet,
    train: Sequence[ImageRecord],
    val: Sequence[ImageRecord],
    plan: DetectorPlan,
    device: torch.device,
    rng: np.random.Generator,
    progress: ProgressSink,
) -> dict[str, Any]:
    """The training loop; leaves the best checkpoint in `model`."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=plan.lr, momentum=plan.momentum, weight_decay=plan.weight_decay
    )
    per_epoch = max(1, math.ceil(len(train) / plan.batch_size))
    total_iters = plan.max_epochs * per_epoch
    budget = plan.time_budget_s
    start = time.monotonic()
    train_time = 0.0  # seconds spent in training steps (validation excluded)
    val_time = 0.0
    val_every = validation_interval(len(train), len(val), plan)
    best = _Best()
    history: list[dict[str, Any]] = []
    it = 0
    epoch = 0
    bad_steps = 0
    stopped_by = "epochs"
    rounds_since_best = 0

    def fraction() -> float:
        """Schedule progress: iterations, unless the clock is clearly ahead of them.

        Wall-clock progress takes over only past TIME_TAKEOVER of the budget: the first
        steps are slow (allocator and oneDNN warm-up), and a schedule that followed the
        clock there would make runs with an ample budget differ in the last bits.
        """
        by_iter = it / total_iters
        by_time = (time.monotonic() - start) / budget
        if by_time >= 1.0:
            return 1.0
        return by_time if by_time > max(by_iter, TIME_TAKEOVER) else by_iter

    last_val_iter = -1
    latest_map: float | None = None
    best_by_nms: dict[str, float] = {}

    def validate() -> None:
        nonlocal best, best_by_nms, last_val_iter, val_time, rounds_since_best, latest_map
        t0 = time.monotonic()
        scores, nms_iou, by_nms = _evaluate(model, val, plan, device)
        val_time += time.monotonic() - t0
        last_val_iter, latest_map = it, scores.map50
        if not history:
            history.append({"epoch": epoch, "loss": None})
        history[-1].update(val_map50=round(scores.map50, 4), val_f1=round(scores.f1, 4))
        # Only checkpoints from the second half of the schedule compete (the first always
        # counts, so there is one): earlier ones were taken at a high LR, and a small
        # validation split makes their occasional lucky score noise. Later checkpoints win
        # ties: they have seen more data at a lower LR.
        eligible = best.state is None or fraction() >= SELECT_FROM
        if eligible and scores.combined >= best.score:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = _Best(scores.combined, epoch, nms_iou, scores, state)
            best_by_nms = by_nms
            rounds_since_best = 0
        elif eligible:
            rounds_since_best += 1

    model.train()
    while True:
        if fraction() >= 1.0:
            stopped_by = "time_budget" if it < total_iters else "epochs"
            break
        epoch += 1
        epoch_losses: list[float] = []
        order = rng.permutation(len(train))
        last_report = time.monotonic()
        for b in range(per_epoch):
            p = fraction()
            if p >= 1.0:
                break  # the budget ran out mid-epoch
            for group in optimizer.param_groups:
                group["lr"] = plan.lr * warmup_cosine(p, plan.warmup_fraction, start=0.001)
            t0 = time.monotonic()
            chunk = [train[int(i)] for i in order[b * plan.batch_size : (b + 1) * plan.batch_size]]
            images, targets = _batch(chunk, plan, rng, device)
            losses = model.losses(images, targets)
            loss = sum(losses.values())
            optimizer.zero_grad(set_to_none=True)
            if not torch.isfinite(loss):
                bad_steps += 1
                if bad_steps > MAX_BAD_STEPS:
                    raise RuntimeError("detector training diverged (non-finite loss)")
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, plan.grad_clip)
                optimizer.step()
                epoch_losses.append(float(loss.detach()))
            it += 1
            train_time += time.monotonic() - t0
            if time.monotonic() - last_report >= PROGRESS_EVERY_S and b + 1 < per_epoch:
                last_report = time.monotonic()
                progress(
                    _progress(
                        epoch,
                        plan,
                        epoch_losses,
                        latest_map,
                        fraction(),
                        start,
                        f"iteration {b + 1}/{per_epoch}",
                    )
                )
        history.append({"epoch": epoch, "loss": _mean(epoch_losses)})
        last = fraction() >= 1.0
        # Validate every val_every epochs and always at the very end.
        if val and (last or epoch % val_every == 0):
            validate()
        progress(_progress(epoch, plan, epoch_losses, latest_map, fraction(), start, ""))
        if plan.patience is not None and rounds_since_best >= plan.patience and fraction() > 0.5:
            stopped_by = "early_stopping"
            break

    if val and last_val_iter != it:
        validate()
    if best.state is not None:
        model.load_state_dict(best.state)
    else:  # no validation split: the last weights, class-blind NMS as planned (off)
        best = _Best(epoch=epoch, nms_iou=plan.nms_candidates[0])
    seconds = time.monotonic() - start
    return {
        "nms_iou": best.nms_iou,
        "epochs": epoch,
        "seconds": seconds,
        "record": {
            "epochs_run": epoch,
            "iterations": it,
            "stopped_by": stopped_by,
            "best_epoch": best.epoch,
            "val_map50": round(best.val.map50, 4) if best.val else None,
            "val_f1": round(best.val.f1, 4) if best.val else None,
            "class_blind_nms_iou": best.nms_iou,
            "class_blind_nms_val": best_by_nms,
            "training_seconds": round(seconds, 1),
            "validation_seconds": round(val_time, 1),
            "step_seconds": round(train_time, 1),
            "validate_every_epochs": val_every,
            "history": history,
        },
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _progress(
    epoch: int,
    plan: DetectorPlan,
    losses: Sequence[float],
    val_map: float | None,
    fraction: float,
    start: float,
    message: str,
) -> Progress:
    elapsed = time.monotonic() - start
    eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else None
    return Progress(
        stage="training",
        epoch=epoch,
        total_epochs=plan.max_epochs,
        loss=_mean(losses),
        metric_name="mAP@0.5" if val_map is not None else None,
        metric_value=round(val_map, 4) if val_map is not None else None,
        eta_seconds=round(max(0.0, eta), 1) if eta is not None else None,
        message=message,
    )


__all__ = [
    "DetectorFit",
    "DetectorOptions",
    "class_blind_nms",
    "export_and_predict",
    "fit_detector",
    "predict_records",
    "train_detector",
]
