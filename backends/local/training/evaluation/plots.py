"""The report's charts, drawn with matplotlib's Agg renderer.

Figures are built from `matplotlib.figure.Figure` directly, never through pyplot: no global
backend or figure registry, so rendering works in a headless worker and leaks nothing
between calls. matplotlib is imported on first use; `evaluate()` never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labelgate.backends.local.training.evaluation.confusion import ConfusionCell
from labelgate.backends.local.training.evaluation.label_metrics import LabelMetrics

#: Cells carry their percentage up to this many labels; beyond, the colours alone.
ANNOTATE_CELLS_UP_TO = 20
#: Precision-recall panels drawn at most (the report says when labels were left out).
MAX_CURVES = 16
DPI = 100


def _figure(width: float, height: float):  # -> matplotlib.figure.Figure
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def confusion_heatmap(labels: Sequence[str], cells: Sequence[ConfusionCell], path: Path) -> Path:
    """Rows = predicted label, columns = ground truth, in % of each ground-truth column
    (the layout of the spec's rooms table, §8)."""
    n = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    grid = np.zeros((n, n))
    for cell in cells:
        grid[index[cell.predicted], index[cell.ground_truth]] = 100.0 * cell.value
    side = float(min(22.0, max(4.5, 0.5 * n + 2.5)))
    fig = _figure(side + 1.0, side)
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=100.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="% of the ground-truth label's test images")
    tick_size = max(4.0, min(10.0, 240.0 / n))  # hundreds of labels stay legible-ish
    ax.set_xticks(range(n), labels=labels, rotation=45, ha="right", rotation_mode="anchor",
                  fontsize=tick_size)
    ax.set_yticks(range(n), labels=labels, fontsize=tick_size)
    ax.set_xlabel("Ground truth")
    ax.set_ylabel("Predicted (top-1)")
    if n <= ANNOTATE_CELLS_UP_TO:
        for p in range(n):
            for g in range(n):
                value = grid[p, g]
                if value > 0:
                    ax.text(g, p, f"{value:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if value > 55 else "black")
    ax.set_title("Confusion matrix")
    fig.savefig(path, format="png")
    return path


def precision_recall_curves(per_label: Sequence[LabelMetrics], path: Path) -> Path:
    """One panel per label (at most MAX_CURVES): the curve over every distinct confidence,
    with the assumed threshold marked."""
    shown = list(per_label)[:MAX_CURVES]
    cols = min(4, max(1, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig = _figure(3.2 * cols, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, m in zip(axes, shown, strict=False):
        curve = m.curve
        if len(curve):
            recalls = np.array(curve.recalls)
            precisions = np.array(curve.precisions)
            ax.plot(recalls, precisions, drawstyle="steps-post", color="tab:blue", lw=1.5)
        ax.plot([m.recall], [m.precision], "o", color="tab:red", ms=7,
                label=f"threshold {m.threshold:.3f}\nF1 {m.f1:.3f}")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(m.label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8, frameon=True)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    fig.savefig(path, format="png")
    return path


__all__ = ["MAX_CURVES", "confusion_heatmap", "precision_recall_curves"]
