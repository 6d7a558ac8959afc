"""Runtime `triton` against the real `tritonserver` of the PyPI wheel `nvidia-pytriton`.

One server for the module (started by the runtime itself, loopback ports it picks), tiny
real ONNX models built with onnx.helper; every output is compared with ONNX Runtime run
in-process. The server tests run in file order and share the module's server and models
(load → infer → scale → unload → server death). Skipped only when the Triton environment
(`make triton-venv`) is absent and LABELGATE_REQUIRE_TRITON is not set (`make test` sets it,
so CI fails instead of skipping).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from labelgate.backends.local.serving.runtime import Deployment, RuntimeFailure
from labelgate.backends.local.serving.triton import TritonRuntime
from labelgate.backends.local.serving.triton_repository import EntrySettings, build_entry
from labelgate.backends.local.serving.triton_server import find_install
from tests.serving_triton import models

MAX_BATCH = 4  # small, so a batch of 5 exercises the runtime's chunking


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"cls": models.classifier(root / "cls"), "det": models.detector(root / "det")}


# -- the repository entry (no server) ---------------------------------------------------
def _parse(text: str) -> mc.ModelConfig:
    return text_format.Parse(text, mc.ModelConfig())


def test_onnxruntime_flavour_config_text(model_dirs):
    entry = build_entry(
        Deployment("cls-v1", model_dirs["cls"], 3),
        EntrySettings(flavour="onnxruntime", max_batch_size=16),
    )
    text = entry.config_pbtxt()
    assert 'platform: "onnxruntime_onnx"' in text and "backend" not in text
    cfg = _parse(text)
    assert cfg.name == "cls-v1" and cfg.max_batch_size == 16
    assert [(i.name, mc.DataType.Name(i.data_type), list(i.dims)) for i in cfg.input] == [
        ("image", "TYPE_FP32", [3, 8, 8])
    ]
    assert [(o.name, list(o.dims)) for o in cfg.output] == [("scores", [4])]
    assert [(g.count, g.kind) for g in cfg.instance_group] == [(3, mc.ModelInstanceGroup.KIND_CPU)]
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 500
    assert cfg.parameters["intra_op_thread_count"].string_value == "1"
    assert _parse(entry.config_pbtxt(units=5)).instance_group[0].count == 5


def test_detector_entry_has_no_batch_axis(model_dirs, tmp_path):
    entry = build_entry(
        Deployment("det-v1", model_dirs["det"], 1, threads_per_unit=2),
        EntrySettings(flavour="python"),
    )
    cfg = _parse(entry.config_pbtxt())
    assert cfg.backend == "python" and cfg.max_batch_size == 0
    assert not cfg.HasField("dynamic_batching")  # Triton batches only along a batch axis
    assert list(cfg.input[0].dims) == [1, 3, 8, 8]
    assert [(o.name, mc.DataType.Name(o.data_type), list(o.dims)) for o in cfg.output] == [
        ("boxes", "TYPE_FP32", [-1, 4]),
        ("scores", "TYPE_FP32", [-1]),
        ("labels", "TYPE_INT64", [-1]),
    ]
    assert cfg.parameters["intra_op_threads"].string_value == "2"
    folder = entry.write(tmp_path)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "1",
        "1/model.onnx",
        "1/model.py",
        "config.pbtxt",
    ]
    assert set(entry.files()) == {"file:1/model.onnx", "file:1/model.py"}


def test_bad_bundle_is_a_runtime_failure(tmp_path):
    with pytest.raises(RuntimeFailure, match=r"model\.json"):
        build_entry(Deployment("x", tmp_path, 1), EntrySettings())


def test_from_config_and_missing_server(tmp_path):
    rt = TritonRuntime.from_config(
        {"runtime": "triton", "triton_max_batch_size": "8", "triton_venv": str(tmp_path / "no")},
        data_dir=tmp_path,
    )
    assert rt.server is not None and rt.settings.flavour == "python"
    assert rt.settings.max_batch_size == 8 and rt.repository == tmp_path / "triton/repository"
    remote = TritonRuntime.from_config({"triton_url": "10.0.0.5:8001"}, data_dir=tmp_path)
    assert remote.server is None and remote.settings.flavour == "onnxruntime"
    with pytest.raises(ValueError, match="triton_bogus"):
        TritonRuntime.from_config({"triton_bogus": 1}, data_dir=tmp_path)
    with pytest.raises(RuntimeFailure, match="make triton-venv"):
        find_install(tmp_path / "no")


# -- the real server ----------------------------------------------------------------------
def _install_or_skip():
    try:
        return find_install()
    except RuntimeFailure as exc:
        if os.environ.get("LABELGATE_REQUIRE_TRITON"):
            raise
        pytest.skip(f"Triton environment not available: {exc}")


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def runtime(loop, tmp_path_factory):
    _install_or_skip()
    downs: list[str] = []
    rt = TritonRuntime(
        tmp_path_factory.mktemp("data"), max_batch_size=MAX_BATCH, on_server_down=downs.append
    )
    rt.downs = downs  # type: ignore[attr-defined]
    yield rt
    pid = rt.server.pid
    loop.run_until_complete(rt.close())
    if pid is not None:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the server and its stubs are gone


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 8, 8)).astype(np.float32)


def test_classifier_matches_onnxruntime(loop, runtime, model_dirs):
    started = time.monotonic()
    loop.run_until_complete(runtime.load(Deployment("cls-v1", model_dirs["cls"], 1)))
    assert time.monotonic() - started < 60
    assert runtime.server.url.startswith("127.0.0.1:")
    x = _images(5)  # > MAX_BATCH: two requests, concatenated back
    got = loop.run_until_complete(runtime.infer("cls-v1", {"image": x}))
    want = models.run_ort(model_dirs["cls"], {"image": x})
    assert set(got) == {"scores"} and got["scores"].dtype == np.float32
    assert got["scores"].shape == (5, 4)
    np.testing.assert_allclose(got["scores"], want["scores"], rtol=0, atol=1e-6)


def test_detector_matches_onnxruntime(loop, runtime, model_dirs):
    loop.run_until_complete(runtime.load(Deployment("det-v1", model_dirs["det"], 1)))
    for seed in (1, 2):
        x = _images(1, seed)
        got = loop.run_until_complete(runtime.infer("det-v1", {"image": x}))
        want = models.run_ort(model_dirs["det"], {"image": x})
        assert got["labels"].dtype == np.int64 and got["boxes"].shape[1] == 4
        np.testing.assert_array_equal(got["labels"], want["labels"])
        np.testing.assert_allclose(got["boxes"], want["boxes"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=0, atol=1e-6)


def test_detection_through_the_shared_pipeline(loop, runtime, model_dirs):
    """Image → shared pre-processing → Triton → shared post-processing: the same boxes as
    the graph run in-process (what the embedded runtime returns)."""
    from PIL import Image

    from labelgate.backends.local.inference import pipeline
    from labelgate.backends.local.inference.card import ModelCard

    card = ModelCard.load(model_dirs["det"])
    pixels = np.random.default_rng(5).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    inputs = pipeline.prepare(card, image)
    raw = loop.run_until_complete(runtime.infer("det-v1", inputs))
    got = pipeline.interpret(card, raw, image.size)
    want = pipeline.interpret(card, models.run_ort(model_dirs["det"], inputs), image.size)
    assert got.detections and len(got.detections) == len(want.detections)
    for a, b in zip(got.detections, want.detections, strict=True):
        assert a.label == b.label
        np.testing.assert_allclose(
            [a.confidence, a.left, a.top, a.width, a.height],
            [b.confidence, b.left, b.top, b.width, b.height],
            rtol=0,
            atol=1e-6,
        )


def test_scale_one_to_two_units(loop, runtime, model_dirs):
    loop.run_until_complete(runtime.scale("cls-v1", 2))
    assert runtime.units("cls-v1") == 2
    cfg = loop.run_until_complete(runtime.model_config("cls-v1"))
    assert cfg["instance_group"][0]["count"] == 2
    on_disk = _parse((runtime.repository / "cls-v1" / "config.pbtxt").read_text())
    assert on_disk.instance_group[0].count == 2  # a restarted server loads 2 units too

    async def burst():  # concurrent requests: dynamic batching across two instances
        xs = [_images(1, s) for s in range(6)]
        outs = await asyncio.gather(*(runtime.infer("cls-v1", {"image": x}) for x in xs))
        return xs, outs

    xs, outs = loop.run_until_complete(burst())
    for x, out in zip(xs, outs, strict=True):
        want = models.run_ort(model_dirs["cls"], {"image": x})["scores"]
        np.testing.assert_allclose(out["scores"], want, rtol=0, atol=1e-6)


def test_external_server_by_url_uploads_files(loop, runtime, model_dirs, tmp_path):
    """`triton_url`: a server that does not share our folder gets config + files."""
    other = TritonRuntime(tmp_path, url=runtime.server.url, flavour="python")
    assert other.server is None
    try:
        loop.run_until_complete(other.load(Deployment("det-remote", model_dirs["det"], 1)))
        x = _images(1, 3)
        got = loop.run_until_complete(other.infer("det-remote", {"image": x}))
        want = models.run_ort(model_dirs["det"], {"image": x})
        np.testing.assert_allclose(got["boxes"], want["boxes"], rtol=0, atol=1e-6)
    finally:
        loop.run_until_complete(other.close())  # unloads what it loaded from the server
    assert loop.run_until_complete(_ready(runtime, "det-remote")) is False


async def _ready(runtime: TritonRuntime, name: str) -> bool:
    client = await runtime._get_client()
    return await client.is_model_ready(name)


def test_load_failure_is_reported(loop, runtime, model_dirs, tmp_path):
    """The wheel's server has no onnxruntime backend: Triton's refusal comes back whole."""
    other = TritonRuntime(tmp_path, url=runtime.server.url, flavour="onnxruntime")
    try:
        with pytest.raises(RuntimeFailure, match=r"could not load.*onnxruntime"):
            loop.run_until_complete(other.load(Deployment("cls-ort", model_dirs["cls"], 1)))
        assert not (other.repository / "cls-ort").exists()
        with pytest.raises(RuntimeFailure, match="not loaded"):
            loop.run_until_complete(other.infer("cls-ort", {"image": _images(1)}))
    finally:
        loop.run_until_complete(other.close())


def test_unload(loop, runtime):
    loop.run_until_complete(runtime.unload("det-v1"))
    assert loop.run_until_complete(_ready(runtime, "det-v1")) is False
    assert not (runtime.repository / "det-v1").exists()
    with pytest.raises(RuntimeFailure, match="not loaded"):
        loop.run_until_complete(runtime.infer("det-v1", {"image": _images(1)}))
    loop.run_until_complete(runtime.unload("det-v1"))  # unloading twice is harmless


def _wait(loop, predicate, timeout: float = 60.0) -> None:
    async def poll():
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.1)

    loop.run_until_complete(poll())


def test_server_death_restarts_then_reports(loop, runtime, model_dirs):
    server = runtime.server
    first = server.pid
    os.kill(first, signal.SIGKILL)  # our own child: the runtime started it
    _wait(loop, lambda: server.restarts == 1 and server.running and server.pid != first)
    x = _images(2, 9)

    async def infer_when_reloaded():
        deadline = time.monotonic() + 60
        while True:
            try:
                return await runtime.infer("cls-v1", {"image": x})
            except RuntimeFailure:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)

    got = loop.run_until_complete(infer_when_reloaded())
    want = models.run_ort(model_dirs["cls"], {"image": x})
    np.testing.assert_allclose(got["scores"], want["scores"], rtol=0, atol=1e-6)
    cfg = loop.run_until_complete(runtime.model_config("cls-v1"))
    assert cfg["instance_group"][0]["count"] == 2  # came back with its units

    server.max_restarts = 1  # the budget is spent: the next death is reported
    os.kill(server.pid, signal.SIGKILL)
    _wait(loop, lambda: server.failure is not None)
    assert "exited" in server.failure and "restart limit" in server.failure
    assert runtime.downs and "restart limit" in runtime.downs[-1]
    with pytest.raises(RuntimeFailure, match="Triton server is not available"):
        loop.run_until_complete(runtime.infer("cls-v1", {"image": x}))


def test_gateway_restart_replaces_an_orphaned_server(loop, model_dirs, tmp_path):
    """A gateway that died left its server running: the next one on the same data dir stops
    it and serves the same deployment from a server of its own."""
    _install_or_skip()
    first = TritonRuntime(tmp_path)
    second = TritonRuntime(tmp_path)
    try:
        loop.run_until_complete(first.load(Deployment("cls-v1", model_dirs["cls"], 1)))
        orphan = first.server.pid
        first.server._stopping = True  # as if its gateway had died: nobody watches it now
        loop.run_until_complete(second.load(Deployment("cls-v1", model_dirs["cls"], 1)))
        assert second.server.pid != orphan
        _wait(loop, lambda: first.server._proc.returncode is not None, 20)
        x = _images(2, 4)
        got = loop.run_until_complete(second.infer("cls-v1", {"image": x}))
        want = models.run_ort(model_dirs["cls"], {"image": x})
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=0, atol=1e-6)
    finally:
        loop.run_until_complete(second.close())
        loop.run_until_complete(first.close())
