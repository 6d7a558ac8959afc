"""Serving benchmarks: DetectCustomLabels through the gateway versus the same model run
directly, measured in one run.

1. A real model: an EfficientNet-Lite0 classifier trained through the public API on a slice
   of clothing10 (a short budget: the numbers are about serving, not accuracy), exported
   with ExportProjectVersion.
2. Baselines in this process on the same ONNX file and the same images, doing the same work
   per image as the gateway (decode, the shared pre-processing, the graph, the shared
   post-processing): ONNX Runtime with one intra-op thread per session (as one inference
   unit has), one stream and two.
3. The gateway (a `labelgate.server` subprocess, embedded runtime): time from
   StartProjectVersion to RUNNING, then DetectCustomLabels with image bytes from client
   threads, at 1 inference unit and at 2.
4. Triton: a real `tritonserver` (nvidia-pytriton's, python backend) started here; a
   second gateway serves the model through it (`runtime = "triton"`, the server's URL), and
   direct `tritonclient` gRPC calls on the same server and model are the baseline.

Latency percentiles come from one request at a time; throughput from `streams` client
threads kept busy for `LABELGATE_BENCH_REQUESTS` requests (default 300).

    .venv/bin/python -m bench serving
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.gateway_process import GatewayProcess, gateway_process
from bench.training_data import BUCKET, StagedManifest, stage_manifest
from labelgate.backends.local.inference import pipeline
from labelgate.backends.local.inference.card import ModelCard
from labelgate.backends.local.inference.imaging import open_rgb
from labelgate.backends.local.inference.predictor import open_session
from labelgate.client import Client
from labelgate.v1 import custom_labels_pb2 as pb

REQUESTS = int(os.environ.get("LABELGATE_BENCH_REQUESTS", "300"))
TRAIN_IMAGES = int(os.environ.get("LABELGATE_BENCH_TRAIN_IMAGES", "200"))
IMAGES = 64
RUNNING = pb.PROJECT_VERSION_STATUS_RUNNING


@dataclass(frozen=True)
class Measured:
    name: str
    images_per_s: float
    p50_ms: float
    p99_ms: float

    def row(self, baseline: Measured | None = None) -> str:
        ratio = f"{self.images_per_s / baseline.images_per_s:6.2f}x" if baseline else "      "
        return (f"  {self.name:<46s} {self.images_per_s:8.1f} img/s {ratio}   "
                f"p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(name: str, call: Callable[[bytes], Any], images: list[bytes],
            streams: int) -> Measured:
    """p50/p99 from one request at a time; throughput from `streams` busy threads."""
    for data in images[:4]:
        call(data)  # warm-up
    latencies = []
    for i in range(min(REQUESTS, 200)):
        started = time.perf_counter()
        call(images[i % len(images)])
        latencies.append((time.perf_counter() - started) * 1e3)
    counter = iter(range(REQUESTS))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            call(images[i % len(images)])

    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        for future in [pool.submit(worker) for _ in range(streams)]:
            future.result()
    elapsed = time.perf_counter() - started
    return Measured(name, REQUESTS / elapsed, _percentile(latencies, 0.5),
                    _percentile(latencies, 0.99))


# -- the model -----------------------------------------------------------------------------


def _slice(data_dir: Path, staged: StagedManifest, key: str, count: int) -> StagedManifest:
    step = max(1, len(staged.lines) // count)
    lines = staged.lines[::step][:count]
    (data_dir / "s3" / BUCKET / key).write_text("".join(json.dumps(x) + "\n" for x in lines))
    return StagedManifest(key, lines, staged.local_images[::step][:count])


def train_model(gateway: GatewayProcess, root: Path) -> tuple[str, str, Path]:
    """(project ARN, version ARN, unpacked bundle folder) of a Lite0 clothing10 classifier."""
    data_dir = gateway.data_dir
    train = _slice(data_dir, stage_manifest(data_dir, "clothing10", ("train.manifest",),
                                            "serving/all-train.manifest"),
                   "serving/train.manifest", TRAIN_IMAGES)
    test = _slice(data_dir, stage_manifest(data_dir, "clothing10", ("test.manifest",),
                                           "serving/all-test.manifest"),
                  "serving/test.manifest", TRAIN_IMAGES // 4)
    with Client(gateway.address) as client:
        project = client.create_project(project_name="bench-serving").project_arn
        for kind, staged in (("TRAIN", train), ("TEST", test)):
            arn = client.create_dataset(project_arn=project, dataset_type=kind,
                                        dataset_source=staged.source).dataset_arn
            client.wait_dataset_created(arn, delay=0.5, max_attempts=1200)
        started = time.perf_counter()
        version = client.create_project_version(
            project_arn=project, version_name="v1",
            output_config={"S3Bucket": "bench-output", "S3KeyPrefix": "serving"},
        ).project_version_arn
        for _ in client.watch_project_version(version):
            pass
        (desc,) = client.describe_project_versions(
            project_arn=project, version_names=["v1"]).project_version_descriptions
        if desc.status != pb.PROJECT_VERSION_STATUS_TRAINING_COMPLETED:
            raise SystemExit(f"training failed: {desc.status_message}")
        print(f"  trained {len(train.lines)} images in {time.perf_counter() - started:.0f} s; "
              f"test F1 {desc.evaluation_result.f1_score:.3f}")
        archive = client.export_project_version(version, root / "model.zip")
    model_dir = root / "model"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(model_dir)
    return project, version, next(model_dir.rglob("model.json")).parent


def test_images() -> list[bytes]:
    from bench.training_data import dataset_folder

    folder = dataset_folder("clothing10")
    lines = [json.loads(x) for x in (folder / "test.manifest").read_text().splitlines() if x]
    return [(folder / line["source-ref"]).read_bytes() for line in lines[:IMAGES]]


# -- the ways to run it --------------------------------------------------------------------


def direct_onnxruntime(model_dir: Path) -> Callable[[bytes], Any]:
    """The gateway's per-image work in this process; one session (one thread) per thread."""
    card = ModelCard.load(model_dir)
    names = pipeline.output_names(card)
    local = threading.local()

    def call(data: bytes) -> Any:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = open_session(model_dir / card.onnx_file, threads=1)
        rgb = open_rgb(data)
        outputs = session.run(names, pipeline.prepare(card, rgb))
        return pipeline.interpret(card, dict(zip(names, outputs, strict=True)), rgb.size)

    return call


