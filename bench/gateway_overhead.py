"""What the gateway costs per call: the same requests through gRPC vs in-process.

Baseline: the local backend's methods awaited directly (no transport, no validation).
Measured: the same requests through `labelgate.client.Client` -> gRPC on loopback ->
gateway (interceptor, AWS-model validation, routing) -> the same backend code. Both run on
this machine in the same process run, over a dataset of ENTRIES entries.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labelgate.backends.base import RequestContext, handler_table
from labelgate.backends.local import LocalBackend
from labelgate.client import Client
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb

ENTRIES = 5_000
CALLS = 300
CTX = RequestContext(request_id="bench", operation="bench")


def _requests(dataset_arn: str, project_name: str) -> dict[str, object]:
    return {
        "DescribeProjects": pb.DescribeProjectsRequest(project_names=[project_name]),
        "DescribeDataset": pb.DescribeDatasetRequest(dataset_arn=dataset_arn),
        "ListDatasetEntries(100)": pb.ListDatasetEntriesRequest(dataset_arn=dataset_arn,
                                                                max_results=100),
        "ListDatasetEntries(label)": pb.ListDatasetEntriesRequest(
            dataset_arn=dataset_arn, contains_labels=["label03"], max_results=20),
    }


def _timed(call: Callable[[], object], n: int) -> list[float]:
    call()  # warm caches and connections
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def _seed(data_dir: Path) -> tuple[str, str]:
    from bench.manifest_import import write_dataset

    # Real images: datasets validate every source-ref (training.md ERROR_INVALID_IMAGE).
    manifest = write_dataset(data_dir, ENTRIES)
    return "bench-project", manifest.name


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_gateway(data_dir=Path(tmp)) as gw, \
            Client(gw.address) as client:
        project_name, key = _seed(Path(tmp))
        project = client.create_project(project_name=project_name).project_arn
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": "bench", "Name": key}}}
        dataset = client.create_dataset(project_arn=project, dataset_type="TRAIN",
                                        dataset_source=source).dataset_arn
        client.wait_dataset_created(dataset, delay=0.2, max_attempts=600)
        requests = _requests(dataset, project_name)

        # Baseline: a second LocalBackend over the same store, called in-process.
        backend = LocalBackend.from_config({}, data_dir=Path(tmp))
        loop = asyncio.new_event_loop()
        loop.run_until_complete(backend.start())
        stub = client._stub  # the raw stub: protos in, protos out, like the backend
        print(f"gateway_overhead: {ENTRIES} entries, {CALLS} calls each, median per call")
        print(f"{'request':28s} {'in-process':>12s} {'via gRPC':>12s} {'ratio':>7s}")
        try:
            for name, request in requests.items():
                method = handler_table(backend)[name.split("(")[0]]
                direct = _timed(lambda m=method, r=request: loop.run_until_complete(m(r, CTX)),
                                CALLS)
                rpc = getattr(stub, name.split("(")[0])
                remote = _timed(lambda f=rpc, r=request: f(r), CALLS)
                a, b = statistics.median(direct), statistics.median(remote)
                print(f"{name:28s} {a * 1e3:10.2f}ms {b * 1e3:10.2f}ms {b / a:6.2f}x")
        finally:
            loop.run_until_complete(backend.stop())
            loop.close()


if __name__ == "__main__":
    main()
