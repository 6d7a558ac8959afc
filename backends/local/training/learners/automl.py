"""AutoML for the classifiers: the validation split, the plan, and how choices are judged.

Every choice is made from the training examples only: a stratified validation split is
carved from them (the test set is never looked at), the plan is sized from the data and
the device, and the evaluation-time settings (resolution, resize policy, flip averaging)
are picked by the validation metric. `ClassifierPlan.record()` is what the version stores.

The numbers come from measurements: the 2-core CPU reference machine
(docs/training-notes.md: 160 px training ~54 img/s with blocks 0-2 frozen,
evaluating a 160 px-trained net larger gains a point) and clothing10 runs of this very
learner with CPU plans on a GPU (epochs fixed): 6 epochs gave test macro-F1 0.876-0.902
depending on the seed, 10 epochs 0.899; the probe-initialized head beat a random one
(0.876 vs 0.860); BatchNorm batch statistics, a lower backbone LR, a 0.4 minimum crop
scale and 192 px training were all within the seed noise; 128 px training was worse (0.841).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from labelgate.backends.local.inference.card import SHORTER_SIDE_CENTER_CROP, STRETCH
from labelgate.backends.local.training.learners.classifier_data import AugmentConfig

VAL_FRACTION = 0.15
MIN_VAL_IMAGES = 4  # below this a validation split judges nothing: train on everything
# Optimizer steps a fine-tune should get, whatever the set size: on clothing10 (82 steps
# an epoch) 10 epochs beat 6 by ~2 points of macro-F1 (GPU runs, same plan).
TARGET_STEPS = 800
MIN_EPOCHS, MAX_EPOCHS = 8, 40
CPU_SECONDS_PER_IMAGE = 0.17  # default budget per training image on a 2-core CPU
MIN_DEFAULT_BUDGET_S, MAX_DEFAULT_BUDGET_S = 120.0, 1800.0
GPU_DEFAULT_BUDGET_S = 3600.0  # on a GPU the epoch plan ends training long before this
# Lite0 on a CPU: freeze the stem and blocks 0-4 (everything at stride ≤ 8). Measured with
# 2 threads of the GPU machine's CPU, 160 px, batch 32: 64 img/s with blocks 0-2 frozen,
# 91 img/s with 0-4 frozen; clothing10 accuracy per epoch was the same within seed noise,
# so ~40% more epochs fit a CPU budget.
CPU_FROZEN_THROUGH = 4
# The linear probe reads features at the resolution the backbone was pretrained at, with
# each image's mirror image averaged in. Measured on clothing10 (3,409 training images,
# frozen Lite0, logistic regression): test macro-F1 0.894 at 224 px against 0.820 at 160;
# averaging the mirror image's features raised it to 0.914; Lite1 at 240 px (0.895) and
# Lite2 at 260 px (0.892) did no better than Lite0 at 224.
PROBE_RESOLUTION = 224
IMBALANCE_RATIO = 1.5  # max/min label count above which the loss is re-weighted


@dataclass(frozen=True)
class ClassifierPlan:
    """Everything the classifier trainer does, decided before it starts."""

    multilabel: bool
    search: bool  # False: fixed defaults, no validation split, no choices on validation
    train_resolution: int
    eval_resolutions: tuple[int, ...]  # candidates; the first is the default
    resize_policies: tuple[str, ...]  # candidates; the first is the default
    try_flip_tta: bool
    batch_size: int
    max_epochs: int
    patience: int  # epochs without a better validation metric before stopping
    time_budget_s: float
    probe_resolution: int = 224
    lr_backbone: float = 1e-3
    lr_head: float = 3e-3
    weight_decay: float = 0.02
    label_smoothing: float = 0.1
    dropout: float = 0.2
    warmup_fraction: float = 0.05
    # Validation during the first part of the schedule only costs time: the best
    # checkpoint of a cosine schedule lies in its second half.
    eval_from_fraction: float = 0.3
    schedule: str = "cosine"
    freeze_early: bool = True
    freeze_through: int | None = None  # the backbone's default depth when None
    freeze_bn_stats: bool = True  # BatchNorm keeps the pretrained statistics
    ema: bool = True
    linear_probe: bool = True
    aug: AugmentConfig = field(default_factory=AugmentConfig)

    def record(self) -> dict[str, object]:
        out = asdict(self)
        out["aug"] = self.aug.record()
        out["eval_resolutions"] = list(self.eval_resolutions)
        out["resize_policies"] = list(self.resize_policies)
        return out


def plan_classifier(
    *,
    multilabel: bool,
    n_train: int,
    n_images: int | None = None,
    median_short_side: float,
    device_type: str,
    time_budget_s: float | None,
    search: bool = True,
    max_epochs: int | None = None,
) -> ClassifierPlan:
    """Size the run from the data and the device.

    `n_train` counts the images trained on (after the validation split), `n_images` all
    training examples (the default wall-clock budget grows with them).
    """
    gpu = device_type == "cuda"
    # A GPU affords the resolution the backbone was trained at; a CPU trains at 160 and
    # evaluates larger. Small images are not upsampled much beyond their own size.
    base = 224 if gpu else 160
    cap = max(64, _round32(0.85 * median_short_side))
    train_res = max(64, min(base, cap))
    # The probe's features need no augmentation to generalize, only the backbone's own
    # scale: its resolution is capped by the images' native size, not the 0.85 margin that
    # leaves random crops room (clothing10's 224 px images: 224, not 192).
    probe_res = max(64, min(PROBE_RESOLUTION, _round32(median_short_side)))
    # Evaluation candidates; the default (first) is the FixRes-style 1.2x, because a net
    # trained on random crops sees objects larger than a full-image resize shows them.
    evals = _unique([train_res, _round32(1.2 * train_res), _round32(1.4 * train_res), probe_res])
    batch = 64 if gpu else 32
    steps_per_epoch = max(1, n_train // min(batch, max(1, n_train)))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))
    if max_epochs is not None:
        epochs = max(1, int(max_epochs))
    if time_budget_s is None:
        time_budget_s = (
            GPU_DEFAULT_BUDGET_S
            if gpu
            else min(
                MAX_DEFAULT_BUDGET_S,
                max(MIN_DEFAULT_BUDGET_S, CPU_SECONDS_PER_IMAGE * (n_images or n_train)),
            )
        )
    if not search:
        return ClassifierPlan(
            multilabel=multilabel,
            search=False,
            train_resolution=train_res,
            eval_resolutions=(train_res,),
            resize_policies=(SHORTER_SIDE_CENTER_CROP,),
            try_flip_tta=False,
            batch_size=batch,
            max_epochs=epochs,
            patience=epochs,  # no validation, no early stopping
            time_budget_s=float(time_budget_s),
            probe_resolution=probe_res,
            freeze_early=not gpu,
            freeze_through=CPU_FROZEN_THROUGH,
            ema=False,
            linear_probe=False,
        )
    return ClassifierPlan(
        multilabel=multilabel,
        search=True,
        train_resolution=train_res,
        eval_resolutions=tuple(evals[1:2] + evals[:1] + evals[2:]),
        resize_policies=(SHORTER_SIDE_CENTER_CROP, STRETCH),
        try_flip_tta=True,
        batch_size=batch,
        max_epochs=epochs,
        patience=max(3, epochs // 4),
        time_budget_s=float(time_budget_s),
        probe_resolution=probe_res,
        freeze_early=not gpu,
        freeze_through=CPU_FROZEN_THROUGH,
    )


def _round32(x: float) -> int:
    return max(32, round(x / 32.0) * 32)


def _unique(values: Sequence[int]) -> list[int]:
    out: list[int] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


# ---- class imbalance ------------------------------------------------------------------


def class_weights(counts: np.ndarray) -> np.ndarray | None:
    """Softmax loss weights: tempered inverse frequency, None when the set is balanced.

    The square root corrects most of the bias toward frequent labels (macro-F1 is what is
    judged) without letting a label with 3 images dominate the gradient.
    """
    present = counts[counts > 0]
    if len(present) < 2 or present.max() / present.min() <= IMBALANCE_RATIO:
        return None
    weights = np.where(counts > 0, (counts[counts > 0].mean() / np.maximum(counts, 1)) ** 0.5, 0)
    # Normalize so the average image weighs 1: the learning rate keeps its meaning.
    weights = weights / (weights * counts).sum() * counts.sum()
    return weights.astype(np.float32)


def positive_weights(positives: np.ndarray, n: int) -> np.ndarray:
    """Multilabel BCE pos_weight per label: sqrt(negatives/positives), clipped to 1..10."""
    negatives = n - positives
    ratio = negatives / np.maximum(positives, 1)
    return np.clip(np.sqrt(ratio), 1.0, 10.0).astype(np.float32)


# ---- the validation split --------------------------------------------------------------


def split_validation(
    label_sets: Sequence[Sequence[int]],
    num_labels: int,
    *,
    seed: int,
    fraction: float = VAL_FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) indices; each label with ≥2 images gets ≥1 in val.

    Works for single and multiple labels per image: greedy iterative stratification
    (Sechidis et al. 2011) — rarest label first, each of its images goes to the side that
    still wants that label most. Returns an empty validation set when it would be too small
    to judge anything.
    """
    n = len(label_sets)
    rng = np.random.default_rng([seed, 7])
    counts = np.zeros(num_labels, np.int64)
    for labels in label_sets:
        for lab in set(labels):
            counts[lab] += 1
    want_val = np.where(counts >= 2, np.maximum(1.0, fraction * counts), 0.0)
    want_val = np.minimum(want_val, np.maximum(counts - 1, 0))
    want_train = counts - want_val
    total_val, total_train = fraction * n, (1 - fraction) * n

    unassigned = set(range(n))
    order = list(rng.permutation(n))  # tie-breaking follows the seed
    in_val = np.zeros(n, bool)
    remaining = counts.astype(np.float64).copy()

    def assign(i: int, to_val: bool) -> None:
        nonlocal total_val, total_train
        unassigned.discard(i)
        in_val[i] = to_val
        for lab in set(label_sets[i]):
            remaining[lab] -= 1
            if to_val:
                want_val[lab] -= 1
            else:
                want_train[lab] -= 1
        if to_val:
            total_val -= 1
        else:
            total_train -= 1

    while True:
        live = [lab for lab in range(num_labels) if remaining[lab] > 0]
        if not live:
            break
        lab = min(live, key=lambda x: (remaining[x], x))
        for i in order:
            if i in unassigned and lab in label_sets[i]:
                if want_val[lab] != want_train[lab]:
                    to_val = want_val[lab] > want_train[lab]
                else:
                    to_val = total_val > total_train
                assign(i, bool(to_val))
    for i in order:  # images without labels: by the overall sizes
        if i in unassigned:
            assign(i, bool(total_val > total_train))
    val = np.flatnonzero(in_val)
    if len(val) < MIN_VAL_IMAGES:
        return np.arange(n), np.array([], np.int64)
    return np.flatnonzero(~in_val), val


