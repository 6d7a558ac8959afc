"""The training results summary file (training.md §6).

Name [DESIGN]: `EvaluationResultSummary-{ProjectName}-{VersionName}.json`, written directly
under `S3KeyPrefix`; clients read the real name from `EvaluationResult.Summary`.

Shape: the §6.3 examples, key for key. The aggregates appear twice, [DESIGN] §6.2: flat
under `AggregatedEvaluationResults` (what the example and the AWS sample code read) and in
a `Metrics` object (what the reference schema nests). `AveragePrecision`/`AverageRecall`
only for detection, `ConfusionMatrix` only for single-label classification (confusion.py).
`LabelEvaluationResults` holds the measured labels (metrics.py), best F1 first; every
label carries `Metrics.Threshold` (§6.2 [DESIGN]: always emit it).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from labelgate.backends.local.training.evaluation.timestamps import aws_timestamp

if TYPE_CHECKING:
    from labelgate.backends.local.training.evaluation.evaluator import Evaluation

SUMMARY_VERSION = 1


def summary_file_name(project_name: str, version_name: str) -> str:
    return f"EvaluationResultSummary-{project_name}-{version_name}.json"


def aggregate_metrics(evaluation: Evaluation) -> dict[str, float]:
    metrics = {
        "F1Score": evaluation.f1_score,
        "Precision": evaluation.precision,
        "Recall": evaluation.recall,
    }
    if evaluation.average_precision is not None:
        metrics["AveragePrecision"] = evaluation.average_precision
    if evaluation.average_recall is not None:
        metrics["AverageRecall"] = evaluation.average_recall
    return metrics


def summary_document(evaluation: Evaluation, *, version_arn: str, n_training_images: int,
                     ended_at: datetime) -> dict[str, Any]:
    aggregated: dict[str, Any] = aggregate_metrics(evaluation)
    if evaluation.confusion_matrix is not None:
        aggregated["ConfusionMatrix"] = [cell.as_json() for cell in evaluation.confusion_matrix]
    aggregated["Metrics"] = aggregate_metrics(evaluation)
    return {
        "Version": SUMMARY_VERSION,
        "EvaluationDetails": {
            "ProjectVersionArn": version_arn,
            "EvaluationEndTimestamp": aws_timestamp(ended_at),
            "Labels": list(evaluation.labels),
            "NumberOfTrainingImages": int(n_training_images),
            "NumberOfTestingImages": evaluation.number_of_testing_images,
        },
        "AggregatedEvaluationResults": aggregated,
        "LabelEvaluationResults": [
            {
                "Label": m.label,
                "NumberOfTestingImages": m.testing_images,
                "Metrics": {"Threshold": m.threshold, "Precision": m.precision,
                            "Recall": m.recall, "F1Score": m.f1},
            }
            for m in evaluation.ranked_labels
        ],
    }


__all__ = ["SUMMARY_VERSION", "aggregate_metrics", "summary_document", "summary_file_name"]
