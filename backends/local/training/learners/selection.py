"""Judging finished classifiers on the validation split, at any evaluation setting.

After training, the learner weighs a few models — the linear probe, the fine-tuned net, and
the two as one ensemble — each at an evaluation setting (input resolution, resize policy,
horizontal-flip averaging). Every model is a list of member nets, so one scorer serves all
of them: the validation logits of each (member, resolution, policy, orientation) are
computed once and cached, and what any combination of members and flips would output is
then arithmetic. Weighing an ensemble, or a second setting for a model already scored,
costs no forward pass it has not already paid for.

`ValidationScorer.probabilities` reproduces what the exported graph computes
(`ProbabilityNet` over one net or over a `LogitEnsemble`), so the choices judged here are
what the ONNX file serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelgate.backends.local.inference.card import Normalization
from labelgate.backends.local.inference.predictor import open_session
from labelgate.backends.local.training.learners import automl
from labelgate.backends.local.training.learners.classifier_data import (
    ImageStore,
    eval_pixels,
    eval_tensor,
)
from labelgate.backends.local.training.learners.classifier_export import onnx_bytes

EVAL_BATCH = 64


@dataclass(frozen=True)
class EvalSetting:
    """How images are fed to a model at evaluation (and in serving)."""

    resolution: int
    resize: str
    flip: bool

    def key(self) -> str:
        return f"{self.resolution}/{self.resize}/{'flip' if self.flip else 'plain'}"


@dataclass(frozen=True)
class Member:
    """A named net in eval mode; its name keys the logits cache (one name, one set of weights)."""

    name: str
    net: nn.Module


class ValidationScorer:
    """Validation metrics of single nets and ensembles, from cached per-member logits."""

    def __init__(
        self,
        store: ImageStore,
        truth: np.ndarray,
        *,
        multilabel: bool,
        normalization: Normalization,
        device: torch.device,
    ) -> None:
        self._store = store
        self._truth = truth
        self._multilabel = multilabel
        self._normalization = normalization
        self._device = device
        self._pixels: dict[tuple[int, str], np.ndarray] = {}
        self._logits: dict[tuple[str, int, str, bool], Tensor] = {}
        self._compiled: dict[str, Forwardable] = {}  # per member name

    def pixels(self, resolution: int, resize: str) -> np.ndarray:
        """The validation images preprocessed as serving does (uint8 NHWC), cached."""
        key = (resolution, resize)
        if key not in self._pixels:
            self._pixels[key] = eval_pixels(self._store, resolution, resolution, resize)
        return self._pixels[key]

    def put_logits(
        self, name: str, resolution: int, resize: str, mirrored: bool, logits: Tensor
    ) -> None:
        """Logits computed elsewhere (the probe's, from features it already extracted)."""
        self._logits[(name, resolution, resize, mirrored)] = logits.detach().float().cpu()

    def is_cached(self, members: Sequence[Member], setting: EvalSetting) -> bool:
        orientations = (False, True) if setting.flip else (False,)
        return all(
            (m.name, setting.resolution, setting.resize, o) in self._logits
            for m in members
            for o in orientations
        )

    def probabilities(self, members: Sequence[Member], setting: EvalSetting) -> np.ndarray:
        """What ProbabilityNet(one net or LogitEnsemble(members), flip) gives on validation."""
        orientations = (False, True) if setting.flip else (False,)
        probs = [self._activation(self._combine([self._member_logits(m, setting, o)
                                                 for m in members]))
                 for o in orientations]  # fmt: skip
        return (torch.stack(probs).mean(0) if len(probs) > 1 else probs[0]).numpy()

    def metric(self, members: Sequence[Member], setting: EvalSetting) -> float:
        return automl.validation_metric(
            self._multilabel, self._truth, self.probabilities(members, setting)
        )

    def uncached_metric(self, net: nn.Module, setting: EvalSetting) -> float:
        """The metric of one net whose weights keep changing (nothing is cached)."""
        orientations = (False, True) if setting.flip else (False,)
        pixels = self.pixels(setting.resolution, setting.resize)
        model = compiled(net, self._device, images=len(pixels) * len(orientations),
                         side=setting.resolution)  # fmt: skip
        probs = [self._activation(self._forward(model, pixels, o)) for o in orientations]
        mean = torch.stack(probs).mean(0) if len(probs) > 1 else probs[0]
        return automl.validation_metric(self._multilabel, self._truth, mean.numpy())

    def drop(self, name: str) -> None:
        """Forget a member's logits (its weights changed)."""
        for key in [k for k in self._logits if k[0] == name]:
            del self._logits[key]
        self._compiled.pop(name, None)

    # -- internals --------------------------------------------------------------------------

    def _combine(self, logits: list[Tensor]) -> Tensor:
        if len(logits) == 1:
            return logits[0]
        if self._multilabel:  # LogitEnsemble: mean logits under a sigmoid
            return torch.stack(logits).mean(0)
        return torch.stack([F.log_softmax(x, dim=1) for x in logits]).mean(0)

    def _activation(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self._multilabel else torch.softmax(logits, dim=1)

    def _member_logits(self, member: Member, setting: EvalSetting, mirrored: bool) -> Tensor:
        key = (member.name, setting.resolution, setting.resize, mirrored)
        if key not in self._logits:
            pixels = self.pixels(setting.resolution, setting.resize)
            if member.name not in self._compiled:
                # Members are usually scored in both orientations and several settings.
                self._compiled[member.name] = compiled(member.net, self._device,
                                                       images=2 * len(pixels),
                                                       side=setting.resolution)  # fmt: skip
            self._logits[key] = self._forward(self._compiled[member.name], pixels, mirrored)
        return self._logits[key]

    def _forward(self, model: Forwardable, pixels: np.ndarray, mirrored: bool) -> Tensor:
        return forward_batches(model, pixels, self._normalization, self._device, mirrored=mirrored)


class CompiledNet:
    """A snapshot of an eval-mode net, exported to ONNX and run by ONNX Runtime.

    On a CPU this is what makes the passes after and between training cheap: Lite0 at 224
    px, 2 threads, ran 187 img/s in ONNX Runtime against 47 img/s in eager PyTorch on the
    reference machine, and compiling costs 0.5-0.8 s. Later changes to the net's
    weights are not seen: compile again.
    """

    def __init__(self, net: nn.Module, *, threads: int) -> None:
        self._session = open_session(onnx_bytes(net), threads=threads, spin=False)
        self._input = self._session.get_inputs()[0].name

    def __call__(self, x: Tensor) -> Tensor:
        """The net's output for a CPU batch (any memory format), as a CPU tensor."""
        out = self._session.run(None, {self._input: x.contiguous().numpy()})[0]
        return torch.from_numpy(out)


Forwardable = nn.Module | CompiledNet


#: Compiling costs 0.5-0.8 s (Lite0); ONNX Runtime then saves ~16 ms per 224 px image. Below
#: this many 224 px-equivalent images of work, eager PyTorch finishes first (tiny sets).
COMPILE_MIN_WORK = 64


def compiled(net: nn.Module, device: torch.device, *, images: int, side: int) -> Forwardable:
    """The fastest way to run `net` for evaluation on `device` over `images` images of
    `side` px: ONNX Runtime on a CPU when the work repays the compilation, else `net`."""
    if device.type != "cpu" or images * (side / 224.0) ** 2 < COMPILE_MIN_WORK:
        return net
    return CompiledNet(net, threads=torch.get_num_threads())


@torch.inference_mode()
def forward_batches(
    model: Forwardable,
    pixels: np.ndarray,
    normalization: Normalization,
    device: torch.device,
    *,
    mirrored: bool = False,
) -> Tensor:
    """`model`'s outputs (on the CPU) for preprocessed uint8 (N, H, W, 3) images, in eval
    mode (a module's mode is restored); `mirrored` flips each image left to right first.
    A plain module on a CPU is compiled for the call when that pays (see `compiled`)."""
    if isinstance(model, nn.Module):
        model = compiled(model, device, images=len(pixels), side=pixels.shape[1])
    module = model if isinstance(model, nn.Module) else None
    was_training = module is not None and module.training
    if module is not None:
        module.eval()
    out = []
    for start in range(0, len(pixels), EVAL_BATCH):
        x = eval_tensor(pixels[start : start + EVAL_BATCH], normalization, device)
        if mirrored:
            x = torch.flip(x, dims=[3])
        out.append(model(x).float().cpu())
    if module is not None:
        module.train(was_training)
    return torch.cat(out) if out else torch.zeros((0, 0))


def search_setting(
    score: Callable[[EvalSetting], float],
    start: EvalSetting,
    *,
    resolutions: Sequence[int],
    policies: Sequence[str],
    try_flip: bool,
    out_of_time: Callable[[], bool],
    is_free: Callable[[EvalSetting], bool] = lambda setting: False,
) -> tuple[EvalSetting, float, dict[str, float]]:
    """Greedy search from `start`: resize policy, then resolution, then flip on or off.

    A candidate must beat the current setting to replace it (ties keep the start, which is
    the setting the model was judged at). A setting not scored yet is skipped once
    `out_of_time()`, unless `is_free` says it costs nothing (its logits are cached).
    Returns the setting, its metric, and every metric tried by setting key.
    """
    tried: dict[str, float] = {}

    def measure(setting: EvalSetting) -> float | None:
        if setting.key() not in tried:
            if tried and out_of_time() and not is_free(setting):
                return None
            tried[setting.key()] = score(setting)
        return tried[setting.key()]

    best = start
    best_metric = measure(start)
    assert best_metric is not None
    steps: list[Callable[[EvalSetting], list[EvalSetting]]] = [
        lambda s: [EvalSetting(s.resolution, p, s.flip) for p in policies],
        lambda s: [EvalSetting(r, s.resize, s.flip) for r in resolutions],
    ]
    if try_flip:
        steps.append(lambda s: [EvalSetting(s.resolution, s.resize, not s.flip)])
    for step in steps:
        for setting in step(best):
            if setting == best:
                continue
            metric = measure(setting)
            if metric is not None and metric > best_metric + 1e-9:
                best, best_metric = setting, metric
    return best, best_metric, tried


__all__ = [
    "COMPILE_MIN_WORK",
    "EVAL_BATCH",
    "CompiledNet",
    "EvalSetting",
    "Forwardable",
    "Member",
    "ValidationScorer",
    "compiled",
    "forward_batches",
    "search_setting",
]
