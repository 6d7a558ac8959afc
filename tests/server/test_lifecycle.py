"""Health, reflection, start/stop order: what orchestrators and grpcurl see."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from labelgate.server.app import Gateway
from labelgate.server.config import Settings
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from labelgate.v1 import custom_labels_pb2_grpc as pb_grpc
from tests.server.conftest import RecordingBackend, failure

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "labelgate.v1.CustomLabels"


@pytest.fixture
def gateway(backends):
    with running_gateway(backends=backends, default_backend="a") as gw:
        yield gw


def health_check(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_health_is_serving_after_start(gateway, backends):
    assert health_check(gateway.address) == SERVING
    assert health_check(gateway.address, SERVICE) == SERVING
    assert all(b.started.is_set() for b in backends.values())


def test_health_turns_not_serving_when_shutdown_begins(gateway):
    with grpc.insecure_channel(gateway.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=10)
        assert next(watch).status == SERVING
        stopping = asyncio.run_coroutine_threadsafe(gateway.gateway.stop(5), gateway.loop)
        assert next(watch).status == NOT_SERVING
        watch.cancel()  # a watcher must not hold the grace period open
        stopping.result(10)


def test_stop_stops_backends(backends):
    with running_gateway(backends=backends, default_backend="a"):
        pass
    assert all(b.stopped for b in backends.values())


def test_reflection_lists_the_services(gateway):
    with grpc.insecure_channel(gateway.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [response] = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in response.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_not_serving_until_every_backend_started(backends):
    """Bound first, NOT_SERVING and calls refused while a backend starts, then SERVING."""

    async def scenario() -> None:
        backends["b"].gate = asyncio.Event()
        settings = Settings(port=0, metrics_port=0, default_backend="a")
        gateway = Gateway(settings, backends=backends)
        starting = asyncio.create_task(gateway.start())
        await asyncio.wait_for(backends["a"].started.wait(), 5)  # port is bound before this
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = health_pb2.HealthCheckRequest(service=SERVICE)
            assert (await health.Check(check, timeout=5)).status == NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await pb_grpc.CustomLabelsStub(channel).DescribeProjects(
                    pb.DescribeProjectsRequest(), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            backends["b"].gate.set()
            await starting
            assert (await health.Check(check, timeout=5)).status == SERVING
        await gateway.stop(0)

    asyncio.run(scenario())


def test_failed_backend_start_surfaces_and_stops_what_started(backends):
    class Broken(RecordingBackend):
        async def start(self) -> None:
            raise RuntimeError("database unreachable")

    backends["b"] = Broken("b")
    with pytest.raises(RuntimeError, match="database unreachable"), \
            running_gateway(backends=backends, default_backend="a"):
        pass  # pragma: no cover
    assert backends["a"].stopped  # what had started is stopped again


def test_busy_port_is_a_clear_error(backends):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"), \
                running_gateway(backends=backends, default_backend="a", port=port):
            pass  # pragma: no cover


def test_loads_configured_backends_through_entry_points(tmp_path):
    """The real `local` backend behind a real gateway: create, list, delete a project."""
    with running_gateway(data_dir=tmp_path) as gw, grpc.insecure_channel(gw.address) as ch:
        stub = pb_grpc.CustomLabelsStub(ch)
        arn = stub.CreateProject(pb.CreateProjectRequest(project_name="p1"), timeout=10)
        assert arn.project_arn.startswith("arn:labelgate:rekognition:local:")
        listed = stub.DescribeProjects(pb.DescribeProjectsRequest(), timeout=10)
        assert [p.project_arn for p in listed.project_descriptions] == [arn.project_arn]
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateProject(pb.CreateProjectRequest(project_name="p1"), timeout=10)
        assert failure(info.value).reason == "ResourceInUseException"


def test_start_that_hangs_times_out_and_is_cancelled(backends):
    backends["b"].gate = asyncio.Event()  # never set: b's start() never returns
    with pytest.raises(TimeoutError, match="did not start"), \
            running_gateway(backends=backends, default_backend="a", start_timeout=0.3):
        pass  # pragma: no cover
    assert backends["a"].stopped  # cancellation still stopped what had started
