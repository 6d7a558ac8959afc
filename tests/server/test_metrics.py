"""Prometheus /metrics: requests and latency per RPC, backend and status code."""

from __future__ import annotations

import urllib.request

import grpc
import pytest

from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.server.conftest import RAISE_PREFIX


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return response.read().decode()


def test_requests_are_counted_by_method_backend_and_code(backends, stub_for):
    with running_gateway(backends=backends, default_backend="a") as gw:
        stub = stub_for(gw.address)
        for _ in range(3):
            stub.DescribeProjects(pb.DescribeProjectsRequest(), timeout=5)
        with pytest.raises(grpc.RpcError):
            stub.CreateProject(pb.CreateProjectRequest(
                project_name=RAISE_PREFIX + "ResourceInUseException"), timeout=5)
        with pytest.raises(grpc.RpcError):
            stub.CreateProject(pb.CreateProjectRequest(project_name="a b"), timeout=5)
        text = scrape(gw.metrics_url)
    assert ('labelgate_requests_total{backend="a",code="OK",method="DescribeProjects"} 3.0'
            in text)
    assert ('labelgate_requests_total{backend="a",code="FAILED_PRECONDITION",'
            'method="CreateProject"} 1.0' in text)
    # Rejected before routing: no backend was involved.
    assert ('labelgate_requests_total{backend="none",code="INVALID_ARGUMENT",'
            'method="CreateProject"} 1.0' in text)
    assert ('labelgate_request_duration_seconds_count{backend="a",method="DescribeProjects"} 3.0'
            in text)
    assert 'labelgate_build_info{python="' in text


def test_each_gateway_has_its_own_registry(backends):
    with running_gateway(backends=backends, default_backend="a") as one, \
            running_gateway(backends=backends, default_backend="a") as two:
        assert one.metrics_port != two.metrics_port
        with grpc.insecure_channel(one.address) as channel:
            channel.unary_unary(
                "/labelgate.v1.CustomLabels/DescribeProjects",
                request_serializer=pb.DescribeProjectsRequest.SerializeToString,
                response_deserializer=pb.DescribeProjectsResponse.FromString,
            )(pb.DescribeProjectsRequest(), timeout=5)
        assert 'method="DescribeProjects"' in scrape(one.metrics_url)
        assert 'method="DescribeProjects"' not in scrape(two.metrics_url)


def test_metrics_port_zero_turns_the_endpoint_off(backends):
    with running_gateway(backends=backends, default_backend="a", metrics_port=0) as gw:
        assert gw.metrics_port is None


def test_backends_can_add_series_to_the_gateway_registry(backends):
    from prometheus_client import Counter

    class Metered(type(backends["a"])):
        def register_metrics(self, registry) -> None:
            self.detects = Counter("labelgate_test_detects", "test", registry=registry)

    backends["a"] = Metered("a")
    with running_gateway(backends=backends, default_backend="a") as gw:
        backends["a"].detects.inc()
        assert "labelgate_test_detects_total 1.0" in scrape(gw.metrics_url)
