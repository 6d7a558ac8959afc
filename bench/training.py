"""Training benchmarks on the real datasets (bench/README.md), end to end through the API.

For each scenario: the dataset is staged into a fresh gateway's blob store
(training_data.py), a `labelgate.server` subprocess imports it (CreateDataset TRAIN and
TEST), trains a model version (CreateProjectVersion; progress from WatchProjectVersion),
and the figures printed are the wall time and the test metrics read from our own
evaluation summary file. The exported bundle (ExportProjectVersion) is then run over the
test images with the serving code, which must reproduce the summary's F1.

Baseline, same process, same train/test images:
* classification and multi-label: frozen EfficientNet-Lite0 features + logistic regression
  (scikit-learn; C chosen on a split carved from the training set);
* detection: the same detector with fixed default hyper-parameters, no AutoML.
Both are scored by the same evaluation code as the product (training.md metrics) and, for
classification, by plain top-1 accuracy and macro-F1 too.

    .venv/bin/python -m bench training_clothing10
    .venv/bin/python -m bench training_deeppcb
    .venv/bin/python -m bench training_deeppcb_multilabel

LABELGATE_BENCH_BUDGET_S caps the trainer's learning time (0: AutoML sizes it). Defaults
keep the whole training call inside the issue's targets (10 min for clothing10, 30 min for
DeepPCB: the learning budget plus validation, export and test prediction); the multi-label
run uses AutoML's own budget. LABELGATE_BENCH_BASELINE=0 skips the baseline.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gateway_process import GatewayProcess, gateway_process
from bench.training_baselines import BaselineResult, run_baseline
from bench.training_data import StagedManifest, stage_manifest
from labelgate.client import Client
from labelgate.v1 import custom_labels_pb2 as pb

OUTPUT_BUCKET = "bench-output"


@dataclass(frozen=True)
class Scenario:
    name: str
    dataset: str
    train_manifests: tuple[str, ...]
    test_manifest: str
    task: str  # classification | multilabel | detection
    budget_s: float
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _multilabel_to_custom_labels(line: dict[str, Any]) -> dict[str, Any]:
    from labelgate.converters.sagemaker_multilabel import convert_line

    return convert_line(line, what=line["source-ref"])


SCENARIOS = {
    # The dataset's own validation split joins the training set: the trainer carves its
    # validation split itself, as it would for any user's data.
    "clothing10": Scenario("clothing10", "clothing10", ("train.manifest", "validation.manifest"),
                           "test.manifest", "classification", 540.0),
    "deeppcb": Scenario("deeppcb", "deeppcb", ("train.manifest",), "test.manifest",
                        "detection", 1650.0),
    "deeppcb_multilabel": Scenario("deeppcb_multilabel", "deeppcb-multilabel",
                                   ("train.manifest",), "test.manifest", "multilabel", 0.0,
                                   transform=_multilabel_to_custom_labels),
}


@dataclass(frozen=True)
class ProductResult:
    import_s: float
    training_wall_s: float
    billable_s: int
    summary: dict[str, Any]
    bundle: Path
    status: str
    status_message: str


def _budget(scenario: Scenario) -> float:
    return float(os.environ.get("LABELGATE_BENCH_BUDGET_S", scenario.budget_s))


def _write_config(path: Path, budget_s: float) -> Path:
    path.write_text(
        "[backends.local]\n"
        f"training_time_budget_seconds = {budget_s}\n"
        "training_seed = 0\n"
    )
    return path


def _create_dataset(client: Client, project: str, kind: str, staged: StagedManifest) -> str:
    arn = client.create_dataset(project_arn=project, dataset_type=kind,
                                dataset_source=staged.source).dataset_arn
    client.wait_dataset_created(arn, delay=1.0, max_attempts=3600)
    stats = client.describe_dataset(dataset_arn=arn).dataset_description
    print(f"  {kind}: {stats.status_message or pb.DatasetStatus.Name(stats.status)}; "
          f"{stats.dataset_stats.labeled_entries}/{stats.dataset_stats.total_entries} labelled, "
          f"{stats.dataset_stats.error_entries} with errors")
    return arn


def _watch(client: Client, arn: str) -> None:
    """Print one line per epoch while the version trains."""
    last_epoch = None
    for update in client.watch_project_version(arn):
        if update.HasField("epoch") and update.epoch != last_epoch:
            last_epoch = update.epoch
            metric = (f" {update.metric_name}={update.metric_value:.4f}"
                      if update.HasField("metric_value") else "")
            loss = f" loss={update.loss:.4f}" if update.HasField("loss") else ""
            eta = f" eta={update.eta_seconds:.0f}s" if update.HasField("eta_seconds") else ""
            print(f"    epoch {update.epoch}/{update.total_epochs}{loss}{metric}{eta}",
                  flush=True)


def run_product(gateway: GatewayProcess, scenario: Scenario, train: StagedManifest,
                test: StagedManifest, out_dir: Path) -> ProductResult:
    with Client(gateway.address) as client:
        project = client.create_project(project_name=f"bench-{scenario.name}").project_arn
        start = time.perf_counter()
        _create_dataset(client, project, "TRAIN", train)
        _create_dataset(client, project, "TEST", test)
        import_s = time.perf_counter() - start

        start = time.perf_counter()
        arn = client.create_project_version(
            project_arn=project, version_name="v1",
            output_config={"S3Bucket": OUTPUT_BUCKET, "S3KeyPrefix": scenario.name},
        ).project_version_arn
        _watch(client, arn)
        (desc,) = client.describe_project_versions(
            project_arn=project, version_names=["v1"]).project_version_descriptions
        wall = time.perf_counter() - start
        status = pb.ProjectVersionStatus.Name(desc.status)
        summary: dict[str, Any] = {}
        bundle = out_dir / "bundle.zip"
        if desc.status == pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED:
            s3 = desc.evaluation_result.summary.s3_object
            summary = json.loads(gateway.blob_path(s3.bucket, s3.name).read_text())
            client.export_project_version(arn, bundle)
        return ProductResult(import_s, wall, desc.billable_training_time_in_seconds, summary,
                             bundle, status, desc.status_message)


def _print_summary(title: str, summary: dict[str, Any]) -> None:
    aggregate = summary["AggregatedEvaluationResults"]
    extras = "".join(f"  {key} {aggregate[key]:.4f}" for key in
                     ("AveragePrecision", "AverageRecall") if key in aggregate)
    print(f"  {title}: F1 {aggregate['F1Score']:.4f}  precision {aggregate['Precision']:.4f}"
          f"  recall {aggregate['Recall']:.4f}{extras}")
    for label in summary["LabelEvaluationResults"]:
        m = label["Metrics"]
        print(f"    {label['Label']:>14s}  F1 {m['F1Score']:.3f}  P {m['Precision']:.3f}"
              f"  R {m['Recall']:.3f}  threshold {m['Threshold']:.3f}"
              f"  test images {label['NumberOfTestingImages']}")


def _serve_bundle(bundle: Path, scenario: Scenario, test: StagedManifest,
                  out_dir: Path) -> dict[str, float]:
    """Run the exported model over the test set with the serving code."""
    from bench.training_baselines import examples_for, score_predictions
    from labelgate.backends.local.inference.predictor import load_predictor

    model_dir = out_dir / "model"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(model_dir)
    card = next(model_dir.rglob("model.json"))
    predictor = load_predictor(card.parent)
    examples = examples_for(scenario.task, test)
    start = time.perf_counter()
    predictions = [predictor.predict(example.image_path, example.source_ref)
                   for example in examples]
    took = time.perf_counter() - start
    scores = score_predictions(scenario.task, examples, predictions)
    scores["ms_per_image"] = took / max(len(examples), 1) * 1e3
    _print_choices(json.loads(card.read_text()).get("training", {}))
    return scores


def _print_choices(record: dict[str, Any]) -> None:
    """What AutoML chose, from the card's training record (classifiers)."""
    if "chosen_weights" not in record:
        return
    parts = [f"chosen {record['chosen_weights']}"]
    for name in ("linear_probe", "finetune"):
        part = record.get(name) or {}
        metric = part.get("val_metric", part.get("best_val_metric"))
        if metric is not None:
            parts.append(f"{name} val {metric}")
    if "ensemble" in record:
        parts.append(f"ensemble val {record['ensemble']['val_metric']}")
    evaluation = record.get("evaluation", {})
    parts.append(f"evaluated at {evaluation.get('resolution')} px "
                 f"{evaluation.get('resize')}, flip {evaluation.get('flip_tta')}")
    print("  AutoML: " + "; ".join(parts))


