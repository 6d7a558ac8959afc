"""`make demo`: the whole story on the bundled quick-start example, against a real gateway.

create project -> import a Ground Truth manifest -> train (a test set split off
automatically) -> evaluate -> start the model -> detect labels -> stop it.

The example is 200 real photos of clothing (hat, pants, shoes, t-shirt; CC0, see
examples/quickstart/README.md). A gateway with the local backend on its embedded defaults
runs in this process (a temporary data folder unless --data-dir is given); the demo talks to
it over gRPC with the Python client, exactly as any other program would. The model version
gets its own training budget (--budget seconds, CreateProjectVersion's TrainingBudgetSeconds
extension) so the demo takes under two minutes on a 2-core CPU.

    .venv/bin/python examples/demo.py [--budget 90] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb

EXAMPLE = Path(__file__).resolve().parent / "quickstart"
BUCKET = "quickstart"
DETECT_PER_LABEL = 2  # images of each label sent to DetectCustomLabels in step 6


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _status(value: int, enum: type) -> str:
    name = enum.Name(value)
    return name.split("_STATUS_", 1)[-1]


def run(client: Client, data_dir: Path, budget: int) -> None:
    _step("1. Create a project")
    project = client.create_project(project_name="demo").project_arn
    print(f"   {project}")

    _step("2. Import the training images from a SageMaker Ground Truth manifest")
    target = data_dir / "s3" / BUCKET  # the local blob store: s3://quickstart/... lives here
    shutil.copytree(EXAMPLE / "images", target / "images", dirs_exist_ok=True)
    shutil.copy(EXAMPLE / "train.manifest", target / "train.manifest")
    dataset = client.create_dataset(
        project_arn=project, dataset_type="TRAIN",
        dataset_source={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET,
                                                             "Name": "train.manifest"}}},
    ).dataset_arn
    client.wait_dataset_created(dataset, delay=0.2)
    stats = client.describe_dataset(dataset_arn=dataset).dataset_description.dataset_stats
    labels = [x.label_name for x in
              client.list_dataset_labels(dataset_arn=dataset).dataset_label_descriptions]
    print(f"   {stats.labeled_entries} labelled images, labels: {', '.join(sorted(labels))}")

    _step(f"3. Train a model in at most {budget} s "
          "(no TEST dataset: 20% of the images become the test set)")
    started = time.monotonic()
    version = client.create_project_version(
        project_arn=project, version_name="v1",
        output_config={"S3Bucket": BUCKET, "S3KeyPrefix": "runs"},
        training_budget_seconds=budget,
    ).project_version_arn
    last = ""
    for update in client.watch_project_version(version):
        line = update.stage
        if update.HasField("epoch"):
            line += f" epoch {update.epoch}/{update.total_epochs}"
        if update.HasField("metric_value"):
            line += f" {update.metric_name}={update.metric_value:.3f}"
        if line and line != last:
            print(f"   {line}", flush=True)
            last = line
    (desc,) = client.describe_project_versions(
        project_arn=project, version_names=["v1"]).project_version_descriptions
    print(f"   {_status(desc.status, pb.ProjectVersionStatus)} in "
          f"{time.monotonic() - started:.0f} s: {desc.status_message}")
    if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED:
        raise SystemExit("training did not complete")

    _step("4. Evaluate: the summary file the trainer wrote")
    summary_ref = desc.evaluation_result.summary.s3_object
    summary = json.loads((data_dir / "s3" / summary_ref.bucket / summary_ref.name).read_text())
    print(f"   F1 {desc.evaluation_result.f1_score:.3f} "
          f"(s3://{summary_ref.bucket}/{summary_ref.name})")
    for label in summary["LabelEvaluationResults"]:
        m = label["Metrics"]
        print(f"   {label['Label']:>10s}: precision {m['Precision']:.2f}  recall "
              f"{m['Recall']:.2f}  assumed threshold {m['Threshold']:.2f}")
    report = next((data_dir / "s3" / BUCKET / "runs").rglob("report/index.html"), None)
    if report is not None:
        print(f"   report to look at: {report} (kept with --data-dir)")

    _step("5. Start the model with one inference unit")
    started = time.monotonic()
    client.start_project_version(project_version_arn=version, min_inference_units=1)
    client.wait_running(project, "v1", delay=0.2)
    (desc,) = client.describe_project_versions(
        project_arn=project, version_names=["v1"]).project_version_descriptions
    units = desc.inference_units_status
    print(f"   RUNNING after {time.monotonic() - started:.1f} s; {units.in_service_inference_units}"
          f" unit(s) of {units.inference_unit_capacity:.0f} images/s each")

    _step("6. Detect custom labels")
    images = sorted((EXAMPLE / "images").glob("*.jpg"))
    for image in [i for i in images if int(i.stem.rsplit("_", 1)[1]) < DETECT_PER_LABEL]:
        found = client.detect_custom_labels(project_version_arn=version,
                                            image={"Bytes": image.read_bytes()}).custom_labels
        names = ", ".join(f"{c.name} ({c.confidence:.1f}%)" for c in found) or "no label"
        print(f"   {image.name:>16s}: {names}")

    _step("7. Stop the model")
    client.stop_project_version(project_version_arn=version)
    client.wait_stopped(project, "v1", delay=0.2)
    print("   STOPPED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=90,
                        help="the model version's training budget in seconds, 60 to 86400 "
                             "(default 90)")
    parser.add_argument("--learner", default="automl",
                        help="the learner plugin that trains (default automl, labelgate's own)")
    parser.add_argument("--data-dir", type=Path,
                        help="keep the gateway's data here (default: a temporary folder)")
    args = parser.parse_args(argv)
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = data_dir = Path(tempfile.mkdtemp(prefix="labelgate-demo-"))
    settings = Settings(
        data_dir=data_dir, port=0, metrics_port=0, log_level="WARNING",
        backends={"local": {"training_seed": 0, "training_learner": args.learner}},
    )
    try:
        with running_gateway(settings) as gateway, Client(gateway.address) as client:
            print(f"labelgate demo: a gateway on {gateway.address}, data in {data_dir}")
            run(client, data_dir, args.budget)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\ndone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
