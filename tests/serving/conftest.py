"""Serving over real gRPC: a gateway (local backend, embedded runtime) and tiny models.

`Serving` wraps a running gateway, a client to it and its LocalBackend. Models come two ways:
`train_classifier` trains one with the tiny test learner of tests/training_jobs (a real
worker process, seconds), `install` puts hand-made ONNX files in the models bucket and a
TRAINING_COMPLETED version row in the store (a detector with a known box, for the geometry).
The autoscaler and calibration run with test timings (SERVING_CONFIG).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from labelgate.backends.local import LocalBackend
from labelgate.backends.local.blobs.bundles import DEFAULT_MODELS_BUCKET, ModelBundle
from labelgate.backends.local.store.tables import Project, ProjectVersion
from labelgate.client import Client
from labelgate.server.config import Settings
from labelgate.server.testing import RunningGateway, running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.local.conftest import (  # noqa: F401  (session fixtures used by `database`)
    DATABASES,
    _postgres_migrated,
    _sqlite_template,
    emptied_database,
)

SERVING_CONFIG: dict[str, Any] = {
    "serving_calibration_seconds": 0.05,
    "autoscale_interval_seconds": 0.05,
    "autoscale_up_after_seconds": 0.1,
    "autoscale_down_after_seconds": 0.3,
    "training_threads": 1,
}
BUCKET = "serve-in"
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
DEADLINE_S = 60.0


def png(colour: tuple[int, int, int], width: int = 64, height: int = 64,
        fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format=fmt)
    return out.getvalue()


# -- hand-made models -------------------------------------------------------------------------


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def classifier_files(directory: Path, thresholds: Mapping[str, float]) -> dict[str, Path]:
    """Nearest mean colour over red/green/blue (as the test learner exports), "NC" input."""
    labels = list(COLOURS)
    centroids = np.array([COLOURS[x] for x in labels], np.float32) / 255
    weights = (40 * centroids.T).astype(np.float32)
    bias = (-20 * (centroids ** 2).sum(axis=1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["rgb", "W"], ["l0"]),
         helper.make_node("Add", ["l0", "B"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=-1)],
        "colour", [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    _save(graph, directory / "model.onnx")
    card = {
        "format": "labelgate-model", "format_version": 1, "task": "classification",
        "labels": labels, "backbone": "test", "onnx_file": "model.onnx",
        "input": {"name": "rgb", "layout": "NC", "height": 1, "width": 1, "resize": "stretch"},
        "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]},
        "outputs": {"scores": "scores"}, "thresholds": dict(thresholds),
    }
    (directory / "model.json").write_text(json.dumps(card))
    return {"model.onnx": directory / "model.onnx", "model.json": directory / "model.json"}


def detector_files(directory: Path) -> dict[str, Path]:
    """One box at canvas pixels (8, 16)-(40, 48) of a 64x64 letterboxed canvas, label
    "thing", score sigmoid(mean of the normalized input)."""
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["boxes"], value=numpy_helper.from_array(
            np.array([[8, 16, 40, 48]], np.float32))),
         helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
         helper.make_node("Reshape", ["m", "one"], ["m1"]),
         helper.make_node("Sigmoid", ["m1"], ["scores"]),
         helper.make_node("Constant", [], ["labels"], value=numpy_helper.from_array(
             np.array([0], np.int64)))],
        "box", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("labels", TensorProto.INT64, [1])],
        initializer=[numpy_helper.from_array(np.array([1], np.int64), "one")],
    )
    _save(graph, directory / "model.onnx")
    card = {
        "format": "labelgate-model", "format_version": 1, "task": "detection",
        "labels": ["thing"], "backbone": "test", "onnx_file": "model.onnx",
        "input": {"name": "image", "height": 64, "width": 64, "resize": "letterbox_top_left"},
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "outputs": {"boxes": {"name": "boxes"}, "scores": {"name": "scores"},
                    "labels": {"name": "labels"}},
        "thresholds": {"thing": 0.5},
    }
    (directory / "model.json").write_text(json.dumps(card))
    return {"model.onnx": directory / "model.onnx", "model.json": directory / "model.json"}


# -- the gateway ------------------------------------------------------------------------------


class Serving:
    def __init__(self, gateway: RunningGateway, client: Client, tmp: Path,
                 stack: ExitStack) -> None:
        self.gateway = gateway
        self.client = client
        self.tmp = tmp
        self._stack = stack

    def close(self) -> None:
        """Stop this gateway now (a restart test starts another on the same data_dir)."""
        self._stack.close()

    @property
    def backend(self) -> LocalBackend:
        return self.gateway.gateway.backends["local"]  # type: ignore[return-value]

    def put(self, key: str, data: bytes, bucket: str = BUCKET) -> None:
        self.backend.blobs.ensure_bucket(bucket)
        self.backend.blobs.put(bucket, key, data)

    def project(self, name: str) -> str:
        return self.client.create_project(project_name=name).project_arn

    def install(self, project_arn: str, name: str, files: Mapping[str, Path]) -> str:
        """A TRAINING_COMPLETED version whose bundle holds `files`."""
        backend = self.backend
        project_name = project_arn.split("/")[1]
        arn = backend.arns.version(project_name, name)
        bundle = ModelBundle.for_version(DEFAULT_MODELS_BUCKET, project_name, name,
                                         arn.rsplit("/", 1)[1])
        backend.blobs.ensure_bucket(bundle.bucket)
        for file_name, path in files.items():
            backend.blobs.put(bundle.bucket, bundle.key(file_name), path.read_bytes())
        bundle = bundle.with_files(files)

        def work(session: Any) -> None:
            project = session.query(Project).filter(Project.arn == project_arn).one()
            session.add(ProjectVersion(arn=arn, project_id=project.id, name=name,
                                       status="TRAINING_COMPLETED",
                                       status_message="The model is ready to run.",
                                       model_bundle=bundle.to_json()))

        assert backend.db is not None
        backend.db.run_sync(work)
        return arn

    def classifier(self, project: str, name: str = "v1",
                   thresholds: Mapping[str, float] | None = None) -> str:
        directory = self.tmp / f"{project.split('/')[1]}-{name}"
        directory.mkdir(parents=True, exist_ok=True)
        limits = thresholds if thresholds is not None else {label: 0.5 for label in COLOURS}
        return self.install(project, name, classifier_files(directory, limits))

    def detector(self, project: str, name: str = "v1") -> str:
        directory = self.tmp / f"{project.split('/')[1]}-{name}"
        directory.mkdir(parents=True, exist_ok=True)
        return self.install(project, name, detector_files(directory))

    def describe(self, arn: str) -> pb.ProjectVersionDescription:
        project = arn.split("/version/")[0]
        project_arn = next(
            p.project_arn for p in self.client.describe_projects().project_descriptions
            if p.project_arn.split("/")[1] == project.split("/")[1]
        )
        (desc,) = self.client.describe_project_versions(
            project_arn=project_arn, version_names=[arn.split("/")[3]]
        ).project_version_descriptions
        return desc

    def start(self, arn: str, low: int = 1, high: int | None = None) -> None:
        self.client.start_project_version(project_version_arn=arn, min_inference_units=low,
                                          max_inference_units=high)
        self.until(lambda: self.describe(arn).status != pb.PROJECT_VERSION_STATUS_STARTING,
                   "the start")
        desc = self.describe(arn)
        assert desc.status == pb.PROJECT_VERSION_STATUS_RUNNING, desc.status_message

    def stop(self, arn: str) -> None:
        self.client.stop_project_version(project_version_arn=arn)
        self.until(lambda: self.describe(arn).status == pb.PROJECT_VERSION_STATUS_STOPPED,
                   "the stop")

    def detect(self, arn: str, data: bytes, **fields: Any) -> pb.DetectCustomLabelsResponse:
        return self.client.detect_custom_labels(project_version_arn=arn,
                                                image={"Bytes": data}, **fields)

    def on_loop(self, coro: Any) -> Any:
        return self.gateway.run_on_loop(coro)

    def metrics(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.gateway.gateway.metrics.registry).decode()

    def metric(self, name: str, arn: str) -> float | None:
        """The value of series `name` for the model `arn` (None when absent)."""
        parts = arn.split("/")
        wanted = f'{name}{{project_version="{parts[1]}/{parts[3]}"}} '
        for line in self.metrics().splitlines():
            if line.startswith(wanted):
                return float(line.rsplit(" ", 1)[1])
        return None

    @staticmethod
    def until(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store: SQLite unless the test parametrizes it (DATABASES)."""
    return emptied_database(request, getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def make_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str
                 ) -> Iterator[Callable[..., Serving]]:
    """Start a gateway on `data_dir` (default: one per test) and `database` with
    SERVING_CONFIG + config; several may run one after another on the same data_dir and
    database (restart tests)."""
    stack = ExitStack()

    def make(config: Mapping[str, Any] | None = None, data_dir: Path | None = None
             ) -> Serving:
        settings = Settings(data_dir=data_dir or tmp_path / "data", shutdown_grace_seconds=1.0,
                            backends={"local": {"database_url": database, **SERVING_CONFIG,
                                              "training_learner": "fake",
                                              **(config or {})}})
        own = ExitStack()
        stack.callback(own.close)
        gateway = own.enter_context(running_gateway(settings))
        client = own.enter_context(Client(gateway.address))
        return Serving(gateway, client, tmp_path / "models", own)

    with stack:
        yield make


@pytest.fixture
def serving(make_serving: Callable[..., Serving]) -> Serving:
    return make_serving()
