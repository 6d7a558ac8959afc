"""Evaluation of a trained model on its test set, exactly per training.md §5-§8, and a report.

Pure Python, numpy, Pillow and matplotlib (for the report); no torch. The job calls:

    evaluation = evaluate(task, labels, test_examples, predictions)
    evaluation.f1_score, evaluation.thresholds, evaluation.per_label
    evaluation.summary_document(version_arn=..., n_training_images=..., ended_at=...)
    evaluation.testing_snapshot_lines(created_at=...)
    training_snapshot_lines(task, labels, train_examples, created_at=...)
    summary_file_name(project_name, version_name)
    render_report(evaluation, out_dir, title=...)

Modules, one job each: matching (IoU, one-to-one box matching), thresholds (the assumed
threshold and the precision-recall curve), formulas (P/R/F1, macro means), metrics
(per-label metrics and aggregates), coco (detection AP/AR), confusion (the confusion
matrix), evaluator (`evaluate`, `Evaluation`), summary (the summary file), snapshots (the
evaluation manifest snapshots), plots / drawing / report (the report).
"""

from labelgate.backends.local.training.evaluation.evaluator import Evaluation, evaluate
from labelgate.backends.local.training.evaluation.label_metrics import LabelMetrics
from labelgate.backends.local.training.evaluation.report import render_report
from labelgate.backends.local.training.evaluation.snapshots import training_snapshot_lines
from labelgate.backends.local.training.evaluation.summary import summary_file_name

__all__ = [
    "Evaluation",
    "LabelMetrics",
    "evaluate",
    "render_report",
    "summary_file_name",
    "training_snapshot_lines",
]