def through_gateway(address: str, arn: str) -> tuple[Callable[[bytes], Any], Callable[[], None]]:
    local = threading.local()
    clients: list[Client] = []

    def call(data: bytes) -> Any:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(address)
            clients.append(client)
        return client.detect_custom_labels(project_version_arn=arn, image={"Bytes": data})

    def close() -> None:
        for client in clients:
            client.close()

    return call, close


def direct_tritonclient(url: str, model: str, model_dir: Path) -> Callable[[bytes], Any]:
    from tritonclient.grpc import InferenceServerClient, InferInput, InferRequestedOutput

    card = ModelCard.load(model_dir)
    names = pipeline.output_names(card)
    local = threading.local()

    def call(data: bytes) -> Any:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = InferenceServerClient(url)
        rgb = open_rgb(data)
        inputs = []
        for name, array in pipeline.prepare(card, rgb).items():
            item = InferInput(name, list(array.shape), "FP32")
            item.set_data_from_numpy(np.ascontiguousarray(array, np.float32))
            inputs.append(item)
        result = client.infer(model, inputs, outputs=[InferRequestedOutput(n) for n in names])
        return pipeline.interpret(card, {n: result.as_numpy(n) for n in names}, rgb.size)

    return call


# -- gateway helpers -----------------------------------------------------------------------


def _status(client: Client, project: str) -> pb.ProjectVersionDescription:
    (desc,) = client.describe_project_versions(
        project_arn=project, version_names=["v1"]).project_version_descriptions
    return desc


def start_model(client: Client, project: str, arn: str, units: int) -> float:
    """Seconds from StartProjectVersion to RUNNING (polled every 10 ms)."""
    started = time.perf_counter()
    client.start_project_version(project_version_arn=arn, min_inference_units=units)
    while True:
        desc = _status(client, project)
        if desc.status == RUNNING:
            return time.perf_counter() - started
        if desc.status != pb.PROJECT_VERSION_STATUS_STARTING:
            raise SystemExit(f"the model did not start: {desc.status_message}")
        time.sleep(0.01)


def stop_model(client: Client, project: str, arn: str) -> None:
    client.stop_project_version(project_version_arn=arn)
    while _status(client, project).status != pb.PROJECT_VERSION_STATUS_STOPPED:
        time.sleep(0.02)


def _config(path: Path, lines: list[str]) -> Path:
    path.write_text("[backends.local]\n" + "".join(line + "\n" for line in lines))
    return path


@contextmanager
def triton_server(workdir: Path) -> Iterator[Any]:
    """Our own tritonserver, hosted on an event loop in a background thread."""
    from labelgate.backends.local.serving.triton_server import TritonServer

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = TritonServer(workdir)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(120)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


# -- the run -------------------------------------------------------------------------------


