"""Image classifiers: softmax (one label per image) and sigmoid (several labels per image).

`train_classifier(request, progress)` runs the whole learner:

1. prepare: stratified validation split carved from the training examples (automl.py),
   the plan, the pretrained backbone, images decoded once into memory (data.py);
2. linear probe: a logistic regression on frozen pooled features (L2 chosen on
   validation). It is a candidate model on its own (it wins when the budget is tiny) and
   it initializes the fine-tune's head ("LP-FT": the backbone is not disturbed by the
   gradients of a random head);
3. fine-tune: AdamW with a lower backbone LR, warmup + cosine schedule that ends on the
   epoch plan or the wall-clock budget, whichever comes first; label smoothing and
   class-weighted loss (softmax) or pos_weight (sigmoid); EMA weights; early stopping and
   best-on-validation checkpoint;
4. choose: probe or fine-tune, then the evaluation resolution, resize policy and flip
   averaging, each by the validation metric;
5. export ONNX + card, then predict the test set through that ONNX file with the serving
   code (inference/), so the evaluation scores exactly what serving returns.

`search=False` trains with fixed defaults instead (no validation split, no probe, no
choices): the benchmarks' "no AutoML" baseline.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelgate.backends.local.inference.card import ModelCard, Normalization
from labelgate.backends.local.inference.predictor import load_predictor
from labelgate.backends.local.inference.records import MULTILABEL
from labelgate.backends.local.training.contract import (
    Progress,
    ProgressSink,
    TrainedModel,
    TrainingRequest,
)
from labelgate.backends.local.training.learners import automl
from labelgate.backends.local.training.learners.automl import ClassifierPlan
from labelgate.backends.local.training.learners.backbones import Backbone, create_backbone
from labelgate.backends.local.training.learners.classifier_data import (
    ImageStore,
    TrainBatches,
    batch_tensor,
    eval_pixels,
    example_store,
)
from labelgate.backends.local.training.learners.classifier_export import (
    ProbabilityNet,
    classifier_card,
    export_classifier,
)
from labelgate.backends.local.training.learners.schedules import resolve_device, warmup_cosine
from labelgate.backends.local.training.learners.selection import (
    EVAL_BATCH,
    CompiledNet,
    EvalSetting,
    Forwardable,
    Member,
    ValidationScorer,
    compiled,
    forward_batches,
    search_setting,
)

MODEL_DIR = "model"  # under request.workdir: model.onnx + model.json
# L2 strengths tried for the probe (features centred and scaled to unit RMS), strongest
# first: ties keep the stronger one (smaller weights make a calmer start for fine-tuning).
PROBE_L2 = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3)
PROBE, FINETUNE = "linear_probe", "finetune"  # the candidates' names in the record
TRAIN_CAP_FACTOR = 1.5  # training images are kept with shorter side ≤ 1.5 x train res


class ClassifierNet(nn.Module):
    """Backbone → dropout → linear head (logits)."""

    def __init__(self, backbone: Backbone, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.info.num_features, num_labels)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.backbone(x)))

    def forward_after_prefix(self, x: Tensor) -> Tensor:
        """`forward` from the output of `backbone.frozen_prefix()`."""
        return self.head(self.dropout(self.backbone.forward_after_prefix(x)))


@dataclass
class _Run:
    """The mutable state of one training run, and its record."""

    request: TrainingRequest
    progress: ProgressSink
    plan: ClassifierPlan
    device: torch.device
    net: ClassifierNet
    normalization: Normalization
    train_store: ImageStore
    val_store: ImageStore | None
    train_targets: Tensor
    val_truth: np.ndarray | None
    started: float
    deadline: float
    record: dict[str, Any] = field(default_factory=dict)
    class_weight: np.ndarray | None = None  # softmax loss weights (None: balanced)
    pos_weight: np.ndarray | None = None  # multilabel BCE pos_weight
    scorer: ValidationScorer | None = None  # set when there is a validation split


# ---- entry point ------------------------------------------------------------------------


def train_classifier(
    request: TrainingRequest,
    progress: ProgressSink,
    *,
    search: bool | None = None,
    max_epochs: int | None = None,
) -> TrainedModel:
    """Train, export and test-predict a classification or multilabel model.

    `search` defaults to `request.settings.automl`; `max_epochs` caps the epoch plan.
    """
    if search is None:
        search = request.settings.automl
    started = time.monotonic()
    settings = request.settings
    previous_threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(int(settings.threads))
    try:
        return _train(request, progress, search=search, max_epochs=max_epochs, started=started)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    request: TrainingRequest,
    progress: ProgressSink,
    *,
    search: bool,
    max_epochs: int | None,
    started: float,
) -> TrainedModel:
    settings = request.settings
    _seed_everything(settings.seed)
    device = resolve_device(settings.device)
    multilabel = request.task == MULTILABEL
    labels = request.labels
    label_sets = _label_indices(request, multilabel)
    progress(Progress(stage="preparing", message=f"{len(request.train)} training images"))

    if search:
        train_idx, val_idx = automl.split_validation(label_sets, len(labels), seed=settings.seed)
    else:
        train_idx, val_idx = np.arange(len(label_sets)), np.array([], np.int64)
    train_examples = [request.train[i] for i in train_idx]
    val_examples = [request.train[i] for i in val_idx]
    short_sides = [min(e.width, e.height) for e in request.train] or [224]
    plan = automl.plan_classifier(
        multilabel=multilabel,
        n_train=len(train_examples),
        n_images=len(request.train),
        median_short_side=float(np.median(short_sides)),
        device_type=device.type,
        time_budget_s=settings.time_budget_s,
        search=search,
        max_epochs=max_epochs,
    )
    threads = settings.threads or torch.get_num_threads()

    backbone = create_backbone(settings.backbone, pretrained=True)
    frozen = backbone.freeze_early(plan.freeze_through) if plan.freeze_early else None
    torch.manual_seed(settings.seed)  # the head's initialization
    net = ClassifierNet(backbone, len(labels), plan.dropout)
    net = net.to(device, memory_format=torch.channels_last)
    normalization = Normalization(mean=backbone.info.mean, std=backbone.info.std)

    cap = round(TRAIN_CAP_FACTOR * plan.train_resolution)
    train_store = example_store(train_examples, short_side_cap=cap, threads=threads)
    val_store = example_store(val_examples, short_side_cap=None, threads=threads)
    train_sets = [label_sets[i] for i in train_idx]
    val_sets = [label_sets[i] for i in val_idx]
    run = _Run(
        request=request,
        progress=progress,
        plan=plan,
        device=device,
        net=net,
        normalization=normalization,
        train_store=train_store,
        val_store=val_store if len(val_store) else None,
        train_targets=torch.from_numpy(_targets(train_sets, len(labels), multilabel)),
        val_truth=_targets(val_sets, len(labels), multilabel) if len(val_sets) else None,
        started=started,
        deadline=started + plan.time_budget_s,
    )
    if run.val_store is not None and run.val_truth is not None:
        run.scorer = ValidationScorer(
            run.val_store,
            run.val_truth,
            multilabel=multilabel,
            normalization=normalization,
            device=device,
        )
    run.record.update(
        {
            "task": request.task,
            "seed": settings.seed,
            "device": device.type,
            "threads": threads,
            "backbone": settings.backbone,
            "backbone_source": backbone.info.source,
            "pretrained": backbone.info.pretrained,
            "frozen": frozen or "none",
            "batchnorm": "frozen statistics" if plan.freeze_bn_stats else "batch statistics",
            "automl": search,
            "plan": plan.record(),
            "validation_split": {
                "method": "iterative stratification" if search else "none",
                "train_images": len(train_examples),
                "validation_images": len(val_examples),
            },
            "train_images_in_memory": train_store.in_memory,
            "metric": automl.metric_name(multilabel),
            "imbalance": _imbalance(run),
        }
    )

    probe = _linear_probe(run) if plan.linear_probe and run.val_store is not None else None
    finetuned = _finetune(run, may_skip=probe is not None)
    model, setting = _select(run, probe, finetuned)
    height, policy, flip = setting.resolution, setting.resize, setting.flip

    progress(Progress(stage="exporting", message="ONNX export"))
    card = classifier_card(
        task=request.task,
        labels=tuple(labels),
        backbone=settings.backbone,
        height=height,
        width=height,
        resize=policy,
        crop_fraction=1.0,
        normalization=normalization,
        flip_tta=flip,
        training=dict(run.record),
    )
    module = ProbabilityNet(model, multilabel=multilabel, flip_tta=flip)
    onnx_path, card = export_classifier(module, Path(request.workdir) / MODEL_DIR, card)

    progress(Progress(stage="evaluating", message=f"predicting {len(request.test)} test images"))
    predictor = load_predictor(onnx_path.parent, threads=threads)
    test_predictions = tuple(predictor.predict_many(request.test, batch_size=EVAL_BATCH))
    seconds = time.monotonic() - started
    run.record["training_seconds"] = round(seconds, 1)
    card = _with_training(card, run.record, onnx_path.parent)
    return TrainedModel(
        onnx_path=onnx_path,
        card=card.to_dict(),
        test_predictions=test_predictions,
        choices=run.record,
        epochs_run=int(run.record.get("epochs_run", 0)),
        training_seconds=seconds,
    )


# ---- preparation --------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _label_indices(request: TrainingRequest, multilabel: bool) -> list[tuple[int, ...]]:
    index = {label: i for i, label in enumerate(request.labels)}
    out = []
    for example in request.train:
        found = tuple(sorted({index[x] for x in example.labels if x in index}))
        if not multilabel and len(found) != 1:
            raise ValueError(
                f"{example.source_ref}: a classification image needs exactly one of the "
                f"model's labels, found {list(example.labels)}"
            )
        out.append(found)
    return out


def _targets(sets: list[tuple[int, ...]], num_labels: int, multilabel: bool) -> np.ndarray:
    if not multilabel:
        return np.array([s[0] for s in sets], np.int64)
    hot = np.zeros((len(sets), num_labels), np.float32)
    for row, labels in enumerate(sets):
        hot[row, list(labels)] = 1.0
    return hot


def _imbalance(run: _Run) -> dict[str, Any]:
    k = len(run.request.labels)
    targets = run.train_targets.numpy()
    if run.plan.multilabel:
        positives = targets.sum(0)
        weights = automl.positive_weights(positives, len(targets))
        run.pos_weight = weights
        return {"method": "bce_pos_weight", "pos_weight": [round(float(w), 3) for w in weights]}
    counts = np.bincount(targets, minlength=k).astype(np.float64)
    weights = automl.class_weights(counts)
    run.class_weight = weights
    if weights is None:
        return {"method": "none", "reason": "balanced (max/min count ≤ 1.5)"}
    return {"method": "class_weighted_loss", "weights": [round(float(w), 3) for w in weights]}


# ---- evaluation on validation -------------------------------------------------------------


def _monitor_config(run: _Run) -> tuple[int, str]:
    return run.plan.eval_resolutions[0], run.plan.resize_policies[0]


# ---- linear probe -------------------------------------------------------------------------


@dataclass
class _Candidate:
    state: dict[str, Tensor]
    metric: float  # on validation at `setting`; NaN without a validation split
    name: str
    setting: EvalSetting  # the evaluation setting it was judged at


def _probe_setting(run: _Run) -> EvalSetting:
    plan = run.plan
    flip = plan.try_flip_tta and plan.aug.hflip
    return EvalSetting(plan.probe_resolution, plan.resize_policies[0], flip)


def _probe_features(
    run: _Run, backbone: Forwardable, pixels: np.ndarray, mirrored: bool
) -> np.ndarray:
    return forward_batches(backbone, pixels, run.normalization, run.device,
                           mirrored=mirrored).numpy()  # fmt: skip


def _linear_probe(run: _Run) -> _Candidate:
    """Logistic regression on frozen features; its head also starts the fine-tune.

    Features are read at the backbone's pretraining resolution. With flip averaging, the
    mirror images' features are extra training samples and the model it is judged as
    averages the two orientations' probabilities (the exported graph's flip TTA).
    """
    assert run.scorer is not None
    run.progress(Progress(stage="training", message="linear probe on frozen features"))
    t = time.monotonic()
    setting = _probe_setting(run)
    orientations = (False, True) if setting.flip else (False,)
    # Training images: the cached (capped) copies are enough to fit a head on.
    train_pixels = eval_pixels(run.train_store, setting.resolution, setting.resolution,
                               setting.resize)  # fmt: skip
    val_pixels = run.scorer.pixels(setting.resolution, setting.resize)
    backbone = compiled(run.net.backbone, run.device, side=setting.resolution,
                        images=len(orientations) * (len(train_pixels) + len(val_pixels)))
    train_x = [_probe_features(run, backbone, train_pixels, o) for o in orientations]
    del train_pixels
    val_x = [_probe_features(run, backbone, val_pixels, o) for o in orientations]
    del backbone

    mean = train_x[0].mean(0)
    # One scale for all features (their RMS spread), not one per feature: many ReLU6
    # features are constant on a small training set and would explode on validation
    # images where they are not.
    std = np.full_like(mean, float(np.sqrt(train_x[0].var(0).mean())) + 1e-6)
    xs = torch.from_numpy((np.concatenate(train_x) - mean) / std)
    y = torch.cat([run.train_targets] * len(orientations))
    vs = [torch.from_numpy((v - mean) / std) for v in val_x]
    best: tuple[float, float, Tensor, Tensor] | None = None
    for l2 in PROBE_L2:
        weight, bias = _fit_logistic(run, xs, y, l2)
        for o, v in enumerate(vs):
            run.scorer.put_logits("probe_trial", setting.resolution, setting.resize,
                                  bool(o), v @ weight.T + bias)  # fmt: skip
        metric = run.scorer.metric([Member("probe_trial", run.net)], setting)
        if best is None or metric > best[0] + 1e-9:
            best = (metric, l2, weight, bias)
    run.scorer.drop("probe_trial")
    assert best is not None
    metric, l2, weight, bias = best
    n = len(run.train_targets)
    scale = 1.0 if run.plan.multilabel else _smoothing_scale(run, xs[:n] @ weight.T + bias,
                                                              run.train_targets)  # fmt: skip
    # Fold the standardization into the head: w' = w / std, b' = b - w' . mean.
    w = scale * weight / torch.from_numpy(std)
    b = scale * bias - w @ torch.from_numpy(mean)
    with torch.no_grad():
        run.net.head.weight.copy_(w.to(run.device))
        run.net.head.bias.copy_(b.to(run.device))
    # The probe as a net computes exactly these validation logits: no pass needed later.
    for o, v in enumerate(vs):
        run.scorer.put_logits(PROBE, setting.resolution, setting.resize, bool(o),
                              scale * (v @ weight.T + bias))  # fmt: skip
    metric = run.scorer.metric([Member(PROBE, run.net)], setting)  # with the scale
    state = {k: v.detach().clone() for k, v in run.net.state_dict().items()}
    run.record["linear_probe"] = {
        "l2": l2,
        "l2_tried": list(PROBE_L2),
        "logit_scale_for_finetune": round(scale, 4),
        "resolution": setting.resolution,
        "mirror_images": setting.flip,
        "val_metric": round(metric, 4),
        "seconds": round(time.monotonic() - t, 1),
    }
    return _Candidate(state=state, metric=metric, name=PROBE, setting=setting)


def _fit_logistic(run: _Run, x: Tensor, y: Tensor, l2: float) -> tuple[Tensor, Tensor]:
    k = len(run.request.labels)
    weight = torch.zeros(k, x.shape[1], requires_grad=True)
    bias = torch.zeros(k, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=100, history_size=20, line_search_fn="strong_wolfe"
    )
    loss_fn = _loss_function(run, on_cpu=True, smoothing=0.0)

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(x @ weight.T + bias, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def _smoothing_scale(run: _Run, logits: Tensor, y: Tensor) -> float:
    """The factor on the probe's logits that the fine-tune's label-smoothed loss prefers.

    A probe fit without smoothing can be arbitrarily confident on separable features; the
    fine-tune would then start with a large loss and large backbone gradients. Rescaling
    the head to the smoothed loss's optimum (one parameter) avoids that.
    """
    loss_fn = _loss_function(run, on_cpu=True)
    log_scale = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_scale], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(logits * log_scale.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_scale.detach().clamp(-3.0, 3.0).exp())


def _loss_function(
    run: _Run, *, on_cpu: bool = False, smoothing: float | None = None
) -> Callable[[Tensor, Tensor], Tensor]:
    device = torch.device("cpu") if on_cpu else run.device
    dtype = torch.float32
    if run.plan.multilabel:
        pos_weight = torch.as_tensor(run.pos_weight, dtype=dtype, device=device)

        def bce(logits: Tensor, target: Tensor) -> Tensor:
            return F.binary_cross_entropy_with_logits(
                logits, target.to(logits.dtype), pos_weight=pos_weight
            )

        return bce
    raw = run.class_weight
    weight = None if raw is None else torch.as_tensor(raw, dtype=dtype, device=device)
    eps = run.plan.label_smoothing if smoothing is None else smoothing

    def ce(logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, weight=weight, label_smoothing=eps)

    return ce


# ---- fine-tuning --------------------------------------------------------------------------


class _Ema:
    """Exponential moving average of the weights (BN statistics are copied)."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(net).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        # Warm-up of the decay: early averages would otherwise remember the start.
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for ema_p, p in zip(self.model.parameters(), net.parameters(), strict=True):
            if p.requires_grad:
                ema_p.lerp_(p.detach(), 1.0 - d)
        for ema_b, b in zip(self.model.buffers(), net.buffers(), strict=True):
            ema_b.copy_(b)