# ---- validation metrics ----------------------------------------------------------------


def macro_f1(truth: np.ndarray, predicted: np.ndarray, num_labels: int) -> float:
    """Mean F1 over the labels present in `truth` (single-label, argmax predictions)."""
    scores = []
    for lab in range(num_labels):
        actual = truth == lab
        if not actual.any():
            continue
        guessed = predicted == lab
        tp = float(np.sum(actual & guessed))
        denom = float(actual.sum() + guessed.sum())
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def mean_average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mean over labels with a positive of the average precision of the score ranking."""
    aps = []
    for lab in range(truth.shape[1]):
        positives = truth[:, lab] > 0
        if not positives.any():
            continue
        order = np.argsort(-scores[:, lab], kind="stable")
        hits = positives[order]
        precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
        aps.append(float(precision_at_hit.mean()))
    return float(np.mean(aps)) if aps else 0.0


def validation_metric(multilabel: bool, truth: np.ndarray, probs: np.ndarray) -> float:
    """What early stopping and every choice watch: macro-F1 (softmax) or mAP (sigmoid)."""
    if multilabel:
        return mean_average_precision(truth, probs)
    return macro_f1(truth, probs.argmax(1), probs.shape[1])


def metric_name(multilabel: bool) -> str:
    return "mean_average_precision" if multilabel else "macro_f1"


__all__ = [
    "ClassifierPlan",
    "class_weights",
    "macro_f1",
    "mean_average_precision",
    "metric_name",
    "plan_classifier",
    "positive_weights",
    "split_validation",
    "validation_metric",
]
