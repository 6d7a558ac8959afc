"""`labelgate start-model` / `stop-model` against a real gateway."""

from __future__ import annotations

import json

from labelgate.v1 import custom_labels_pb2 as pb
from tests.cli_runner import cli  # noqa: F401  (fixture)
from tests.serving.conftest import BUCKET, COLOURS, Serving, png


def test_start_model_waits_until_running_and_stop_model_until_stopped(serving: Serving,
                                                                      cli) -> None:  # noqa: F811
    arn = serving.classifier(serving.project("cli"))
    endpoint = ("--endpoint", serving.gateway.address)
    started = cli("start-model", *endpoint, "--project-version-arn", arn,
                  "--min-inference-units", "1", "--max-inference-units", "2",
                  "--delay", "0.05", "--output", "json")
    assert started.code == 0, started.err
    assert json.loads(started.out)["Status"] == "RUNNING"
    assert serving.describe(arn).max_inference_units == 2
    serving.put("cli/red.png", png(COLOURS["red"]))
    image = json.dumps({"S3Object": {"Bucket": BUCKET, "Name": "cli/red.png"}})
    detected = cli("detect-custom-labels", *endpoint, "--project-version-arn", arn,
                   "--image", image, "--min-confidence", "0", "--output", "json")
    assert detected.code == 0, detected.err
    labels = json.loads(detected.out)["CustomLabels"]
    assert labels[0]["Name"] == "red" and len(labels) == 3
    stopped = cli("stop-model", *endpoint, "--project-version-arn", arn, "--delay", "0.05",
                  "--output", "json")
    assert stopped.code == 0, stopped.err
    assert json.loads(stopped.out)["Status"] == "STOPPED"
    assert serving.describe(arn).status == pb.PROJECT_VERSION_STATUS_STOPPED
    again = cli("stop-model", *endpoint, "--project-version-arn", arn)
    assert again.code != 0 and "ResourceInUseException" in again.err
