"""The contract between the gateway and a backend.

A backend implements one async method per RPC (the snake_case of the RPC name): proto
request in, proto response out, errors raised as `labelgate.errors` classes. Backends never
see gRPC types; the gateway's router calls them with a `RequestContext`.

Backends register in the entry-point group `labelgate.backends`; each entry point names a
class with a `from_config(config, *, data_dir)` factory.

Optional hook: a backend with `register_metrics(registry)` gets the gateway's Prometheus
`CollectorRegistry` before `start()`, so its own series (detect latency, inference units)
appear on the same /metrics page.

The labelgate extensions (server-streaming RPCs, `shapes.STREAMING_OPERATIONS`) are plain
methods that return an async iterator of response messages; errors may be raised when it is
first iterated.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labelgate.errors import NotImplementedOperation
from labelgate.v1 import custom_labels_pb2 as pb

BACKEND_ENTRY_POINT_GROUP = "labelgate.backends"


@dataclass(frozen=True)
class RequestContext:
    """What a backend may know about the call: never transport objects."""

    request_id: str
    operation: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """One async method per Custom Labels operation, plus lifecycle and ARN ownership."""

    name: str

    async def start(self) -> None:
        """Open stores, resume background work. Health turns SERVING after every start()."""

    async def stop(self) -> None:
        """Finish or checkpoint background work and release resources."""

    def owns_arn(self, arn: str) -> bool:
        """True when `arn` names a resource this backend holds (routing by ARN)."""

    async def create_project(
        self, request: pb.CreateProjectRequest, context: RequestContext
    ) -> pb.CreateProjectResponse: ...
    async def describe_projects(
        self, request: pb.DescribeProjectsRequest, context: RequestContext
    ) -> pb.DescribeProjectsResponse: ...
    async def delete_project(
        self, request: pb.DeleteProjectRequest, context: RequestContext
    ) -> pb.DeleteProjectResponse: ...
    async def create_project_version(
        self, request: pb.CreateProjectVersionRequest, context: RequestContext
    ) -> pb.CreateProjectVersionResponse: ...
    async def describe_project_versions(
        self, request: pb.DescribeProjectVersionsRequest, context: RequestContext
    ) -> pb.DescribeProjectVersionsResponse: ...
    async def start_project_version(
        self, request: pb.StartProjectVersionRequest, context: RequestContext
    ) -> pb.StartProjectVersionResponse: ...
    async def stop_project_version(
        self, request: pb.StopProjectVersionRequest, context: RequestContext
    ) -> pb.StopProjectVersionResponse: ...
    async def delete_project_version(
        self, request: pb.DeleteProjectVersionRequest, context: RequestContext
    ) -> pb.DeleteProjectVersionResponse: ...
    async def copy_project_version(
        self, request: pb.CopyProjectVersionRequest, context: RequestContext
    ) -> pb.CopyProjectVersionResponse: ...
    async def create_dataset(
        self, request: pb.CreateDatasetRequest, context: RequestContext
    ) -> pb.CreateDatasetResponse: ...
    async def describe_dataset(
        self, request: pb.DescribeDatasetRequest, context: RequestContext
    ) -> pb.DescribeDatasetResponse: ...
    async def delete_dataset(
        self, request: pb.DeleteDatasetRequest, context: RequestContext
    ) -> pb.DeleteDatasetResponse: ...
    async def list_dataset_entries(
        self, request: pb.ListDatasetEntriesRequest, context: RequestContext
    ) -> pb.ListDatasetEntriesResponse: ...
    async def list_dataset_labels(
        self, request: pb.ListDatasetLabelsRequest, context: RequestContext
    ) -> pb.ListDatasetLabelsResponse: ...
    async def update_dataset_entries(
        self, request: pb.UpdateDatasetEntriesRequest, context: RequestContext
    ) -> pb.UpdateDatasetEntriesResponse: ...
    async def distribute_dataset_entries(
        self, request: pb.DistributeDatasetEntriesRequest, context: RequestContext
    ) -> pb.DistributeDatasetEntriesResponse: ...
    async def detect_custom_labels(
        self, request: pb.DetectCustomLabelsRequest, context: RequestContext
    ) -> pb.DetectCustomLabelsResponse: ...
    async def put_project_policy(
        self, request: pb.PutProjectPolicyRequest, context: RequestContext
    ) -> pb.PutProjectPolicyResponse: ...
    async def list_project_policies(
        self, request: pb.ListProjectPoliciesRequest, context: RequestContext
    ) -> pb.ListProjectPoliciesResponse: ...
    async def delete_project_policy(
        self, request: pb.DeleteProjectPolicyRequest, context: RequestContext
    ) -> pb.DeleteProjectPolicyResponse: ...
    async def tag_resource(
        self, request: pb.TagResourceRequest, context: RequestContext
    ) -> pb.TagResourceResponse: ...
    async def untag_resource(
        self, request: pb.UntagResourceRequest, context: RequestContext
    ) -> pb.UntagResourceResponse: ...
    async def list_tags_for_resource(
        self, request: pb.ListTagsForResourceRequest, context: RequestContext
    ) -> pb.ListTagsForResourceResponse: ...
    # Extensions (server streaming).
    def watch_project_version(
        self, request: pb.WatchProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.WatchProjectVersionResponse]: ...
    def export_project_version(
        self, request: pb.ExportProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.ExportProjectVersionResponse]: ...
    def get_inference_usage(
        self, request: pb.GetInferenceUsageRequest, context: RequestContext
    ) -> AsyncIterator[pb.GetInferenceUsageResponse]: ...


class BackendBase:
    """Defaults for a backend: every operation answers UNIMPLEMENTED with a clear message."""

    name = "base"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def owns_arn(self, arn: str) -> bool:
        return False

    def not_implemented(self, operation: str) -> NotImplementedOperation:
        return NotImplementedOperation(
            f"{operation} is not implemented by the {self.name!r} backend yet"
        )

    async def create_project(
        self, request: pb.CreateProjectRequest, context: RequestContext
    ) -> pb.CreateProjectResponse:
        raise self.not_implemented("CreateProject")

    async def describe_projects(
        self, request: pb.DescribeProjectsRequest, context: RequestContext
    ) -> pb.DescribeProjectsResponse:
        raise self.not_implemented("DescribeProjects")

    async def delete_project(
        self, request: pb.DeleteProjectRequest, context: RequestContext
    ) -> pb.DeleteProjectResponse:
        raise self.not_implemented("DeleteProject")

    async def create_project_version(
        self, request: pb.CreateProjectVersionRequest, context: RequestContext
    ) -> pb.CreateProjectVersionResponse:
        raise self.not_implemented("CreateProjectVersion")

    async def describe_project_versions(
        self, request: pb.DescribeProjectVersionsRequest, context: RequestContext
    ) -> pb.DescribeProjectVersionsResponse:
        raise self.not_implemented("DescribeProjectVersions")

    async def start_project_version(
        self, request: pb.StartProjectVersionRequest, context: RequestContext
    ) -> pb.StartProjectVersionResponse:
        raise self.not_implemented("StartProjectVersion")

    async def stop_project_version(
        self, request: pb.StopProjectVersionRequest, context: RequestContext
    ) -> pb.StopProjectVersionResponse:
        raise self.not_implemented("StopProjectVersion")

    async def delete_project_version(
        self, request: pb.DeleteProjectVersionRequest, context: RequestContext
    ) -> pb.DeleteProjectVersionResponse:
        raise self.not_implemented("DeleteProjectVersion")

    async def copy_project_version(
        self, request: pb.CopyProjectVersionRequest, context: RequestContext
    ) -> pb.CopyProjectVersionResponse:
        raise self.not_implemented("CopyProjectVersion")

    async def create_dataset(
        self, request: pb.CreateDatasetRequest, context: RequestContext
    ) -> pb.CreateDatasetResponse:
        raise self.not_implemented("CreateDataset")

    async def describe_dataset(
        self, request: pb.DescribeDatasetRequest, context: RequestContext
    ) -> pb.DescribeDatasetResponse:
        raise self.not_implemented("DescribeDataset")

    async def delete_dataset(
        self, request: pb.DeleteDatasetRequest, context: RequestContext
    ) -> pb.DeleteDatasetResponse:
        raise self.not_implemented("DeleteDataset")

    async def list_dataset_entries(
        self, request: pb.ListDatasetEntriesRequest, context: RequestContext
    ) -> pb.ListDatasetEntriesResponse:
        raise self.not_implemented("ListDatasetEntries")

    async def list_dataset_labels(
        self, request: pb.ListDatasetLabelsRequest, context: RequestContext
    ) -> pb.ListDatasetLabelsResponse:
        raise self.not_implemented("ListDatasetLabels")

    async def update_dataset_entries(
        self, request: pb.UpdateDatasetEntriesRequest, context: RequestContext
    ) -> pb.UpdateDatasetEntriesResponse:
        raise self.not_implemented("UpdateDatasetEntries")

    async def distribute_dataset_entries(
        self, request: pb.DistributeDatasetEntriesRequest, context: RequestContext
    ) -> pb.DistributeDatasetEntriesResponse:
        raise self.not_implemented("DistributeDatasetEntries")

    async def detect_custom_labels(
        self, request: pb.DetectCustomLabelsRequest, context: RequestContext
    ) -> pb.DetectCustomLabelsResponse:
        raise self.not_implemented("DetectCustomLabels")

    async def put_project_policy(
        self, request: pb.PutProjectPolicyRequest, context: RequestContext
    ) -> pb.PutProjectPolicyResponse:
        raise self.not_implemented("PutProjectPolicy")

    async def list_project_policies(
        self, request: pb.ListProjectPoliciesRequest, context: RequestContext
    ) -> pb.ListProjectPoliciesResponse:
        raise self.not_implemented("ListProjectPolicies")

    async def delete_project_policy(
        self, request: pb.DeleteProjectPolicyRequest, context: RequestContext
    ) -> pb.DeleteProjectPolicyResponse:
        raise self.not_implemented("DeleteProjectPolicy")

    async def tag_resource(
        self, request: pb.TagResourceRequest, context: RequestContext
    ) -> pb.TagResourceResponse:
        raise self.not_implemented("TagResource")

    async def untag_resource(
        self, request: pb.UntagResourceRequest, context: RequestContext
    ) -> pb.UntagResourceResponse:
        raise self.not_implemented("UntagResource")

    async def list_tags_for_resource(
        self, request: pb.ListTagsForResourceRequest, context: RequestContext
    ) -> pb.ListTagsForResourceResponse:
        raise self.not_implemented("ListTagsForResource")

    def watch_project_version(
        self, request: pb.WatchProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.WatchProjectVersionResponse]:
        raise self.not_implemented("WatchProjectVersion")

    def export_project_version(
        self, request: pb.ExportProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.ExportProjectVersionResponse]:
        raise self.not_implemented("ExportProjectVersion")

    def get_inference_usage(
        self, request: pb.GetInferenceUsageRequest, context: RequestContext
    ) -> AsyncIterator[pb.GetInferenceUsageResponse]:
        raise self.not_implemented("GetInferenceUsage")


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed backends by name, from the `labelgate.backends` entry-point group."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=BACKEND_ENTRY_POINT_GROUP)}


def load_backend(name: str, config: Mapping[str, Any], *, data_dir: Path) -> Backend:
    """Instantiate the backend registered as `name` with its config table."""
    entry_points = available_backends()
    if name not in entry_points:
        known = ", ".join(sorted(entry_points)) or "none"
        raise ValueError(f"unknown backend {name!r} (installed: {known})")
    cls = entry_points[name].load()
    backend = cls.from_config(config, data_dir=data_dir)
    backend.name = name
    return backend
