"""The per-label assumed threshold (training.md §5.3) and the precision-recall curve it lies on.

A label's test predictions are (confidence, hit) pairs: for image-level labels one per test
image (hit = the image carries the label), for detection one per predicted box of the label
(hit = the box matched a true box, matching.py). `positives` is how many ground-truth units
exist: images carrying the label, or true boxes of the label.

A prediction counts as made when its confidence is **at or above** the threshold. The spec
words it "above" (§5.1), but [DESIGN] sweeps the distinct confidences themselves as the
candidate thresholds (§5.3): read strictly, the chosen value would exclude the very
prediction that defined it. At-or-above also matches `MinConfidence`, which keeps labels whose
confidence is not below it.

Choice (spec [DESIGN]): the candidate with the highest F1, on a tie the higher threshold.
F1 is compared exactly (as 2TP / (2TP + FP + FN)) so float noise never breaks a tie.

Where the test set says nothing, [DESIGN, ours] `NO_EVIDENCE_THRESHOLD` (0.5):
- no positives: every prediction would be a false positive, every candidate has F1 0 and
  the sweep's tie rule would only pick the maximum score seen, an accident of the test set;
- no predictions (a detector that never proposed the label): there is no candidate at all.
The threshold still goes into model.json and serving uses it, so it must be a neutral,
usable operating point rather than 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelgate.backends.local.training.evaluation.formulas import f1, precision, recall

NO_EVIDENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class OperatingPoint:
    """The counts when predictions at or above `threshold` are kept."""

    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        return precision(self.true_positives, self.false_positives)

    @property
    def recall(self) -> float:
        return recall(self.true_positives, self.false_negatives)

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)


@dataclass(frozen=True)
class PrecisionRecallCurve:
    """One operating point per distinct confidence, highest threshold first.

    Counts are cumulative: entry i counts the predictions with confidence >= thresholds[i].
    """

    thresholds: tuple[float, ...]
    true_positives: tuple[int, ...]
    false_positives: tuple[int, ...]
    positives: int

    def __len__(self) -> int:
        return len(self.thresholds)

    def point(self, i: int) -> OperatingPoint:
        tp = self.true_positives[i]
        return OperatingPoint(self.thresholds[i], tp, self.false_positives[i],
                              self.positives - tp)

    @property
    def precisions(self) -> tuple[float, ...]:
        return tuple(self.point(i).precision for i in range(len(self)))

    @property
    def recalls(self) -> tuple[float, ...]:
        return tuple(self.point(i).recall for i in range(len(self)))


def sweep(confidences: np.ndarray, hits: np.ndarray, positives: int) -> PrecisionRecallCurve:
    """The curve of one label's predictions (`hits` says which are correct)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(hits, dtype=bool)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError("confidences and hits must be 1-d arrays of one length")
    if np.isnan(conf).any():
        raise ValueError("a prediction has a NaN confidence")
    if int(hit.sum()) > positives:
        raise ValueError("more correct predictions than ground-truth units")
    if conf.size == 0:
        return PrecisionRecallCurve((), (), (), positives)
    order = np.argsort(-conf, kind="stable")
    conf, hit = conf[order], hit[order]
    tp = np.cumsum(hit)
    fp = np.cumsum(~hit)
    # The last index of each run of equal confidences: a threshold keeps the whole run.
    ends = np.append(np.nonzero(conf[1:] != conf[:-1])[0], conf.size - 1)
    return PrecisionRecallCurve(
        thresholds=tuple(float(c) for c in conf[ends]),
        true_positives=tuple(int(n) for n in tp[ends]),
        false_positives=tuple(int(n) for n in fp[ends]),
        positives=positives,
    )


def choose(curve: PrecisionRecallCurve) -> OperatingPoint:
    """The assumed threshold: best F1, ties to the higher threshold (module docstring)."""
    if curve.positives == 0 or len(curve) == 0:
        kept = [i for i, t in enumerate(curve.thresholds) if t >= NO_EVIDENCE_THRESHOLD]
        tp = curve.true_positives[kept[-1]] if kept else 0
        fp = curve.false_positives[kept[-1]] if kept else 0
        return OperatingPoint(NO_EVIDENCE_THRESHOLD, tp, fp, curve.positives - tp)
    best, best_num, best_den = 0, -1, 1
    for i in range(len(curve)):  # highest threshold first: only a strictly better F1 wins
        tp, fp = curve.true_positives[i], curve.false_positives[i]
        num, den = 2 * tp, tp + fp + curve.positives  # = 2TP + FP + FN
        if num * best_den > best_num * den:
            best, best_num, best_den = i, num, den
    return curve.point(best)


__all__ = [
    "NO_EVIDENCE_THRESHOLD",
    "OperatingPoint",
    "PrecisionRecallCurve",
    "choose",
    "sweep",
]