def run(name: str) -> None:
    scenario = SCENARIOS[name]
    budget = _budget(scenario)
    print(f"training_{name}: {scenario.task}, trainer budget "
          f"{f'{budget:.0f} s' if budget else 'chosen by AutoML'}, "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix=f"labelgate-bench-{name}-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        train = stage_manifest(data_dir, scenario.dataset, scenario.train_manifests,
                               f"{scenario.name}/train.manifest", scenario.transform)
        test = stage_manifest(data_dir, scenario.dataset, (scenario.test_manifest,),
                              f"{scenario.name}/test.manifest", scenario.transform)
        print(f"  staged {len(train.lines)} training and {len(test.lines)} test images")
        config = _write_config(root / "labelgate.toml", budget)
        with gateway_process(data_dir, config=config, log=root / "gateway.log") as gateway:
            product = run_product(gateway, scenario, train, test, root)
        print(f"  import {product.import_s:.0f} s; training {product.status} in "
              f"{product.training_wall_s:.0f} s wall ({product.training_wall_s / 60:.1f} min), "
              f"billable {product.billable_s} s")
        if not product.summary:
            print(f"  FAILED: {product.status_message}")
            sys.stdout.write((root / "gateway.log").read_text()[-4000:])
            return
        _print_summary("ours (summary file)", product.summary)
        served = _serve_bundle(product.bundle, scenario, test, root)
        print("  ours, exported model re-run with the serving code: "
              + "  ".join(f"{k} {v:.4f}" for k, v in served.items()))

        if os.environ.get("LABELGATE_BENCH_BASELINE", "1") == "0":
            return
        baseline: BaselineResult = run_baseline(scenario.task, train, test, budget, root)
        print(f"  baseline ({baseline.name}): {baseline.wall_s:.0f} s wall")
        _print_summary("baseline", baseline.summary)
        print("  baseline top-line: "
              + "  ".join(f"{k} {v:.4f}" for k, v in baseline.scores.items()))
        ours = product.summary["AggregatedEvaluationResults"]["F1Score"]
        theirs = baseline.summary["AggregatedEvaluationResults"]["F1Score"]
        print(f"  ratio: F1 {ours / theirs:.3f}x baseline; wall "
              f"{product.training_wall_s / baseline.wall_s:.2f}x baseline")


def main_clothing10() -> None:
    run("clothing10")


def main_deeppcb() -> None:
    run("deeppcb")


def main_deeppcb_multilabel() -> None:
    run("deeppcb_multilabel")