def _param_groups(run: _Run) -> list[dict[str, Any]]:
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, p in run.net.named_parameters():
        if not p.requires_grad:
            continue
        part = "head" if name.startswith("head.") else "backbone"
        decay = p.ndim >= 2  # no weight decay on BN and biases
        groups.setdefault((part, decay), []).append(p)
    lrs = {"backbone": run.plan.lr_backbone, "head": run.plan.lr_head}
    return [
        {
            "params": params,
            "lr": lrs[part],
            "base_lr": lrs[part],
            "weight_decay": run.plan.weight_decay if decay else 0.0,
        }
        for (part, decay), params in sorted(groups.items())
    ]


def _finetune(run: _Run, *, may_skip: bool) -> _Candidate | None:
    plan = run.plan
    batches = TrainBatches(
        run.train_store, batch_size=plan.batch_size, aug=plan.aug, seed=run.request.settings.seed
    )
    steps_per_epoch = batches.steps_per_epoch()
    total_steps = plan.max_epochs * steps_per_epoch
    # Adam's first steps move every weight by ~lr whatever its gradient: warm up over at
    # least 20 steps (or a quarter of a short run), not just a fraction of a long one.
    warmup = max(plan.warmup_fraction, min(20.0, 0.25 * total_steps) / total_steps)
    optimizer = torch.optim.AdamW(_param_groups(run))
    loss_fn = _loss_function(run)
    forward, frozen_in = _training_forward(run)
    ema = _Ema(run.net, 1.0 - 1.0 / max(10.0, 0.1 * total_steps)) if plan.ema else None
    has_val = run.val_store is not None
    if has_val:
        monitor = EvalSetting(*_monitor_config(run), False)
    # What the choices after training will cost: ~6 validation passes, at most 1.5x the
    # pixels of the monitored one each. Keep that much of the budget for them.
    reserve = 0.0
    ft_start = time.monotonic()
    deadline = run.deadline
    history: list[dict[str, Any]] = []
    best: _Candidate | None = None
    best_epoch = 0
    stale = 0
    step = 0
    epoch_seconds: list[float] = []
    stop_reason = "epochs"
    epoch = 0
    if may_skip and time.monotonic() >= deadline:
        run.record["epochs_run"] = 0
        run.record["finetune"] = {"skipped": "no time left in the budget"}
        return None
    for epoch in range(1, plan.max_epochs + 1):
        _train_mode(run)
        t_epoch = time.monotonic()
        losses = []
        out_of_time = False
        resolution = plan.train_resolution
        for batch in batches.epoch(epoch, resolution):
            at = _schedule_progress(step, total_steps, ft_start, deadline - reserve)
            factor = warmup_cosine(at, warmup, floor=0.01)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            x = batch_tensor(batch, run.normalization, run.device)
            target = run.train_targets[torch.from_numpy(batch.indices)].to(run.device)
            loss = loss_fn(forward(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(run.net)
            losses.append(float(loss.detach()))
            step += 1
            if time.monotonic() >= deadline - reserve:
                out_of_time = True  # (at least one step always runs)
                break
        mean_loss = float(np.mean(losses)) if losses else float("nan")
        evaluated = ema.model if ema is not None else run.net
        metric = None
        at = _schedule_progress(step, total_steps, ft_start, deadline - reserve)
        last = epoch == plan.max_epochs or out_of_time
        if has_val and (at >= plan.eval_from_fraction or last):
            t_val = time.monotonic()
            # The EMA weights change every epoch: scored afresh, not from the logits cache.
            metric = run.scorer.uncached_metric(evaluated, monitor)  # type: ignore[union-attr]
            reserve = 6 * 1.5 * (time.monotonic() - t_val)
            if best is None or metric > best.metric + 1e-6:
                state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
                best = _Candidate(state=state, metric=metric, name=FINETUNE, setting=monitor)
                best_epoch = epoch
                stale = 0
            else:
                stale += 1
        epoch_seconds.append(time.monotonic() - t_epoch)
        planned = _planned_epochs(run, epoch, epoch_seconds, ft_start, reserve)
        history.append(
            {
                "epoch": epoch,
                "resolution": resolution,
                "loss": round(mean_loss, 4),
                "val_metric": None if metric is None else round(metric, 4),
                "seconds": round(epoch_seconds[-1], 1),
            }
        )
        eta = max(0.0, min((planned - epoch) * float(np.mean(epoch_seconds)),
                           deadline - time.monotonic()))  # fmt: skip
        run.progress(
            Progress(
                stage="training",
                epoch=epoch,
                total_epochs=planned,
                loss=mean_loss,
                metric_name=automl.metric_name(plan.multilabel) if has_val else None,
                metric_value=metric,
                eta_seconds=round(eta, 1),
            )
        )
        if out_of_time:
            stop_reason = "budget"
            break
        if has_val and stale >= plan.patience:
            stop_reason = "early_stopping"
            break
    run.record["epochs_run"] = epoch
    finetune_record: dict[str, Any] = {
        "epochs_run": epoch,
        "steps": step,
        "steps_per_epoch": steps_per_epoch,
        "warmup_fraction": round(warmup, 4),
        "stopped_by": stop_reason,
        "frozen_layers_run_in": frozen_in,
        "seconds": round(time.monotonic() - ft_start, 1),
        "history": history,
    }
    if ema is not None:
        finetune_record["ema_decay"] = round(ema.decay, 5)
    if best is not None:
        finetune_record["best_epoch"] = best_epoch
        finetune_record["best_val_metric"] = round(best.metric, 4)
    run.record["finetune"] = finetune_record
    if best is None:  # no validation: the final (averaged) weights
        state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
        setting = EvalSetting(*_monitor_config(run), False)
        return _Candidate(state=state, metric=float("nan"), name=FINETUNE, setting=setting)
    return best


def _training_forward(run: _Run) -> tuple[Callable[[Tensor], Tensor], str]:
    """How the fine-tune computes a batch's logits, and where its frozen layers run.

    On a CPU the backbone's frozen early layers need no autograd: they run in ONNX Runtime
    and PyTorch continues from their output. Measured for Lite0 (stem and blocks 0-4,
    160 px, batch 32, 2 threads): those layers ran at 688 img/s against 172 in PyTorch, where
    they took 37 % of a training step. Their BatchNorm is in eval mode, so both compute the
    same function.
    """
    prefix = run.net.backbone.frozen_prefix()
    plan = run.plan
    images = plan.max_epochs * len(run.train_store)
    engine = None if prefix is None else compiled(prefix, run.device, images=images,
                                                  side=plan.train_resolution)  # fmt: skip
    if not isinstance(engine, CompiledNet):
        return run.net, "pytorch"

    def forward(x: Tensor) -> Tensor:
        early = engine(x).contiguous(memory_format=torch.channels_last)
        return run.net.forward_after_prefix(early)

    return forward, "onnxruntime"


def _schedule_progress(step: int, total_steps: int, start: float, end: float) -> float:
    """Where the schedule stands, 0..1: by steps, or by the clock when the budget is nearer.

    With a budget that is not reached, the clock never leads and the run is reproducible.
    """
    by_clock = (time.monotonic() - start) / max(1e-9, end - start)
    return min(1.0, max(step / total_steps, by_clock))


def _train_mode(run: _Run) -> None:
    """Train mode, except BatchNorm keeps its ImageNet statistics when the plan says so.

    Frozen statistics make the training forward pass the one evaluation and serving run
    (no train/eval gap on small sets, where running averages never settle), and the
    probe-initialized head starts the fine-tune from the probe's own loss.
    """
    run.net.train()
    if run.plan.freeze_bn_stats:
        for module in run.net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def _planned_epochs(
    run: _Run, done: int, epoch_seconds: list[float], ft_start: float, reserve: float
) -> int:
    """Epochs the plan will likely run: the max, or fewer when the budget ends first."""
    left = run.deadline - reserve - time.monotonic()
    fit = done + int(max(0.0, left) // max(1e-9, float(np.mean(epoch_seconds))))
    return max(done, min(run.plan.max_epochs, fit))


# ---- choices after training ---------------------------------------------------------------


class LogitEnsemble(nn.Module):
    """Several classifiers as one: the mean of their log-probabilities (softmax of it is the
    normalized geometric mean of their probabilities), or of their logits for sigmoid
    (multi-label) heads. ProbabilityNet applies the activation on top, as for one net."""

    def __init__(self, members: list[nn.Module], *, multilabel: bool) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.multilabel = multilabel

    def forward(self, x: Tensor) -> Tensor:
        outs = [m(x) for m in self.members]
        if not self.multilabel:
            outs = [F.log_softmax(o, dim=1) for o in outs]
        return torch.stack(outs).mean(0)


#: How much worse than its best member the ensemble of probe and fine-tune may validate and
#: still be shipped. Negative: the ensemble is the default, not the exception. The fine-tune's
#: validation metric is the best of several epochs' (biased upward by being the maximum),
#: the ensemble's is measured once; on clothing10 the ensemble validated 0.1-0.3 points
#: above the fine-tune yet scored 1.5-4 points higher on the test set, in both runs where
#: that was measured (2026-11-27, bench/README.md). Twice the inference cost buys that.
ENSEMBLE_MARGIN = -0.01


def _select(
    run: _Run, probe: _Candidate | None, finetuned: _Candidate | None
) -> tuple[nn.Module, EvalSetting]:
    """The model to ship and how to feed it: probe, fine-tune or both as an ensemble, then
    the evaluation setting, each by the validation metric."""
    candidates = [c for c in (finetuned, probe) if c is not None]
    if not candidates:
        raise RuntimeError("the time budget ended before any model was trained")
    # Fine-tune first: it wins ties. NaN (no validation) never beats a number.
    chosen = max(candidates, key=lambda c: -1.0 if math.isnan(c.metric) else c.metric)
    run.record["chosen_weights"] = chosen.name
    if run.scorer is None or not run.plan.search or math.isnan(chosen.metric):
        run.net.load_state_dict(chosen.state)
        run.net.eval()
        setting = chosen.setting
        run.record["evaluation"] = {
            "resolution": setting.resolution,
            "resize": setting.resize,
            "flip_tta": setting.flip,
        }
        return run.net, setting

    members = {c.name: Member(c.name, _net_with(run, c.state)) for c in candidates}
    picked = [members[chosen.name]]
    start, start_metric = chosen.setting, chosen.metric
    if probe is not None and finetuned is not None and not math.isnan(finetuned.metric):
        both = [members[finetuned.name], members[probe.name]]
        scores = {}
        for setting in dict.fromkeys((finetuned.setting, probe.setting)):
            if not scores or not _out_of_time(run) or run.scorer.is_cached(both, setting):
                scores[setting] = run.scorer.metric(both, setting)
        best_setting = max(scores, key=lambda k: scores[k])
        taken = scores[best_setting] > chosen.metric + ENSEMBLE_MARGIN
        run.record["ensemble"] = {
            "members": [finetuned.name, probe.name],
            "combine": "mean logits" if run.plan.multilabel else "mean log-probabilities",
            "val_metric": round(scores[best_setting], 4),
            "setting": best_setting.key(),
            "tried": {k.key(): round(v, 4) for k, v in scores.items()},
            "best_member_val_metric": round(chosen.metric, 4),
            "chosen": taken,
        }
        if taken:
            picked, start, start_metric = both, best_setting, scores[best_setting]
            run.record["chosen_weights"] = f"ensemble({finetuned.name}+{probe.name})"

    plan = run.plan
    setting, metric, tried = search_setting(
        lambda s: run.scorer.metric(picked, s),  # type: ignore[union-attr]
        start,
        resolutions=plan.eval_resolutions,
        policies=plan.resize_policies,
        try_flip=plan.try_flip_tta and plan.aug.hflip,
        out_of_time=lambda: _out_of_time(run),
        is_free=lambda s: run.scorer.is_cached(picked, s),  # type: ignore[union-attr]
    )
    run.record["evaluation"] = {
        "resolution": setting.resolution,
        "resize": setting.resize,
        "flip_tta": setting.flip,
        "val_metric": round(metric, 4),
        "started_from": {"setting": start.key(), "val_metric": round(start_metric, 4)},
        "tried": {k: round(v, 4) for k, v in tried.items()},
    }
    nets = [m.net for m in picked]
    model = nets[0] if len(nets) == 1 else LogitEnsemble(nets, multilabel=plan.multilabel)
    return model.eval(), setting


def _net_with(run: _Run, state: dict[str, Tensor]) -> ClassifierNet:
    net = copy.deepcopy(run.net)
    net.load_state_dict(state)
    return net.eval()


def _out_of_time(run: _Run) -> bool:
    return time.monotonic() > run.deadline


def _with_training(card: ModelCard, record: dict[str, Any], model_dir: Path) -> ModelCard:
    """The card with the final record (training time included), rewritten to disk."""
    card = dataclasses.replace(card, training=dict(record))
    card.save(model_dir)
    return card


__all__ = [
    "MODEL_DIR",
    "ClassifierNet",
    "train_classifier",
]