def main() -> None:
    print(f"serving: {os.cpu_count()} CPUs, {REQUESTS} requests per throughput figure")
    images = test_images()
    print(f"  {len(images)} clothing10 test images, {statistics.mean(map(len, images)) / 1e3:.0f}"
          " kB mean")
    with tempfile.TemporaryDirectory(prefix="labelgate-bench-serving-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        config = _config(root / "embedded.toml", ["training_time_budget_seconds = 30",
                                                   "training_seed = 0"])
        with gateway_process(data_dir, config=config, log=root / "gateway.log") as gateway:
            project, arn, model_dir = train_model(gateway, root)
            card = ModelCard.load(model_dir)
            print(f"  model: {card.backbone} {card.task}, {len(card.labels)} labels, input "
                  f"{card.input.width}x{card.input.height}")

            direct = direct_onnxruntime(model_dir)
            base1 = measure("direct ONNX Runtime, 1 stream", direct, images, 1)
            base2 = measure("direct ONNX Runtime, 2 streams", direct, images, 2)

            with Client(gateway.address) as client:
                starts = []
                for _ in range(3):
                    starts.append(start_model(client, project, arn, 1))
                    stop_model(client, project, arn)
                start_s = statistics.median(starts)
                start_model(client, project, arn, 1)
                call, close = through_gateway(gateway.address, arn)
                gw1 = measure("gateway, embedded, 1 unit, 1 stream", call, images, 1)
                gw1b = measure("gateway, embedded, 1 unit, 2 streams", call, images, 2)
                capacity = _status(client, project).inference_units_status
                stop_model(client, project, arn)
                start_model(client, project, arn, 2)
                gw2 = measure("gateway, embedded, 2 units, 4 streams", call, images, 4)
                close()
                stop_model(client, project, arn)

        print(f"  StartProjectVersion -> RUNNING (embedded, 1 unit): median {start_s:.2f} s "
              f"of {', '.join(f'{s:.2f}' for s in starts)} (goal <= 2 s); one unit's "
              f"calibrated capacity {capacity.inference_unit_capacity:.1f} img/s")
        print(base1.row())
        print(gw1.row(base1))
        print(gw1b.row(base1))
        print(base2.row())
        print(gw2.row(base2))
        print(f"  ratio gateway/direct at 1 unit: {gw1.images_per_s / base1.images_per_s:.2f}x "
              f"one stream, {gw1b.images_per_s / base1.images_per_s:.2f}x two streams "
              "(goal >= 0.85x)")
        print(f"  2 units vs 1 unit through the gateway: "
              f"{gw2.images_per_s / gw1b.images_per_s:.2f}x")

        run_triton(root, data_dir, project, arn, model_dir, images)


def run_triton(root: Path, data_dir: Path, project: str, arn: str, model_dir: Path,
               images: list[bytes]) -> None:
    from labelgate.backends.local.serving.runtime import RuntimeFailure
    from labelgate.backends.local.serving.triton_server import find_install

    try:
        find_install()
    except RuntimeFailure as exc:
        print(f"  triton: skipped ({exc})")
        return
    with triton_server(root / "triton") as server:
        config = _config(root / "triton.toml", [
            'runtime = "triton"', f'triton_url = "{server.url}"',
            "triton_shared_repository = true", f'triton_repository = "{server.repository}"',
            'triton_flavour = "python"',
        ])
        with gateway_process(data_dir, config=config, log=root / "gateway-triton.log") as gw, \
                Client(gw.address) as client:
            start_s = start_model(client, project, arn, 1)
            from tritonclient.grpc import InferenceServerClient

            index = InferenceServerClient(server.url).get_model_repository_index()
            (model,) = [m.name for m in index.models if m.state == "READY"]
            call, close = through_gateway(gw.address, arn)
            gw1 = measure("gateway, triton, 1 unit, 1 stream", call, images, 1)
            gw1b = measure("gateway, triton, 1 unit, 2 streams", call, images, 2)
            close()
            direct = direct_tritonclient(server.url, model, model_dir)
            base1 = measure("direct tritonclient, 1 stream", direct, images, 1)
            base1b = measure("direct tritonclient, 2 streams", direct, images, 2)
            stop_model(client, project, arn)
    print(f"  StartProjectVersion -> RUNNING (triton, python backend, 1 unit): {start_s:.2f} s")
    print(base1.row())
    print(gw1.row(base1))
    print(base1b.row())
    print(gw1b.row(base1b))
    print(f"  ratio gateway/direct tritonclient: {gw1.images_per_s / base1.images_per_s:.2f}x "
          f"one stream, {gw1b.images_per_s / base1b.images_per_s:.2f}x two streams")


if __name__ == "__main__":
    main()
